"""The fund's eBox key, read once here for the composition root, the simulator and `comms ebox`."""

from __future__ import annotations

from functools import cache

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
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(_throwaway_key())
        path.chmod(0o600)
    return path.read_bytes()


@cache
def _throwaway_key() -> bytes:
    """One development key per process: an RSA key takes a tenth of a second to make."""
    from channels.ebox_simulator import generate_key_pair

    return generate_key_pair()[0]
