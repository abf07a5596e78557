"""`tls_context()`, the one the HTTP adapters and tests/net.py share, still checks certificates
and host names, and is built once."""

from __future__ import annotations

import ssl

from channels.base import tls_context


def test_the_shared_context_verifies_certificates_and_names_and_is_built_once() -> None:
    context = tls_context()
    assert context.verify_mode is ssl.CERT_REQUIRED
    assert context.check_hostname
    assert context.get_ca_certs() or context.cert_store_stats()["x509_ca"] > 0
    assert tls_context() is context
