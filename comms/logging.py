"""Structured logs (JSON by default) that refuse personal data: one configuration for every process.

Use `get_logger(__name__)` and pass facts as keys: `log.info("event queued", event_id=..., queue=...)`.
A key that names personal data (a name, a national number, an address, an amount, an email, a
token) is dropped before rendering and listed under `redacted`, and every string value is
scrubbed of email addresses and identifier-like digit runs (channels/redact.py), so a mistake
costs a log field, never a member's privacy. Library loggers (arq, uvicorn) go through the same
processors.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any, Literal, TextIO

import structlog

from channels.redact import scrub

# Keys that name personal data or secrets (domain §1, §9: never in application logs).
PERSONAL_KEYS = frozenset(
    {
        "name", "first_name", "last_name", "full_name", "label", "attention_of",
        "recipient", "recipient_name", "national_number", "nn", "insz", "niss", "ssin", "rrn",
        "enterprise_number", "kbo", "bce", "subject_id",
        "email", "email_address", "to", "rcpt", "address", "street", "number", "box", "postcode",
        "municipality", "postal_lines", "phone",
        "iban", "bic", "amount", "amounts", "balance", "total", "payment",
        "payload", "snapshot", "raw", "body", "content", "event_json",
        "token", "password", "secret", "authorization", "cookie", "api_key",
    }
)  # fmt: skip
REDACTED_KEY = "redacted"
# Keys structlog and the stdlib bridge add themselves: rendered as they are.
_OWN_KEYS = frozenset({"level", "logger", "timestamp", REDACTED_KEY})

LogFormat = Literal["json", "console"]
_CAMEL_HUMP = re.compile(r"(?<=[a-z0-9])([A-Z])")  # nationalNumber → national_Number
# Libraries that narrate every step at INFO: their warnings still come through.
_CHATTY = ("weasyprint", "fontTools", "alembic", "httpx", "aiosmtpd", "mail.log")


def is_personal_key(key: str) -> bool:
    """True for keys like `email`, `recipient_email`, `nationalNumber`, `IBAN`."""
    normal = _CAMEL_HUMP.sub(r"_\1", key).lower()
    if normal in PERSONAL_KEYS:
        return True
    tail = normal.rsplit("_", 1)[-1]
    return tail in {"email", "iban", "amount", "address", "phone", "token", "password", "secret"}


def drop_personal_data(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: drop personal-data keys (naming them), scrub every string value."""
    dropped = sorted(k for k in event_dict if k not in _OWN_KEYS and is_personal_key(k))
    for key in dropped:
        del event_dict[key]
    if dropped:
        event_dict[REDACTED_KEY] = dropped
    for key, value in event_dict.items():
        if isinstance(value, str) and key not in _OWN_KEYS:
            event_dict[key] = scrub(value)
    return event_dict


def _shared_processors() -> list[Any]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        drop_personal_data,  # last before rendering: it also sees the formatted traceback
    ]


def configure_logging(
    level: str = "INFO", fmt: LogFormat = "json", *, stream: TextIO | None = None
) -> None:
    """Routes structlog and the stdlib loggers through one handler; safe to call again."""
    renderer: Any = (
        structlog.processors.JSONRenderer(sort_keys=True)
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_shared_processors(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=_shared_processors(),
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in _CHATTY:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    """A logger whose keys go through `drop_personal_data` once `configure_logging` ran."""
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(name)
    return logger
