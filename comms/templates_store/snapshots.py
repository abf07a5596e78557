"""Template versions in the database: each file's bytes once (by SHA-256), each version's file list.

A version is `comms.compose.versions.template_version` of the files: the same hash the ledger
records on every rendered row, so the row names exactly the files that made the letter.
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from comms.compose.versions import template_files, template_version
from comms.ledger.engine import WRITE_OPTION
from comms.models import Language
from comms.templates_store.schema import template_blobs, template_version_files, template_versions

TEXT_SUFFIXES = (".html", ".txt", ".css", ".toml")  # shown as line diffs to the approver
MIN_PREFIX_CHARS = 8  # a shorter version prefix is too likely to be ambiguous


class UnknownVersion(LookupError):
    """No stored version has this hash (or this prefix is ambiguous)."""


@dataclass(frozen=True)
class VersionInfo:
    """What a stored version is for, and when it was first stored."""

    version: str
    doc_type: str
    language: Language
    stored_at: datetime


@dataclass(frozen=True)
class Change:
    """One file that differs between two versions, with a line diff for text files."""

    path: str
    status: str  # "added", "removed" or "changed"
    diff: str


class Snapshots:
    """Stores and reads versions; every write is one short transaction."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime] | None = None) -> None:
        self._engine = engine
        self._writer = engine.execution_options(**{WRITE_OPTION: True})
        self._clock = clock or (lambda: datetime.now(UTC))

    def put(self, templates_dir: Path, language: Language, doc_type: str) -> str:
        """Stores the files that shape (language, type) in this folder; returns their version.

        Call it on a copy that nobody edits (publishing freezes the working copy first).
        """
        root = templates_dir.resolve()
        version = template_version(root, language, doc_type)
        files = {
            p.relative_to(root).as_posix(): p.read_bytes()
            for p in template_files(root, language, doc_type)
        }
        if not files:
            raise ValueError(f"no template files for {language.value}/{doc_type} in {root}")
        digests = {path: hashlib.sha256(data).hexdigest() for path, data in files.items()}
        for attempt in range(2):  # two publishers storing the same new file at once: retry once
            try:
                self._insert(version, language, doc_type, files, digests)
                break
            except IntegrityError:
                if attempt:
                    raise
        return version

    def _insert(
        self,
        version: str,
        language: Language,
        doc_type: str,
        files: dict[str, bytes],
        digests: dict[str, str],
    ) -> None:
        with self._writer.begin() as conn:
            known = conn.execute(
                sa.select(template_versions.c.version).where(template_versions.c.version == version)
            ).first()
            if known is not None:
                return
            wanted = set(digests.values())
            present = set(
                conn.execute(
                    sa.select(template_blobs.c.sha256).where(template_blobs.c.sha256.in_(wanted))
                ).scalars()
            )
            new_blobs = {digests[p]: files[p] for p in files if digests[p] not in present}
            if new_blobs:
                conn.execute(
                    template_blobs.insert(),
                    [{"sha256": sha, "content": data} for sha, data in new_blobs.items()],
                )
            conn.execute(
                template_versions.insert().values(
                    version=version,
                    doc_type=doc_type,
                    language=language.value,
                    stored_at=self._clock(),
                )
            )
            conn.execute(
                template_version_files.insert(),
                [{"version": version, "path": p, "blob_sha256": digests[p]} for p in sorted(files)],
            )

    def resolve(self, prefix: str) -> VersionInfo:
        """The version a full hash or an unambiguous prefix (at least 8 characters) names."""
        cleaned = prefix.strip().lower()
        if len(cleaned) < MIN_PREFIX_CHARS or not all(c in "0123456789abcdef" for c in cleaned):
            raise UnknownVersion(
                f"a version is a hexadecimal hash of at least {MIN_PREFIX_CHARS} characters"
            )
        with self._engine.connect() as conn:
            rows = conn.execute(
                sa.select(template_versions)
                .where(template_versions.c.version.startswith(cleaned))
                .limit(2)
            ).all()
        if len(rows) != 1:
            raise UnknownVersion(
                f"no stored version starts with {cleaned}"
                if not rows
                else f"{cleaned} names more than one version; give more characters"
            )
        row = rows[0]
        return VersionInfo(row.version, row.doc_type, Language(row.language), row.stored_at)

    def files(self, version: str) -> dict[str, bytes]:
        """Each file of the version by its path inside the templates folder."""
        query = (
            sa.select(template_version_files.c.path, template_blobs.c.content)
            .join(template_blobs, template_blobs.c.sha256 == template_version_files.c.blob_sha256)
            .where(template_version_files.c.version == version)
        )
        with self._engine.connect() as conn:
            found = {row.path: bytes(row.content) for row in conn.execute(query)}
        if not found:
            raise UnknownVersion(f"no stored version {version}")
        return found

    def changes(self, old: str | None, new: str) -> list[Change]:
        """What a version changes compared with another (or everything, for the first one)."""
        before = self.files(old) if old else {}
        after = self.files(new)
        out = []
        for path in sorted(set(before) | set(after)):
            a, b = before.get(path), after.get(path)
            if a == b:
                continue
            status = "added" if a is None else "removed" if b is None else "changed"
            out.append(Change(path, status, _diff(path, a or b"", b or b"")))
        return out


def _diff(path: str, before: bytes, after: bytes) -> str:
    if not path.endswith(TEXT_SUFFIXES):
        return f"(binary file, {len(before)} → {len(after)} bytes)"
    lines = difflib.unified_diff(
        before.decode("utf-8", "replace").splitlines(keepends=True),
        after.decode("utf-8", "replace").splitlines(keepends=True),
        fromfile=f"published/{path}",
        tofile=f"new/{path}",
    )
    return "".join(lines)
