"""Renders each letter from the last approved version of its type and language.

The working copy staff edit never reaches a member: a version does, once a second person has
approved it. A (type, language) with no approved version is refused, never rendered otherwise.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from datetime import date

from comms.compose import Composer, Rendered, WindowLayout
from comms.compose.pdf import PdfMaker
from comms.errors import MissingTemplate
from comms.events import AnyEvent
from comms.models import Language, Message
from comms.templates_store.store import TemplateStore

LIVE_LOOKUP_TTL_S = 5.0  # an approval reaches every worker within this long
KEPT_COMPOSERS = 32  # compiled versions kept in memory: a few types × languages × recent versions


class PublishedComposer:
    """A `Renderer` that hands each letter to the Composer of the version live for it."""

    def __init__(
        self, store: TemplateStore, layout: WindowLayout, *, pdf: PdfMaker | None = None
    ) -> None:
        self._store = store
        self._layout = layout
        self._pdf = pdf
        self._live: dict[tuple[str, Language], str] = {}
        self._live_at = -LIVE_LOOKUP_TTL_S
        self._composers: OrderedDict[str, Composer] = OrderedDict()
        self._guard = threading.Lock()

    def compose(self, event: AnyEvent, *, issued_on: date | None = None) -> Message:
        return self._composer(event).compose(event, issued_on=issued_on)

    def render_texts(self, event: AnyEvent, *, issued_on: date | None = None) -> Rendered:
        return self._composer(event).render_texts(event, issued_on=issued_on)

    def _composer(self, event: AnyEvent) -> Composer:
        version = self._live_version(event.type, event.recipient.language)
        with self._guard:
            if version in self._composers:
                self._composers.move_to_end(version)
                return self._composers[version]
        tree = self._store.trees.tree(self._store.snapshots.resolve(version))
        composer = Composer(tree, self._layout, pdf=self._pdf)
        with self._guard:
            self._composers[version] = composer
            while len(self._composers) > KEPT_COMPOSERS:
                self._composers.popitem(last=False)
        return composer

    def _live_version(self, doc_type: str, language: Language) -> str:
        with self._guard:
            now = time.monotonic()
            if now - self._live_at >= LIVE_LOOKUP_TTL_S:
                self._live = self._store.publications.live_versions()
                self._live_at = now
            version = self._live.get((doc_type, language))
        if version is None:
            raise MissingTemplate(
                f"no approved version of the {language.value} {doc_type} templates: staff publish "
                "them (comms templates publish) and a second person approves",
                template=f"{language.value}/{doc_type}",
            )
        return version
