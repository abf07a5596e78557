"""The composer's view of the document types: the registry (comms.doctypes) and the template files."""

from __future__ import annotations

from comms.doctypes import DOC_TYPES, PAYMENT_MENTIONS, DocType, Payable

CATALOGUE: dict[str, DocType] = DOC_TYPES
TEMPLATE_FILES = ("letter.html", "email.html", "email.txt", "subject.txt", "ebox_subject.txt")

__all__ = ["CATALOGUE", "PAYMENT_MENTIONS", "TEMPLATE_FILES", "DocType", "Payable"]
