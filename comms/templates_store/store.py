"""The template store as one object: versions and publications in the database, trees on disk."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from sqlalchemy.engine import Engine

from comms.ledger import Ledger
from comms.ledger.engine import make_engine
from comms.settings import Settings
from comms.templates_store.publications import Publications
from comms.templates_store.snapshots import Snapshots
from comms.templates_store.trees import Trees


def cache_dir(settings: Settings) -> Path:
    """Where versions are rebuilt to render from; a cache, rebuilt from the database if lost."""
    return settings.template_cache_dir or settings.data_dir / "template-versions"


def renders_published(settings: Settings) -> bool:
    """Production renders only approved versions; elsewhere the working copy, unless told."""
    if settings.templates_source is not None:
        return settings.templates_source == "published"
    return settings.environment == "production"


@dataclass
class TemplateStore:
    """Stored versions, the trees built from them, and the publication requests and decisions."""

    engine: Engine
    snapshots: Snapshots
    trees: Trees
    publications: Publications

    @classmethod
    def open(cls, database_url: str, cache: Path) -> TemplateStore:
        return cls.over(make_engine(database_url), cache)

    @classmethod
    def over(cls, engine: Engine, cache: Path) -> TemplateStore:
        """On an engine already open and migrated (the app's ledger's): no second pool."""
        snapshots = Snapshots(engine)
        return cls(engine, snapshots, Trees(snapshots, cache), Publications(engine))

    @classmethod
    def from_settings(cls, settings: Settings) -> TemplateStore:
        """Migrates first (all heads: the store's tables are a branch of their own)."""
        with Ledger.from_settings(settings) as ledger:
            ledger.migrate()
        return cls.open(settings.effective_database_url, cache_dir(settings))

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> TemplateStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
