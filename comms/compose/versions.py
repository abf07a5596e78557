"""A template version is the SHA-256 of every file that can shape one (language, type) rendering."""

from __future__ import annotations

import hashlib
from pathlib import Path

from comms.models import Language


def template_files(templates_dir: Path, language: Language, doc_type: str) -> list[Path]:
    """The skeleton, the language's shared pieces and the type's own folder, in a stable order."""
    roots = [
        templates_dir / "shared",
        templates_dir / language.value / "_common",
        templates_dir / language.value / doc_type,
    ]
    files = [p for root in roots if root.is_dir() for p in root.rglob("*") if p.is_file()]
    fund = templates_dir / language.value / "fund.toml"
    if fund.is_file():
        files.append(fund)
    return sorted(files, key=lambda p: p.relative_to(templates_dir).as_posix())


def template_version(templates_dir: Path, language: Language, doc_type: str) -> str:
    """Hex digest over each file's relative path and bytes; any edit gives a new version."""
    digest = hashlib.sha256()
    for path in template_files(templates_dir, language, doc_type):
        digest.update(path.relative_to(templates_dir).as_posix().encode())
        digest.update(b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()
