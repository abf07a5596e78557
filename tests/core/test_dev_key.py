"""The development eBox key: private to its owner, written whole, and kept once it exists."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from comms import keys
from comms.keys import ebox_private_key
from comms.settings import load_settings


def test_the_development_key_is_private_written_whole_and_kept(tmp_path: Path) -> None:
    settings = load_settings(environment="test", data_dir=tmp_path / "var")
    key = ebox_private_key(settings)
    path = tmp_path / "var" / "ebox-dev-key.pem"
    assert key.startswith(b"-----BEGIN PRIVATE KEY-----") and path.read_bytes() == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no draft left behind
    assert ebox_private_key(settings) == key

    other = load_settings(environment="test", data_dir=tmp_path / "other")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "ebox-dev-key.pem").write_bytes(b"a key already there")
    assert ebox_private_key(other) == b"a key already there"


def test_a_process_that_finds_no_key_but_loses_the_race_keeps_the_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The API and a worker start together on a new data folder: both see no key, one writes first."""
    settings = load_settings(environment="test", data_dir=tmp_path / "var")
    first = ebox_private_key(settings)
    monkeypatch.setattr(Path, "exists", lambda self: False)  # it looked before the other wrote
    monkeypatch.setattr(keys, "_throwaway_key", lambda: b"a key made a moment later")
    assert ebox_private_key(settings) == first
    assert [p.name for p in (tmp_path / "var").iterdir()] == ["ebox-dev-key.pem"]
