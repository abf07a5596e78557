"""Webhook secrets are sealed as the ledger's snapshots are: by the one Sealer the app builds."""

from __future__ import annotations

import base64
import secrets
from pathlib import Path

import sqlalchemy as sa

from comms.app import build_app
from comms.ledger.privacy import Sealer
from comms.ledger.schema import webhook_endpoints
from comms.settings import load_settings
from comms.webhooks import CHANGE_TYPES


def test_a_webhook_secret_is_sealed_with_the_configured_seal_key_and_opens_again(
    tmp_path: Path,
) -> None:
    key = "2027a:" + base64.b64encode(secrets.token_bytes(32)).decode()
    app = build_app(load_settings(environment="test", data_dir=tmp_path / "var", seal_keys=key))
    try:
        endpoint, secret = app.webhooks.register(
            "upstream", "https://hooks.example.be/comms", CHANGE_TYPES
        )
        with app.ledger.engine.connect() as conn:
            sealed = conn.execute(
                sa.select(webhook_endpoints.c.secret).where(webhook_endpoints.c.id == endpoint.id)
            ).scalar_one()
        assert secret not in sealed
        assert Sealer.key_of(sealed).startswith("2027a:")
        assert Sealer.key_of(sealed) == app.ledger.sealer.current_key  # the snapshots' key
        assert app.webhooks.secret_of(endpoint.id) == secret
    finally:
        app.ledger.close()
