"""Content-addressed store of the exact documents sent: the SHA-256 is the name and the proof."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
from pathlib import Path

from comms.errors import CommsError

log = logging.getLogger(__name__)

_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_FILE_MODE = 0o440  # archived documents are never rewritten in place
_SUFFIXES = (".pdf", ".json")  # letters, and the JSON of their email and eBox wrappings


class ArchiveCorrupted(CommsError):
    """A stored document no longer hashes to its name: it was altered; tell staff, never send it."""


class Archive:
    """Files under `root/ab/cd/<sha256>.pdf` (or `.json`), written atomically, re-verified on every read."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"Archive({str(self.root)!r})"

    def path(self, sha: str) -> Path:
        """Where the document with this hash lives (whether or not it is there)."""
        if not _SHA256_HEX.fullmatch(sha):
            raise ValueError("not a lowercase SHA-256 hex digest")
        folder = self.root / sha[0:2] / sha[2:4]
        for suffix in _SUFFIXES[1:]:
            if (candidate := folder / f"{sha}{suffix}").is_file():
                return candidate
        return folder / f"{sha}{_SUFFIXES[0]}"

    def exists(self, sha: str) -> bool:
        return self.path(sha).is_file()

    def put(self, data: bytes) -> str:
        """Stores the bytes once; storing them again is a no-op (after checking the copy held)."""
        sha = hashlib.sha256(data).hexdigest()
        suffix = _SUFFIXES[0] if data.startswith(b"%PDF") else _SUFFIXES[1]
        target = self.path(sha).with_suffix(suffix)
        if target.is_file():
            if _digest(target) == sha:
                return sha
            # We hold the right bytes: put them back, but leave a trace of the damage.
            log.warning("archive: replacing a corrupted copy", extra={"sha256": sha})
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=suffix)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(tmp, _FILE_MODE)
            os.replace(tmp, target)  # atomic: readers see no file or the whole file
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _fsync_dir(target.parent)
        return sha

    def get(self, sha: str) -> bytes:
        """The document's bytes, after checking they still hash to `sha`."""
        data = self.path(sha).read_bytes()
        if hashlib.sha256(data).hexdigest() != sha:
            raise ArchiveCorrupted(f"archived document {sha} does not match its hash")
        return data

    def delete(self, sha: str) -> bool:
        """Removes the document (purge after its retention period); False if it was not there."""
        try:
            self.path(sha).unlink()
        except FileNotFoundError:
            return False
        return True


def _digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as src:
        for block in iter(lambda: src.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync_dir(directory: Path) -> None:
    """Makes the rename itself durable (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
