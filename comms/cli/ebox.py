"""`comms ebox-simulator`: the eBox Message Registry stand-in on loopback, for demos and tests."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from comms.cli.console import console
from comms.keys import ebox_private_key
from comms.settings import load_settings

cli = typer.Typer()


@cli.command("ebox-simulator")
def ebox_simulator(
    port: Annotated[
        int, typer.Option(help="Port on 127.0.0.1 (the settings' default URLs).")
    ] = 8765,
    no_digital_user: Annotated[
        list[str] | None,
        typer.Option(help="A national or enterprise number answered NO_DIGITAL_USER (repeatable)."),
    ] = None,
) -> None:
    """Serve publication, status, preferences and /_sim controls until stopped (Ctrl-C).

    It accepts tokens signed with the key `comms` itself uses (COMMS_EBOX_PRIVATE_KEY_PATH, or the
    development key under the data folder), so the default settings talk to it as they are.
    """
    from channels.ebox_simulator import SimulatorServer, public_key_of  # only for this command

    settings = load_settings()
    server = SimulatorServer(
        port=port,
        client_id=settings.ebox_client_id,
        public_key_pem=public_key_of(ebox_private_key(settings)),
        sender_enterprise_number=settings.ebox_sender_enterprise_number,
        no_digital_users=no_digital_user or (),
        api_version=settings.ebox_api_version,
    )
    with server:
        console.print(f"eBox simulator on {server.base_url} (registry {server.registry_url})")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            console.print("stopped")
