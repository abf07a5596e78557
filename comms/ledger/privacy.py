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

# Format tags: `v1.` sealed with the key derived from the HMAC secret; `v2.<key id>.<fingerprint>.`
# with a configured seal key (COMMS_SEAL_KEYS), so keys can be rotated without touching the HMAC
# secret. The fingerprint tells a different key under a known id from an altered row.
_DERIVED_PREFIX = "v1."
_KEYED_PREFIX = "v2."
_FINGERPRINT_HEX = 8
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
        self._keys = {key_id: (AESGCM(key), fingerprint(key)) for key_id, key in keys}
        self.current_key_id = keys[0][0] if keys else DERIVED_KEY_ID

    def seal(self, text: str, *, label: str) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        if self.current_key_id == DERIVED_KEY_ID:
            aead, prefix = self._derived, _DERIVED_PREFIX
        else:
            aead, print_ = self._keys[self.current_key_id]
            prefix = f"{_KEYED_PREFIX}{self.current_key_id}.{print_}."
        sealed = aead.encrypt(nonce, text.encode("utf-8"), label.encode("utf-8"))
        return prefix + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")

    def open(self, token: str, *, label: str) -> str:
        key_id, print_, body = _parse(token)
        if key_id == DERIVED_KEY_ID:
            aead = self._derived
        else:
            if key_id not in self._keys:
                raise UnknownSealKey(f"sealed with seal key {key_id!r}, which is not configured")
            aead, known = self._keys[key_id]
            if known != print_:
                raise UnknownSealKey(
                    f"sealed with another key named {key_id!r} (fingerprint {print_}; the"
                    f" configured one is {known})"
                )
        blob = base64.urlsafe_b64decode(body)
        try:
            plain = aead.decrypt(blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], label.encode())
        except InvalidTag:
            raise ValueError("sealed text does not open: altered row") from None
        return plain.decode("utf-8")

    @property
    def current_key(self) -> str:
        """The key new texts are sealed with, named as `key_of` names it."""
        if self.current_key_id == DERIVED_KEY_ID:
            return DERIVED_KEY_ID
        return f"{self.current_key_id}:{self._keys[self.current_key_id][1]}"

    @staticmethod
    def key_of(token: str) -> str:
        """Which key sealed a text, `id:fingerprint` or `derived`, read from its tag (no key needed)."""
        key_id, print_, _ = _parse(token)
        return f"{key_id}:{print_}" if print_ else key_id


def fingerprint(key: bytes) -> str:
    """A short public name for a key's value, so two keys under one id are told apart."""
    made = HKDF(algorithm=hashes.SHA256(), length=16, salt=None, info=b"comms.seal.fingerprint")
    return made.derive(key).hex()[:_FINGERPRINT_HEX]


def _parse(token: str) -> tuple[str, str, str]:
    """(key id, fingerprint, base64 body) of a sealed text; the derived key has no fingerprint."""
    if token.startswith(_DERIVED_PREFIX):
        return DERIVED_KEY_ID, "", token[len(_DERIVED_PREFIX) :]
    if token.startswith(_KEYED_PREFIX):
        parts = token[len(_KEYED_PREFIX) :].split(".", 2)
        if len(parts) == 3 and parts[0] and len(parts[1]) == _FINGERPRINT_HEX and parts[2]:
            return parts[0], parts[1], parts[2]
    raise ValueError("sealed text has an unknown format")
