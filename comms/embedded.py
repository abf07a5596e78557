"""The embedded defaults: an SMTP sink and the eBox simulator on loopback, so one machine runs it all."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from channels.ebox_simulator import SimulatorServer, public_key_of
from channels.smtp_sink import SmtpSink
from comms.keys import ebox_private_key
from comms.settings import Settings


@dataclass(frozen=True)
class Embedded:
    """Where the stand-ins listen and keep what they received."""

    settings: Settings
    maildir: Path
    smtp: SmtpSink
    ebox: SimulatorServer


@contextmanager
def embedded_services(
    settings: Settings, *, no_digital_users: tuple[str, ...] = ()
) -> Iterator[Embedded]:
    """Starts the stand-ins and returns settings pointing the channels at them.

    `no_digital_users`: national or enterprise numbers the simulator answers NO_DIGITAL_USER for.
    """
    maildir = settings.data_dir / "outbox" / "email"
    public_pem = public_key_of(ebox_private_key(settings))
    simulator = SimulatorServer(
        client_id=settings.ebox_client_id,
        public_key_pem=public_pem,
        sender_enterprise_number=settings.ebox_sender_enterprise_number,
        no_digital_users=no_digital_users,
        api_version=settings.ebox_api_version,
    )
    with SmtpSink(maildir) as sink, simulator as ebox:
        yield Embedded(
            settings=settings.model_copy(
                update={
                    "smtp_host": sink.host,
                    "smtp_port": sink.port,
                    "ebox_base_url": ebox.registry_url,
                    "ebox_token_url": ebox.token_url,
                    "ebox_federation_url": ebox.federation_url,
                }
            ),
            maildir=maildir,
            smtp=sink,
            ebox=ebox,
        )
