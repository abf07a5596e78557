"""Published templates: versions stored by hash, publication with a second person's approval (issue 6)."""

from comms.templates_store.publications import (
    Item,
    Publication,
    Publications,
    PublishingRefused,
    State,
)
from comms.templates_store.snapshots import Change, Snapshots, UnknownVersion, VersionInfo
from comms.templates_store.store import TemplateStore, cache_dir, renders_published
from comms.templates_store.trees import CorruptVersion, Trees

__all__ = [
    "Change",
    "CorruptVersion",
    "Item",
    "Publication",
    "Publications",
    "PublishingRefused",
    "Snapshots",
    "State",
    "TemplateStore",
    "Trees",
    "UnknownVersion",
    "VersionInfo",
    "cache_dir",
    "renders_published",
]
