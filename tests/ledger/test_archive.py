"""The archive keeps the exact bytes sent, under their SHA-256, and notices any change."""

from __future__ import annotations

import hashlib
import logging
import os
import stat
from pathlib import Path

import pytest

from comms.archive import Archive, ArchiveCorrupted

PDF = b"%PDF-1.7\n% a letter\n%%EOF\n"


def test_round_trip(tmp_path: Path) -> None:
    """A rendered PDF is stored once and read back byte for byte, under root/ab/cd/<sha>.pdf."""
    archive = Archive(tmp_path / "archive")
    sha = archive.put(PDF)

    assert sha == hashlib.sha256(PDF).hexdigest()
    assert archive.path(sha) == tmp_path / "archive" / sha[:2] / sha[2:4] / f"{sha}.pdf"
    assert archive.exists(sha) and archive.get(sha) == PDF
    assert not stat.S_IMODE(archive.path(sha).stat().st_mode) & 0o222  # read-only
    assert archive.put(PDF) == sha  # idempotent
    assert [p.name for p in archive.path(sha).parent.iterdir()] == [f"{sha}.pdf"]  # no temp left


def test_corruption_is_detected(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A byte changed on disk: reading fails loudly; storing the original again repairs it."""
    archive = Archive(tmp_path)
    sha = archive.put(PDF)
    path = archive.path(sha)
    os.chmod(path, 0o640)
    path.write_bytes(PDF.replace(b"letter", b"lettre"))
    caplog.set_level(logging.WARNING, logger="comms.archive")

    with pytest.raises(ArchiveCorrupted, match=sha):
        archive.get(sha)
    assert archive.put(PDF) == sha
    assert archive.get(sha) == PDF
    assert [r.getMessage() for r in caplog.records] == ["archive: replacing a corrupted copy"]


def test_unknown_and_malformed_hashes(tmp_path: Path) -> None:
    """Only a lowercase SHA-256 is a name: no path tricks, and a missing file says so."""
    archive = Archive(tmp_path)
    missing = "0" * 64
    assert not archive.exists(missing)
    with pytest.raises(FileNotFoundError):
        archive.get(missing)
    for bad in ("../../etc/passwd", "AB" * 32, "a" * 63):
        with pytest.raises(ValueError, match="SHA-256"):
            archive.path(bad)


def test_delete_for_purge(tmp_path: Path) -> None:
    """Purging a document after its retention period removes it; a second delete is a no-op."""
    archive = Archive(tmp_path)
    sha = archive.put(PDF)
    assert archive.delete(sha)
    assert not archive.exists(sha)
    assert not archive.delete(sha)
