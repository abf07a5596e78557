"""`comms webhooks run | list | dead | replay`: the dispatcher and the operator's dead letters."""

from __future__ import annotations

import asyncio
import signal
from typing import Annotated

import typer
from rich.table import Table

from comms.app import build_ledger, build_webhook_store
from comms.cli.console import console
from comms.logging import configure_logging
from comms.settings import Settings, load_settings
from comms.webhooks import WebhookStore
from comms.webhooks.dispatcher import HEARTBEAT, Dispatcher, DispatchTuning
from comms.webhooks.store import DEAD

cli = typer.Typer(help="Webhooks to upstream: the dispatcher, and dead letters to replay.")


def _open() -> tuple[Settings, WebhookStore]:
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    return settings, build_webhook_store(settings, build_ledger(settings))


def tuning(settings: Settings) -> DispatchTuning:
    return DispatchTuning(
        retry_schedule_s=tuple(settings.webhook_retry_schedule_s),
        timeout_s=settings.webhook_timeout_s,
        poll_s=settings.webhook_poll_s,
        batch=settings.webhook_batch,
        endpoints_at_once=settings.webhook_endpoints_at_once,
        in_flight_per_endpoint=settings.webhook_in_flight_per_endpoint,
        endpoints_per_producer_at_once=settings.webhook_producer_endpoints_at_once,
        allow_private_targets=settings.webhook_private_targets_allowed,
        keep_delivered_s=settings.webhook_keep_delivered_days * 86400.0,
    )


@cli.command()
def run() -> None:
    """Send state changes to the registered endpoints until stopped (SIGTERM or Ctrl-C)."""
    settings, store = _open()

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        dispatcher = Dispatcher(store, tuning(settings))
        try:
            await dispatcher.run(stop=stop, heartbeat=settings.data_dir / HEARTBEAT)
        finally:
            await dispatcher.close()

    asyncio.run(main())


@cli.command("list")
def list_endpoints() -> None:
    """Every registered endpoint, by producer."""
    _, store = _open()
    table = Table("id", "producer", "url", "types", "since", "disabled")
    for ep in store.endpoints():
        table.add_row(
            ep.id,
            ep.producer,
            ep.url,
            ", ".join(ep.types),
            ep.created_at.isoformat(timespec="seconds"),
            ep.disabled_at.isoformat(timespec="seconds") if ep.disabled_at else "",
        )
    console.print(table)


@cli.command()
def dead(
    endpoint: Annotated[str | None, typer.Option(help="Only this endpoint's.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 100,
) -> None:
    """Messages no attempt delivered in the whole retry schedule."""
    _, store = _open()
    found = store.messages(state=DEAD, endpoint_id=endpoint, limit=limit)
    for m in found:  # one line each, so an id can be copied whole into `replay --message`
        console.print(
            f"{m.id}  endpoint={m.endpoint_id} seq={m.seq} change={m.type}"
            f" attempts={m.attempts} last_error={m.last_error or '-'}",
            markup=False,
            soft_wrap=True,
        )
    console.print(f"{len(found)} dead letter(s)")


@cli.command()
def replay(
    endpoint: Annotated[str | None, typer.Option(help="Only this endpoint's dead letters.")] = None,
    message: Annotated[
        list[str] | None, typer.Option("--message", help="Only these messages; repeat.")
    ] = None,
    all_dead: Annotated[
        bool, typer.Option("--all", help="Every dead letter of every endpoint.")
    ] = False,
) -> None:
    """Dead letters back in the queue with a fresh retry schedule, in their original order."""
    if endpoint is None and not message and not all_dead:
        raise typer.BadParameter("name --endpoint, --message or --all")
    _, store = _open()
    count = store.replay(endpoint_id=endpoint, message_ids=message or ())
    console.print(f"{count} message(s) queued again; `comms webhooks run` sends them")
