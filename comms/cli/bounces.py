"""`comms bounces import PATH… | serve`: what comes back to the bounce address, into the ledger."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Annotated

import typer

from channels.bounce_server import BounceServer
from comms import tracking
from comms.app import build_app
from comms.cli.console import console
from comms.cli.post import report
from comms.settings import load_settings

cli = typer.Typer(help="Email bounces: DSNs mark deliveries bounced and send the letter by post.")


@cli.command("import")
def import_(
    paths: Annotated[
        list[Path],
        typer.Argument(exists=True, help="Maildir folders, mbox files, .eml files or folders."),
    ],
) -> None:
    """Classify every message (bounce, delay, auto-reply, other) and apply the hard bounces."""

    async def go() -> tracking.Summary:
        async with build_app(load_settings()) as app:
            return await tracking.import_bounces(app, paths)

    summary = asyncio.run(go())
    # Messages that are neither DSNs nor auto-replies are for a person to read: listed, exit 2.
    raise typer.Exit(report(summary))


@cli.command("serve")
def serve(
    host: Annotated[
        str | None, typer.Option(help="Listen address (COMMS_BOUNCE_LISTEN_HOST).")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Listen port (COMMS_BOUNCE_LISTEN_PORT).")
    ] = None,
) -> None:
    """Receive bounces over SMTP until stopped; each is recorded before the server answers 250."""
    settings = load_settings()

    async def go() -> None:
        async with build_app(settings) as app:

            async def on_message(raw: bytes) -> None:
                await tracking.handle_bounce(app, raw)

            server = BounceServer(
                on_message,
                host=host or settings.bounce_listen_host,
                port=settings.bounce_listen_port if port is None else port,
                accept=settings.bounce_accept,
                max_message_bytes=settings.bounce_max_message_bytes,
            )
            async with server:
                console.print(f"Receiving bounces on {server.host}:{server.port} (Ctrl-C stops)")
                await server.serve_forever()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(go())
