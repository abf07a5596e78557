"""The channel's side of a delivery: the communication's id and what the channel is handed."""

from __future__ import annotations

import hashlib

from channels.base import Attachment, ChannelAddress, Outgoing
from comms.events import AnyEvent, CompanyRecipient
from comms.models import ChannelName, Message
from comms.routing import Route


def communication_id(event_id: str, channel: ChannelName, document_sha256: str) -> str:
    """Same event, channel and document: same id, so a retry is recognisable downstream too."""
    seed = f"{event_id}\0{channel.value}\0{document_sha256}".encode()
    return hashlib.sha256(seed).hexdigest()[:32]


def build_outgoing(event: AnyEvent, message: Message, route: Route, cid: str) -> Outgoing:
    """The channel's view of a message: addresses and texts, nothing of the event model."""
    r = event.recipient
    attention_of = r.attention_of if isinstance(r, CompanyRecipient) else None
    subject = message.ebox_subject if route.channel is ChannelName.EBOX else message.subject
    return Outgoing(
        communication_id=cid,
        language=message.language.value,
        subject=subject,
        text=message.email_text,
        html=message.email_html,
        document=Attachment(message.document.filename, message.document.pdf),
        to=ChannelAddress(
            label=r.name,
            email=str(r.email) if r.email else None,
            ebox_type="enterprise" if r.kind == "company" else "citizen",
            ebox_id=r.subject_id,
            attention_of=attention_of,
            postal_lines=message.address_lines,
            postcode=r.address.postcode,
        ),
        registered=route.registered,
        attach_document=route.attach_document,
        sender_name=message.sender_name or None,
        reply_to=message.reply_to or None,
    )
