"""Keeps citizens' numbers and event contents out of the database in clear (domain §9)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from comms.identifiers import digits_only, is_valid_enterprise_number, is_valid_national_number

_SEAL_PREFIX = "v1."  # format tag of a sealed text, so a future key or cipher can coexist
_NONCE_BYTES = 12  # AES-GCM standard nonce (NIST SP 800-38D)


def is_valid_subject_id(subject_id: str) -> bool:
    """A person's national number or a company's enterprise number, check digits included."""
    return is_valid_national_number(subject_id) or is_valid_enterprise_number(subject_id)


def subject_hmac(secret: bytes, subject_id: str) -> str:
    """Keyed hash of the digits only, so `85.07.30-033.28` and `85073003328` search alike."""
    return hmac.new(secret, digits_only(subject_id).encode("ascii"), hashlib.sha256).hexdigest()


class Sealer:
    """AES-256-GCM over snapshots and rejected inputs; the label binds a ciphertext to its row.

    Why encrypt at all: the event JSON carries the national number, name and address, and the
    database (and its backups) must not hold them readable. The key is derived from the HMAC
    secret with HKDF until settings grow a key of its own (see docs/ledger.md).
    """

    def __init__(self, secret: bytes) -> None:
        key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"comms.ledger.seal.v1"
        ).derive(secret)
        self._aead = AESGCM(key)

    def seal(self, text: str, *, label: str) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, text.encode("utf-8"), label.encode("utf-8"))
        return _SEAL_PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")

    def open(self, token: str, *, label: str) -> str:
        if not token.startswith(_SEAL_PREFIX):
            raise ValueError("sealed text has an unknown format")
        blob = base64.urlsafe_b64decode(token[len(_SEAL_PREFIX) :])
        try:
            plain = self._aead.decrypt(blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], label.encode())
        except InvalidTag:
            raise ValueError("sealed text does not open: wrong secret or altered row") from None
        return plain.decode("utf-8")
