"""Cheap stand-ins for orchestration tests: a PDF maker that skips WeasyPrint, an app on recording channels.

The real engine is tested where its output is read (tests/compose, the template check, the
end-to-end pipeline test, compliance): elsewhere a letter's PDF only has to exist, be the same
for the same letter and differ between letters.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

from pypdf import PdfWriter

from channels.base import Outgoing
from channels.memory import MemoryChannel
from comms.app import App, build_app
from comms.models import ChannelName
from comms.runner import RetryPolicy
from comms.settings import Settings

A4_POINTS = (595, 842)


class StubPdf:
    """One blank A4 page per letter, its metadata naming the hash of the HTML it stands for."""

    def __init__(self) -> None:
        self.made = 0  # how many letters went through it (so a test can see it was used)

    def render(self, html: str) -> tuple[bytes, int]:
        writer = PdfWriter()
        writer.add_blank_page(*A4_POINTS)
        writer.add_metadata({"/Subject": hashlib.sha256(html.encode()).hexdigest()})
        buffer = io.BytesIO()
        writer.write(buffer)
        self.made += 1
        return buffer.getvalue(), 1


@dataclass
class Recording:
    """The whole app (real ledger, archive, templates, routing) over recording channels."""

    app: App
    channels: dict[ChannelName, MemoryChannel]
    pdf: StubPdf

    def sent(self, channel: ChannelName) -> list[Outgoing]:
        return self.channels[channel].sent

    def sent_anywhere(self) -> list[Outgoing]:
        return [o for c in self.channels.values() for o in c.sent]


def recording_app(settings: Settings) -> Recording:
    """`build_app` with a MemoryChannel per channel and StubPdf; open it with `async with`."""
    channels = {name: MemoryChannel(name.value) for name in ChannelName}
    pdf = StubPdf()
    app = build_app(settings, channels=channels, pdf=pdf)
    app.runner.policy = RetryPolicy(base_s=0.0, max_delay_s=0.0, attempts=3)  # no waiting
    return Recording(app, channels, pdf)
