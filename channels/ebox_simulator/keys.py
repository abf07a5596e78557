"""Throwaway RSA key pairs for the eBox client and simulator in development and tests."""

from __future__ import annotations

from functools import lru_cache

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

DEV_KEY_BITS = 2048  # the minimum for RS256 that PyJWT and the real token endpoint accept


def generate_key_pair() -> tuple[bytes, bytes]:
    """(private key PEM, public key PEM), unencrypted: never for production."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=DEV_KEY_BITS)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return private_pem, public_key_of(private_pem)


@lru_cache(maxsize=8)
def public_key_of(private_pem: bytes, password: bytes | None = None) -> bytes:
    """The public half, for a simulator that must accept a key read from disk.

    Kept per key: loading checks the RSA key, which takes a tenth of a second.
    """
    key = serialization.load_pem_private_key(private_pem, password=password)
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
