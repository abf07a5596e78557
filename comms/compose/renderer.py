"""What the rest of the service asks of a composer: one event in, the frozen message out.

`Composer` (working templates) and `PublishedComposer` (the approved versions) both meet it; the
pipeline, the render processes and the worker's timing see only this.
"""

from __future__ import annotations

from datetime import date
from typing import Protocol

from comms.events import AnyEvent
from comms.models import Message


class Renderer(Protocol):
    """Renders `event` as it reads on `issued_on` (today when None), or raises RenderRefused."""

    def compose(self, event: AnyEvent, *, issued_on: date | None = None) -> Message: ...
