"""Production refuses weak secrets and says how to make one; a missing eBox key is one line."""

from __future__ import annotations

import base64
import secrets
from pathlib import Path

import pytest
from pydantic import ValidationError

from comms.settings import load_settings
from tests.commands import Ran, comms, comms_process
from tests.service.conftest import redis_db, redis_url  # noqa: F401 - fixtures

SEAL_KEYS = f"2027a:{base64.b64encode(bytes(range(32))).decode()}"
WEAK = "Brussel-1000-weak"  # what someone types: short, and guessable
HOW = 'python3 -c "import secrets; print(secrets.token_urlsafe(32))"'


def _production(tmp_path: Path, **more: str) -> dict[str, str]:
    return {
        "COMMS_ENVIRONMENT": "production",
        "COMMS_DATABASE_URL": f"sqlite:///{tmp_path / 'prod.db'}",
        "COMMS_SEAL_KEYS": SEAL_KEYS,
        "COMMS_HMAC_SECRET": secrets.token_urlsafe(32),
        "COMMS_REDIS_URL": "redis://127.0.0.1:1/0",  # nothing listens: never the shared Redis
    } | more


@pytest.mark.parametrize(
    "secret",
    [
        "x",
        WEAK,
        "a" * 64,  # long, but one character
        secrets.token_hex(16),  # 16 random bytes: half of what is needed
        "correct horse battery staple " * 3,  # long, repeated words
        base64.b64encode(b"\0" * 32).decode(),  # the right length, no randomness
    ],
    ids=["one-char", "typed", "one-char-long", "16-bytes", "repeated-words", "zero-bytes"],
)
def test_weak_secrets_are_refused_in_production(tmp_path: Path, secret: str) -> None:
    with pytest.raises(ValidationError) as caught:
        load_settings(
            **{
                k.removeprefix("COMMS_").lower(): v
                for k, v in _production(tmp_path, COMMS_HMAC_SECRET=secret).items()
            }
        )
    # What `comms` prints of it (comms/cli/console.py, print_invalid): the messages, no input.
    message = " ".join(e["msg"] for e in caught.value.errors(include_input=False))
    assert "COMMS_HMAC_SECRET is too weak for production" in message and HOW in message
    assert secret not in message.replace(HOW, "")


@pytest.mark.parametrize(
    "secret",
    [
        secrets.token_urlsafe(32),
        secrets.token_hex(32),  # openssl rand -hex 32
        base64.b64encode(secrets.token_bytes(32)).decode(),  # openssl rand -base64 32
    ],
    ids=["token_urlsafe", "hex", "base64"],  # the values differ per xdist worker; ids may not
)
def test_secrets_of_32_random_bytes_are_taken(tmp_path: Path, secret: str) -> None:
    env = _production(tmp_path, COMMS_HMAC_SECRET=secret)
    settings = load_settings(**{k.removeprefix("COMMS_").lower(): v for k, v in env.items()})
    assert settings.hmac_secret.get_secret_value() == secret


def test_a_weak_secret_stops_a_command_in_one_line_without_its_value(tmp_path: Path) -> None:
    weak = _production(tmp_path, COMMS_HMAC_SECRET=WEAK)
    done = comms_process(tmp_path, "ledger", "verify", env=weak)
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0, done.stderr
    assert "COMMS_HMAC_SECRET is too weak for production" in done.stderr
    assert HOW in done.stderr and WEAK not in done.stdout + done.stderr
    strong = comms(
        tmp_path, "ledger", "verify", env=_production(tmp_path)
    )  # in-process: no start-up
    assert strong.returncode == 0, strong.stderr


@pytest.mark.timeout(900)  # a Redis test database may take minutes to free up on a shared host
@pytest.mark.parametrize("command", [("serve", "--port", "0"), ("worker", "--burst")])
def test_a_missing_ebox_key_is_reported_in_one_line(
    tmp_path: Path,
    command: tuple[str, ...],
    redis_url: str,  # noqa: F811 - our own Redis database: the worker checks Redis first
) -> None:
    def run(*args: str, env: dict[str, str]) -> Ran:
        """In this process: the start-up check comes before any server or Redis connection."""
        return comms(tmp_path, *args, env=env | {"COMMS_REDIS_URL": redis_url})

    # The real entry point once (its stderr is the one line); the other cases in-process.
    unset = comms_process(
        tmp_path, *command, env=_production(tmp_path) | {"COMMS_REDIS_URL": redis_url}
    )
    assert unset.returncode == 1
    assert unset.stderr.strip() == "COMMS_EBOX_PRIVATE_KEY_PATH must be set in production"
    gone = tmp_path / "keys" / "ebox.pem"
    absent = run(*command, env=_production(tmp_path, COMMS_EBOX_PRIVATE_KEY_PATH=str(gone)))
    assert absent.returncode == 1
    assert absent.stderr.strip() == (
        "COMMS_EBOX_PRIVATE_KEY_PATH: the file cannot be read (No such file or directory)"
    )
    gone.parent.mkdir()
    gone.write_text("not a key")
    garbled = run(*command, env=_production(tmp_path, COMMS_EBOX_PRIVATE_KEY_PATH=str(gone)))
    assert garbled.returncode == 1
    assert garbled.stderr.strip().startswith("COMMS_EBOX_PRIVATE_KEY_PATH: not a PEM private key")
