"""The fund's eBox key, read once here for the composition root, the simulator and `comms ebox`."""

from __future__ import annotations

import contextlib
import os
import tempfile
from functools import cache
from pathlib import Path

from comms.errors import SettingsProblem
from comms.settings import Settings


def ebox_private_key(settings: Settings) -> bytes:
    """The fund's certificate key; in development a throwaway key kept under the data folder."""
    if settings.ebox_private_key_path is not None:
        try:
            return settings.ebox_private_key_path.read_bytes()
        except OSError as exc:
            raise SettingsProblem(
                f"COMMS_EBOX_PRIVATE_KEY_PATH: the file cannot be read ({exc.strerror})"
            ) from None
    if settings.environment == "production":
        raise SettingsProblem("COMMS_EBOX_PRIVATE_KEY_PATH must be set in production")
    path = settings.data_dir / "ebox-dev-key.pem"
    if not path.exists():
        _write_once(path, _throwaway_key())
    return path.read_bytes()


def _write_once(path: Path, content: bytes) -> None:
    """Writes `content` to `path` unless a process starting beside us did first.

    The file appears whole (linked from a finished private file), readable by its owner only, and
    the first writer wins: the API and a worker starting together end up with the same key.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, draft = tempfile.mkstemp(dir=path.parent, prefix=".key-")  # created 0600
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(content)
        with contextlib.suppress(FileExistsError):
            os.link(draft, path)
    finally:
        os.unlink(draft)


@cache
def _throwaway_key() -> bytes:
    """One development key per process: an RSA key takes a tenth of a second to make."""
    from channels.ebox_simulator import generate_key_pair

    return generate_key_pair()[0]
