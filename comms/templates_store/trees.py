"""Stored versions written back to folders: a local cache to render from, or an export for compliance."""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from pathlib import Path

from comms.compose.versions import template_version
from comms.templates_store.snapshots import Snapshots, VersionInfo


class CorruptVersion(RuntimeError):
    """The files rebuilt from the database do not hash to the version: never render from them."""


def write_files(files: dict[str, bytes], dest: Path) -> None:
    """Writes each file under `dest`, refusing paths that would leave it."""
    root = dest.resolve()
    for path, data in files.items():
        target = (root / path).resolve()
        if not target.is_relative_to(root):
            raise CorruptVersion(f"a stored path leaves the folder: {path}")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


class Trees:
    """One folder per version under `cache_dir`, built once, checked against its hash when built."""

    def __init__(self, snapshots: Snapshots, cache_dir: Path) -> None:
        self._snapshots = snapshots
        self.cache_dir = cache_dir
        self._lock = threading.Lock()

    def tree(self, info: VersionInfo) -> Path:
        """The folder holding exactly this version's files (a templates folder of its own)."""
        final = self.cache_dir / info.version
        if final.is_dir():
            return final
        with self._lock:
            if final.is_dir():
                return final
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            building = Path(tempfile.mkdtemp(prefix=".building-", dir=self.cache_dir))
            try:
                write_files(self._snapshots.files(info.version), building)
                rebuilt = template_version(building, info.language, info.doc_type)
                if rebuilt != info.version:
                    raise CorruptVersion(
                        f"stored files of {info.version} hash to {rebuilt}; the store is damaged"
                    )
                try:
                    os.rename(building, final)  # atomic: a half-written tree is never seen
                except OSError:
                    if not final.is_dir():  # another process won the race: use theirs
                        raise
            finally:
                shutil.rmtree(building, ignore_errors=True)
        return final

    def export(self, info: VersionInfo, dest: Path) -> list[str]:
        """Writes the version's files into an empty or new folder; returns their paths."""
        if dest.exists() and any(dest.iterdir()):
            raise FileExistsError(f"{dest} is not empty; give a new or empty folder")
        files = self._snapshots.files(info.version)
        dest.mkdir(parents=True, exist_ok=True)
        write_files(files, dest)
        if template_version(dest, info.language, info.doc_type) != info.version:
            raise CorruptVersion(f"stored files of {info.version} do not hash to it")
        return sorted(files)
