"""Keeps citizens' numbers and event contents out of the database in clear (domain §9)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from comms.identifiers import digits_only, is_valid_enterprise_number, is_valid_national_number

# Format tags: `v1.` sealed with the key derived from the HMAC secret; `v2.<key id>.` with a
# configured seal key (COMMS_SEAL_KEYS), so keys can be rotated without touching the HMAC secret.
_DERIVED_PREFIX = "v1."
_KEYED_PREFIX = "v2."
DERIVED_KEY_ID = "derived"  # how the census names v1 texts; never a configured key id
_NONCE_BYTES = 12  # AES-GCM standard nonce (NIST SP 800-38D)


def is_valid_subject_id(subject_id: str) -> bool:
    """A person's national number or a company's enterprise number, check digits included."""
    return is_valid_national_number(subject_id) or is_valid_enterprise_number(subject_id)


def subject_hmac(secret: bytes, subject_id: str) -> str:
    """Keyed hash of the digits only, so `85.07.30-033.28` and `85073003328` search alike."""
    return hmac.new(secret, digits_only(subject_id).encode("ascii"), hashlib.sha256).hexdigest()


class UnknownSealKey(ValueError):
    """A text was sealed with a key this process is not configured with: fix settings, retry."""


class Sealer:
    """AES-256-GCM over snapshots and rejected inputs; the label binds a ciphertext to its row.

    Why encrypt at all: the event JSON carries the national number, name and address, and the
    database (and its backups) must not hold them readable. Texts are sealed with the first of the
    configured seal keys, or, with none configured, a key derived from the HMAC secret (the
    format of the first releases). Every configured key and the derived one still open what they
    sealed, so a key is rotated by putting a new one first and resealing (docs/ledger.md).
    """

    def __init__(self, secret: bytes, keys: Sequence[tuple[str, bytes]] = ()) -> None:
        derived = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"comms.ledger.seal.v1"
        ).derive(secret)
        self._derived = AESGCM(derived)
        self._keys = {key_id: AESGCM(key) for key_id, key in keys}
        self.current_key_id = keys[0][0] if keys else DERIVED_KEY_ID

    def seal(self, text: str, *, label: str) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        if self.current_key_id == DERIVED_KEY_ID:
            aead, prefix = self._derived, _DERIVED_PREFIX
        else:
            aead, prefix = self._keys[self.current_key_id], f"{_KEYED_PREFIX}{self.current_key_id}."
        sealed = aead.encrypt(nonce, text.encode("utf-8"), label.encode("utf-8"))
        return prefix + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")

    def open(self, token: str, *, label: str) -> str:
        key_id = self.key_id(token)
        if key_id == DERIVED_KEY_ID:
            aead, body = self._derived, token[len(_DERIVED_PREFIX) :]
        elif key_id in self._keys:
            aead, body = self._keys[key_id], token[len(_KEYED_PREFIX) + len(key_id) + 1 :]
        else:
            raise UnknownSealKey(f"sealed with seal key {key_id!r}, which is not configured")
        blob = base64.urlsafe_b64decode(body)
        try:
            plain = aead.decrypt(blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], label.encode())
        except InvalidTag:
            raise ValueError("sealed text does not open: wrong key or altered row") from None
        return plain.decode("utf-8")

    @staticmethod
    def key_id(token: str) -> str:
        """Which key sealed a text, read from its format tag (no key needed)."""
        if token.startswith(_DERIVED_PREFIX):
            return DERIVED_KEY_ID
        if token.startswith(_KEYED_PREFIX):
            key_id, dot, _ = token[len(_KEYED_PREFIX) :].partition(".")
            if dot and key_id:
                return key_id
        raise ValueError("sealed text has an unknown format")
