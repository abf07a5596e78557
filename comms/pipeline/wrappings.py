"""A message's wrappings (texts, address, versions: all but the PDF), frozen beside its document.

The archive keeps them by SHA-256 so that a rerun or a fallback sends the very message of the
first run; this module is the one place that knows their keys.
"""

from __future__ import annotations

import json

from comms.models import Document, Language, Message


def freeze(message: Message) -> bytes:
    """The wrappings as stable JSON (sorted keys): the same message archives to the same hash."""
    doc = message.document
    wrappings = {
        "doc_type": message.doc_type,
        "language": message.language.value,
        "subject": message.subject,
        "email_text": message.email_text,
        "email_html": message.email_html,
        "ebox_subject": message.ebox_subject,
        "page_count": message.page_count,
        "address_lines": list(message.address_lines),
        "sender_name": message.sender_name,
        "reply_to": message.reply_to,
        "filename": doc.filename,
        "template_version": doc.template_version,
        "renderer_version": doc.renderer_version,
    }
    return json.dumps(wrappings, sort_keys=True).encode()


def thaw(wrappings: bytes, pdf: bytes, sha256: str) -> Message:
    """The message again, from its frozen wrappings and its archived document."""
    w = json.loads(wrappings)
    document = Document(
        pdf=pdf,
        sha256=sha256,
        template_version=w["template_version"],
        renderer_version=w["renderer_version"],
        filename=w["filename"],
    )
    return Message(
        doc_type=w["doc_type"],
        language=Language(w["language"]),
        subject=w["subject"],
        email_text=w["email_text"],
        email_html=w["email_html"],
        ebox_subject=w["ebox_subject"],
        document=document,
        page_count=w["page_count"],
        address_lines=tuple(w["address_lines"]),
        sender_name=w.get("sender_name", ""),  # absent from wrappings frozen before issue 16
        reply_to=w.get("reply_to", ""),
    )
