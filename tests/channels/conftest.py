"""Fixtures for the channel tests: a tiny real PDF, a ready Outgoing, and the loopback servers."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfWriter

from channels.base import Attachment, ChannelAddress, Outgoing
from channels.ebox import EboxChannel
from channels.ebox_simulator import SimulatorServer, create_app, generate_key_pair
from channels.smtp_sink import SmtpSink
from tests.net import HTTP

# Valid identifiers only (domain §1): the numbers printed in the eBox documentation fail mod 97.
SSIN_19XX = "85073003328"
SSIN_20XX = "01010122296"
KBO_FUND = "0406798006"
KBO_CLIENT = "0852093431"
EBOX_CLIENT_ID = "comms-test"


def make_pdf(pages: int = 1) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=595, height=842)  # A4 in points
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


@pytest.fixture
def pdf() -> bytes:
    return make_pdf(2)


@pytest.fixture
def pdf_factory() -> Callable[[int], bytes]:
    return make_pdf


@pytest.fixture
def make_outgoing(pdf: bytes) -> Callable[..., Outgoing]:
    """Builds an Outgoing for a made-up self-employed person; keyword overrides replace fields."""

    def build(*, to: dict[str, Any] | None = None, **overrides: Any) -> Outgoing:
        address = ChannelAddress(
            label="Anna Peeters",
            email="anna.peeters@example.be",
            ebox_type="citizen",
            ebox_id=SSIN_19XX,
            postal_lines=("Anna Peeters", "Kerkstraat 12 bus 3", "2000 Antwerpen"),
            postcode="2000",
        )
        outgoing = Outgoing(
            communication_id="c0ffee0123456789",
            language="nl",
            subject="Vervaldagbericht sociale bijdragen 1e kwartaal 2027",
            text="Beste,\n\nIn bijlage vindt u uw vervaldagbericht.\n",
            html="<p>Beste,</p><p>In bijlage vindt u uw vervaldagbericht.</p>",
            document=Attachment("vervaldagbericht.pdf", pdf),
            to=replace(address, **(to or {})),
        )
        return replace(outgoing, **overrides)

    return build


@pytest.fixture
def smtp_sink(tmp_path: Path) -> Iterator[SmtpSink]:
    with SmtpSink(tmp_path / "maildir") as sink:
        yield sink


@pytest.fixture(scope="session")
def ebox_keys() -> tuple[bytes, bytes]:
    return generate_key_pair()


@pytest.fixture(scope="session")
def ebox_server(ebox_keys: tuple[bytes, bytes]) -> Iterator[SimulatorServer]:
    """One simulator for the session; `ebox_sim` resets it before each test."""
    app = create_app(
        client_id=EBOX_CLIENT_ID,
        public_key_pem=ebox_keys[1],
        sender_enterprise_number=KBO_FUND,
        no_digital_users={SSIN_20XX},
        preferences={
            KBO_CLIENT: {"exclusivelyEbox": True, "lastConnectionDate": "2027-01-15T08:30:00Z"}
        },
    )
    with SimulatorServer(app) as server:
        yield server


@pytest.fixture
def ebox_sim(ebox_server: SimulatorServer) -> SimulatorServer:
    HTTP.post(ebox_server.base_url + "/_sim/reset").raise_for_status()
    return ebox_server


@pytest.fixture
def make_ebox(
    ebox_sim: SimulatorServer, ebox_keys: tuple[bytes, bytes]
) -> Callable[..., EboxChannel]:
    def build(**overrides: Any) -> EboxChannel:
        options: dict[str, Any] = {
            "base_url": ebox_sim.registry_url,
            "token_url": ebox_sim.token_url,
            "federation_url": ebox_sim.federation_url,
            "client_id": EBOX_CLIENT_ID,
            "private_key_pem": ebox_keys[0],
            "sender_enterprise_number": KBO_FUND,
            "message_type_id": "dev-message-type",
            "sender_application_id": "dev-sender-application",
            "timeout_s": 5.0,
        }
        options.update(overrides)
        return EboxChannel(**options)

    return build


@pytest.fixture
async def ebox(make_ebox: Callable[..., EboxChannel]) -> AsyncIterator[EboxChannel]:
    async with make_ebox() as channel:
        yield channel
