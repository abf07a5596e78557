"""Render and send latency for Prometheus, measured around the composer and each channel.

The pipeline stays free of metrics: the worker hands it a timed composer and timed channels.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import date

from channels.base import BaseChannel, Channel, Outgoing, PermanentError, Receipt, TransientError
from comms.compose.renderer import Renderer
from comms.events import AnyEvent
from comms.models import ChannelName, Message
from comms.observability import RENDER_SECONDS, SEND_SECONDS, type_label


class TimedChannel(BaseChannel):
    """A channel whose every send is timed, labelled by how it ended."""

    def __init__(self, inner: Channel) -> None:
        self.inner = inner
        self.name = inner.name

    async def open(self) -> None:
        await self.inner.open()

    async def close(self) -> None:
        await self.inner.close()

    async def send(self, outgoing: Outgoing) -> Receipt:
        start = time.perf_counter()
        outcome = "error"
        try:
            receipt = await self.inner.send(outgoing)
            outcome = receipt.outcome
            return receipt
        except TransientError:
            outcome = "transient"
            raise
        except PermanentError:
            outcome = "permanent"
            raise
        finally:
            SEND_SECONDS.labels(self.name, outcome).observe(time.perf_counter() - start)


class _SerialTimedComposer:
    """The composer with `compose` timed and one at a time.

    One at a time: two threads laying out with the shared FontConfiguration hang in Pango (seen:
    a thread stuck in `Layout.get_first_line` after a pango_font_metrics assertion). Rendering is
    CPU-bound under the GIL anyway: processes, not threads, are how rendering scales.
    """

    def __init__(self, inner: Renderer) -> None:
        self._inner = inner
        self._one_at_a_time = threading.Lock()

    def compose(self, event: AnyEvent, *, issued_on: date | None = None) -> Message:
        with self._one_at_a_time:
            start = time.perf_counter()
            try:
                return self._inner.compose(event, issued_on=issued_on)
            finally:
                RENDER_SECONDS.labels(type_label(event.type)).observe(time.perf_counter() - start)


def timed_render(
    render: Callable[[AnyEvent, date | None], Awaitable[Message]],
) -> Callable[[AnyEvent, date | None], Awaitable[Message]]:
    """A render that happens elsewhere (the warm render processes), timed like the composer."""

    async def timed(event: AnyEvent, issued_on: date | None) -> Message:
        start = time.perf_counter()
        try:
            return await render(event, issued_on)
        finally:
            RENDER_SECONDS.labels(type_label(event.type)).observe(time.perf_counter() - start)

    return timed


def timed_composer(composer: Renderer) -> Renderer:
    """The in-process composer the worker hands the pipeline: timed, one render at a time."""
    return _SerialTimedComposer(composer)


def timed_channels(channels: Mapping[ChannelName, Channel]) -> dict[ChannelName, Channel]:
    return {name: TimedChannel(channel) for name, channel in channels.items()}
