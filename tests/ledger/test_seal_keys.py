"""Seal-key rotation: old rows still open, a reseal moves them to the new key, the chain holds."""

from __future__ import annotations

import base64
import secrets

import pytest
import sqlalchemy as sa

from comms.errors import FieldError
from comms.ledger import Ledger, SnapshotMismatch, UnknownSealKey
from comms.ledger.privacy import fingerprint
from comms.ledger.schema import events, rejections
from comms.settings import load_settings, parse_seal_keys
from tests.ledger.helpers import PERSON, SECRET, accept

OLD = ("2026a", secrets.token_bytes(32))
NEW = ("2027a", secrets.token_bytes(32))
OLD_NAME = f"2026a:{fingerprint(OLD[1])}"  # how the census names a key: id and fingerprint
NEW_NAME = f"2027a:{fingerprint(NEW[1])}"
SNAPSHOTS = 7


def _fill(ledger: Ledger, prefix: str) -> None:
    for n in range(SNAPSHOTS):
        accept(ledger, f"{prefix}-{n:04d}", dossier=f"D-{prefix}-{n}")
    ledger.reject(
        source="api",
        raw=f'{{"event_id": "{prefix}-bad", "national_number": "{PERSON}"}}',
        errors=[FieldError("type", "Field required")],
        event_id=f"{prefix}-bad",
    )


def _sealed_texts(ledger: Ledger) -> list[str]:
    with ledger.engine.connect() as conn:
        texts = [*conn.execute(sa.select(events.c.snapshot)).scalars()]
        texts += [*conn.execute(sa.select(rejections.c.raw)).scalars()]
    return [t for t in texts if t is not None]


def _everything_opens(ledger: Ledger, prefixes: tuple[str, ...]) -> None:
    for prefix in prefixes:
        for n in range(SNAPSHOTS):
            assert PERSON in (ledger.event_snapshot(f"{prefix}-{n:04d}") or "")
    assert all(PERSON in (r.raw or "") for r in ledger.rejections(limit=10))


def test_a_rotated_key_reseals_every_row_and_the_old_key_can_go(db_url: str) -> None:
    with Ledger(db_url, SECRET) as first:  # no key configured: the derived key, as before
        first.migrate()
        _fill(first, "derived")
        assert first.seal_census().snapshots == {"derived": SNAPSHOTS}
    with Ledger(db_url, SECRET, seal_keys=[OLD]) as second:
        _fill(second, "old")
        _everything_opens(second, ("derived", "old"))
        census = second.seal_census()
        assert census.snapshots == {"derived": SNAPSHOTS, OLD_NAME: SNAPSHOTS}
        assert census.rejections == {"derived": 1, OLD_NAME: 1}

    with Ledger(db_url, SECRET, seal_keys=[NEW, OLD]) as rotated:
        _fill(rotated, "new")  # new rows take the first key at once
        dry = rotated.reseal(dry_run=True)
        assert (dry.snapshots, dry.rejections) == (2 * SNAPSHOTS, 2)
        assert rotated.seal_census().snapshots[NEW_NAME] == SNAPSHOTS  # a dry run changes nothing
        report = rotated.reseal()
        assert report.current_key == NEW_NAME
        assert (report.snapshots, report.rejections) == (2 * SNAPSHOTS, 2)
        assert rotated.seal_census().snapshots == {NEW_NAME: 3 * SNAPSHOTS}
        assert rotated.reseal().snapshots == 0  # nothing left to do
        assert rotated.verify().ok  # the chain covers the plain event, not its ciphertext

    with Ledger(db_url, SECRET, seal_keys=[NEW]) as retired:  # the old key is gone
        _everything_opens(retired, ("derived", "old", "new"))
        texts = _sealed_texts(retired)
        assert len(texts) == 3 * SNAPSHOTS + 3
        assert all(t.startswith("v2.2027a.") and PERSON not in t for t in texts)


def test_a_row_sealed_with_a_key_no_longer_configured_is_named_not_guessed(db_url: str) -> None:
    with Ledger(db_url, SECRET, seal_keys=[OLD]) as old:
        old.migrate()
        accept(old, "evt-lost-0001")
    with Ledger(db_url, SECRET, seal_keys=[NEW]) as new:
        with pytest.raises(ValueError, match=r"evt-lost-0001.*'2026a', which is not configured"):
            new.reseal(dry_run=True)
        with pytest.raises(ValueError) as caught:
            new.reseal()
        assert PERSON not in str(caught.value)
        assert new.seal_census().snapshots == {OLD_NAME: 1}  # untouched


def test_seal_keys_are_checked_without_showing_them() -> None:
    key = secrets.token_bytes(32)
    good = f"2027a:{base64.b64encode(key).decode()}"
    assert parse_seal_keys(good + ", 2026a:" + base64.b64encode(b"x" * 32).decode()) == [
        ("2027a", key),
        ("2026a", b"x" * 32),
    ]
    short = base64.b64encode(b"short").decode()
    for text, message in (
        (f"2027a:{short}", "key '2027a': expected 32 random bytes"),
        ("2027A:" + base64.b64encode(key).decode(), "item 1: expected `id:base64key`"),
        (f"{good},{good}", "names key '2027a' twice"),
        ("derived:" + base64.b64encode(key).decode(), "not `derived`"),
    ):
        with pytest.raises(ValueError, match=message) as caught:
            parse_seal_keys(text)
        assert base64.b64encode(key).decode() not in str(caught.value)
        assert short not in str(caught.value)
    with pytest.raises(ValueError, match="COMMS_SEAL_KEYS must be set in production"):
        load_settings(
            environment="production",
            hmac_secret="a-real-secret",
            database_url="postgresql+psycopg://db/comms",
        )


def test_another_key_under_a_known_id_is_a_settings_error_not_an_altered_row(db_url: str) -> None:
    with Ledger(db_url, SECRET, seal_keys=[NEW]) as right:
        right.migrate()
        accept(right, "evt-twin-0001")
    twin = (NEW[0], secrets.token_bytes(32))  # `new-seal-key 2027a` run twice
    with (
        Ledger(db_url, SECRET, seal_keys=[twin]) as wrong,
        pytest.raises(UnknownSealKey, match="another key named '2027a'"),
    ):
        wrong.event_snapshot("evt-twin-0001")
    with Ledger(db_url, SECRET, seal_keys=[NEW]) as right:
        assert PERSON in (right.event_snapshot("evt-twin-0001") or "")
        with right.engine.begin() as conn:  # an altered row is still told apart
            sealed = conn.execute(sa.select(events.c.snapshot)).scalar_one()
            head, _, body = sealed.rpartition(".")
            flipped = body[:-4] + ("AAAA" if body[-4:] != "AAAA" else "BBBB")
            conn.execute(sa.update(events).values(snapshot=f"{head}.{flipped}"))
        with pytest.raises(SnapshotMismatch):
            right.event_snapshot("evt-twin-0001")
