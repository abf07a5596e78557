"""The composition root: builds settings, ledger, archive, composer, router, channels and the
channels' feedback sources once.

The only core module that picks concrete channel classes (DESIGN.md; `pyproject.toml`'s contracts).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property
from pathlib import Path
from types import TracebackType
from typing import Self

from cryptography.exceptions import UnsupportedAlgorithm

from channels.base import Channel, PreferencesLookup, ReadStatusSource
from channels.bounces import BounceMailbox
from channels.ebox import EboxChannel
from channels.email import EmailChannel
from channels.post import PostChannel
from channels.post_batch import Envelope, PrintBatcher
from channels.post_feedback import PrintShopFiles
from comms.archive import Archive
from comms.compose import Composer, WindowLayout
from comms.compose.pdf import PdfMaker
from comms.compose.renderer import Renderer
from comms.errors import SettingsProblem
from comms.events import AnyEvent
from comms.keys import ebox_private_key
from comms.ledger import Ledger
from comms.models import ChannelName, Message
from comms.notification import NotificationPolicy, policy_from_settings
from comms.pipeline import Pipeline, Services
from comms.routing import LookedUpFacts, Router
from comms.runner import Runner
from comms.settings import Settings
from comms.templates_store import TemplateStore, cache_dir, renders_published
from comms.templates_store.published import PublishedComposer
from comms.tracking import FeedbackSources
from comms.webhooks import WebhookStore


@dataclass
class App:
    """Everything one process needs, opened once and closed once."""

    settings: Settings
    ledger: Ledger
    archive: Archive
    composer: Renderer
    router: Router
    channels: Mapping[ChannelName, Channel]
    feedback: FeedbackSources  # what tracking reads back: bounces, read statuses, print shop
    pdf: PdfMaker | None = None  # None: WeasyPrint; composers built later (the studio's) use it too
    # Renders elsewhere (the worker's warm render processes); None: `composer` in a thread.
    render: Callable[[AnyEvent, date | None], Awaitable[Message]] | None = None
    pipeline: Pipeline = field(init=False)
    runner: Runner = field(init=False)  # in process: the CLI, the demo; the worker has its own

    def __post_init__(self) -> None:
        self.pipeline = Pipeline(
            Services(
                ledger=self.ledger,
                archive=self.archive,
                composer=self.composer,
                router=self.router,
                channels=self.channels,
                render=self.render,
            )
        )
        self.runner = Runner(self.pipeline)

    @cached_property
    def webhooks(self) -> WebhookStore:
        """Webhook endpoints, their outbox and the change feed (issue 18), made on first use."""
        return build_webhook_store(self.settings, self.ledger, self.notification)

    @cached_property
    def notification(self) -> NotificationPolicy:
        """When a communication counts as notified (docs/notification.md)."""
        return policy_from_settings(self.settings)

    async def __aenter__(self) -> Self:
        for channel in self.channels.values():
            await channel.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for channel in self.channels.values():
            await channel.close()
        self.ledger.close()  # its pooled connections; the engine reopens if used again


def build_composer(
    settings: Settings, *, pdf: PdfMaker | None = None, ledger: Ledger | None = None
) -> Composer | PublishedComposer:
    """What members' letters are rendered with: in production, approved versions only (issue 6).

    With the app's `ledger`, the template store shares its engine, migrated once already.
    """
    if renders_published(settings):
        layout = WindowLayout.from_settings(settings)
        store = (
            TemplateStore.over(ledger.engine, cache_dir(settings))
            if ledger is not None
            else TemplateStore.from_settings(settings)
        )
        return PublishedComposer(store, layout, pdf=pdf)
    return working_composer(settings, pdf=pdf)


def working_composer(
    settings: Settings, *, templates_dir: Path | None = None, pdf: PdfMaker | None = None
) -> Composer:
    """The templates as they are on disk, whatever the service renders from: studio and checks."""
    folder = templates_dir if templates_dir is not None else settings.templates_dir
    return Composer(folder, WindowLayout.from_settings(settings), pdf=pdf)


def build_webhook_store(
    settings: Settings, ledger: Ledger, notification: NotificationPolicy | None = None
) -> WebhookStore:
    """Over the ledger's engine and Sealer; the app hands in its own notification policy."""
    policy = notification if notification is not None else policy_from_settings(settings)
    return WebhookStore(ledger.engine, ledger.sealer, policy)


def build_ledger(settings: Settings, *, clock: Callable[[], datetime] | None = None) -> Ledger:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    ledger = Ledger.from_settings(settings, clock=clock)
    ledger.migrate()
    return ledger


def build_channels(settings: Settings) -> dict[ChannelName, Channel]:
    password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
    return {
        ChannelName.EMAIL: EmailChannel(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.email_from,
            message_id_domain=settings.email_domain,
            username=settings.smtp_username,
            password=password,
            starttls=settings.smtp_starttls,
            implicit_tls=settings.smtp_implicit_tls,
            timeout_s=settings.smtp_timeout_s,
            pool_size=settings.smtp_pool_size,
            envelope_sender=settings.smtp_envelope_from,
            validate_certs=settings.smtp_validate_certs,
        ),
        ChannelName.EBOX: _ebox_channel(settings),
        ChannelName.POST: PostChannel(outbox_dir=settings.post_dir),
    }


def _ebox_channel(settings: Settings) -> EboxChannel:
    try:
        return EboxChannel(
            base_url=settings.ebox_base_url,
            token_url=settings.ebox_token_url,
            client_id=settings.ebox_client_id,
            private_key_pem=ebox_private_key(settings),
            sender_enterprise_number=settings.ebox_sender_enterprise_number,
            message_type_id=settings.ebox_message_type_id,
            sender_application_id=settings.ebox_sender_application_id,
            federation_url=settings.ebox_federation_url,
            api_version=settings.ebox_api_version,
            timeout_s=settings.ebox_timeout_s,
            key_id=settings.ebox_key_id,
            private_key_password=(
                settings.ebox_private_key_password.get_secret_value().encode()
                if settings.ebox_private_key_password
                else None
            ),
        )
    except (ValueError, TypeError, UnsupportedAlgorithm):  # what loading the key raises
        raise SettingsProblem(
            "COMMS_EBOX_PRIVATE_KEY_PATH: not a PEM private key, or"
            " COMMS_EBOX_PRIVATE_KEY_PASSWORD does not open it"
        ) from None


def build_print_batcher(settings: Settings) -> PrintBatcher:
    """Cuts the post outbox into print batches (channels.post_batch) as the print shop wants them."""
    try:
        return PrintBatcher(
            settings.post_dir,
            duplex=settings.post_duplex,
            max_letters=settings.post_batch_max_letters,
            envelopes=[Envelope(name, most) for name, most in settings.post_envelopes.items()],
        )
    except ValueError as exc:  # built with the app: every process stops on it, naming the setting
        raise SettingsProblem(
            f"COMMS_POST_ENVELOPES or COMMS_POST_BATCH_MAX_LETTERS: {exc}"
        ) from None


def build_feedback(settings: Settings, channels: Mapping[ChannelName, Channel]) -> FeedbackSources:
    """The concrete feedback adapters tracking reads: the bounce mailbox, the print shop's files
    and batches, and the eBox channel's read statuses when that channel offers them."""
    batcher = build_print_batcher(settings)
    ebox = channels.get(ChannelName.EBOX)
    return FeedbackSources(
        bounces=BounceMailbox(message_id_domain=settings.email_domain),
        print_shop=PrintShopFiles(batcher),
        print_batches=batcher,
        read_statuses=ebox if isinstance(ebox, ReadStatusSource) else None,
    )


def build_router(
    settings: Settings, ledger: Ledger, channels: Mapping[ChannelName, Channel]
) -> Router:
    """The routing policy, with what it looks up: flagged addresses, company eBox preferences."""
    ebox = channels.get(ChannelName.EBOX)
    lookup = ebox if isinstance(ebox, PreferencesLookup) else None
    facts = LookedUpFacts(
        find_evidence=ledger.find_by_evidence,
        secret=settings.hmac_secret.get_secret_value().encode("utf-8"),
        preferences=lookup if settings.ebox_federation_url else None,
        ttl_s=settings.ebox_preferences_ttl_s,
        timeout_s=settings.ebox_preferences_timeout_s,
    )
    return Router.from_file(settings.routing_policy, facts=facts)


def build_app(
    settings: Settings,
    *,
    channels: Mapping[ChannelName, Channel] | None = None,
    pdf: PdfMaker | None = None,
    composer: Renderer | None = None,
    render: Callable[[AnyEvent, date | None], Awaitable[Message]] | None = None,
    lookups: Mapping[ChannelName, Channel] | None = None,
    wrap_composer: Callable[[Renderer], Renderer] | None = None,
    clock: Callable[[], datetime] | None = None,
) -> App:
    """One call builds the whole service; the worker and tests may hand in their own parts.

    `lookups`: the adapters themselves, asked for eBox preferences and read statuses, where
    `channels` wraps them (the worker's timed channels); by default `channels`.
    `wrap_composer`: wraps the composer built here (the worker times it), which shares the
    ledger's database and its one migration with the template store.
    """
    ledger = build_ledger(settings, clock=clock)
    channels = channels if channels is not None else build_channels(settings)
    lookups = lookups if lookups is not None else channels
    if composer is None:
        composer = build_composer(settings, pdf=pdf, ledger=ledger)
    if wrap_composer is not None:
        composer = wrap_composer(composer)
    return App(
        settings=settings,
        ledger=ledger,
        archive=Archive(settings.archive_dir),
        composer=composer,
        router=build_router(settings, ledger, lookups),
        channels=channels,
        feedback=build_feedback(settings, lookups),
        pdf=pdf,
        render=render,
    )
