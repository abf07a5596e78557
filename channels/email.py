"""Send one rendered message by SMTP and turn the server's reply into a receipt or an error."""

from __future__ import annotations

import binascii
import email.policy
import logging
import re
import secrets
from datetime import UTC, datetime
from email.errors import HeaderParseError
from email.headerregistry import Address, BaseHeader, HeaderRegistry
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

import aiosmtplib
from aiosmtplib import SMTPStatus

from channels.base import BaseChannel, Outgoing, PermanentError, Receipt, TransientError
from channels.redact import enhanced_status
from channels.smtp_pool import SmtpPool

log = logging.getLogger(__name__)

# Headers the channel owns: a caller-supplied value would break threading, MIME or the retry check.
_RESERVED_HEADERS = frozenset(
    {"from", "reply-to", "to", "cc", "bcc", "date", "message-id", "subject", "mime-version"}
    | {"content-type", "content-transfer-encoding", "content-language"}
)
# RFC 5322 §3.6.4 id-left as dot-atom-text, restricted to what a communication id can contain.
_ID_LEFT_RE = re.compile(r"^[A-Za-z0-9._-]+$")
# A refusal at these stages concerns our own session (greeting, EHLO, credentials), not this
# message: retrying is right, falling back to paper for every letter is not.
_SESSION_ERRORS = (
    aiosmtplib.SMTPConnectResponseError,
    aiosmtplib.SMTPHeloError,
    aiosmtplib.SMTPAuthenticationError,
)
_SESSION_RETRY_S = 300.0
_BASE64_LINE = 76  # RFC 2045 §6.8: encoded lines of at most 76 characters


class _HeaderClasses(HeaderRegistry):
    """The email package's header registry, making each header's class once.

    The stock registry builds a new class for every header it parses, which took about a quarter
    of the time to serialise a message.
    """

    def __init__(self) -> None:
        super().__init__()
        self._made: dict[str, type[BaseHeader]] = {}

    def __getitem__(self, name: str) -> type[BaseHeader]:
        key = name.lower()
        made = self._made.get(key)
        if made is None:
            made = self._made[key] = super().__getitem__(name)
        return made


_SMTP = email.policy.SMTP.clone(header_factory=_HeaderClasses())
_SMTPUTF8 = email.policy.SMTPUTF8.clone(header_factory=_HeaderClasses())


def _boundary() -> str:
    """Chosen here, not by the generator, which searches each part for a clash with a new regex.

    "=_" occurs in neither quoted-printable nor base64, and the rest is random.
    """
    return "=_" + secrets.token_hex(16)


class EmailChannel(BaseChannel):
    """Email with the letter attached (or a notification only); one connection pool per channel."""

    name = "email"

    def __init__(
        self,
        *,
        host: str,
        port: int,
        sender: str,
        message_id_domain: str,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        implicit_tls: bool = False,
        timeout_s: float = 30.0,
        pool_size: int = 4,
        envelope_sender: str | None = None,
        validate_certs: bool = True,
    ) -> None:
        if starttls and implicit_tls:
            raise ValueError("starttls and implicit_tls are mutually exclusive")
        self._sender = sender
        self._from_address = parseaddr(sender)[1]
        # The envelope sender receives bounces; it is a separate knob for the DSN parser to come.
        self._envelope_sender = envelope_sender or parseaddr(sender)[1]
        if not self._envelope_sender:
            raise ValueError("sender has no address")
        self._domain = message_id_domain
        self._pool = SmtpPool(
            lambda: aiosmtplib.SMTP(
                hostname=host,
                port=port,
                username=username,
                password=password,
                use_tls=implicit_tls,
                start_tls=starttls,  # False: never upgrade opportunistically without being asked
                timeout=timeout_s,
                validate_certs=validate_certs,
            ),
            size=pool_size,
        )

    async def close(self) -> None:
        await self._pool.close()

    def _from(self, name: str | None) -> str | Address:
        """The configured sender, under the message's own name when it brings one (the fund as the
        recipient's language names it); the address, which the domain's SPF and DKIM vouch for, stays."""
        if not name:
            return self._sender
        return Address(display_name=name, addr_spec=self._from_address)

    def message_id(self, communication_id: str) -> str:
        """The same on every retry, so a duplicate is recognisable in the recipient's mailbox."""
        if not _ID_LEFT_RE.match(communication_id):
            raise PermanentError("communication id is not usable in a Message-ID")
        return f"<{communication_id}@{self._domain}>"

    def serialise(self, outgoing: Outgoing) -> bytes:
        """The message as the server receives it, made once per attempt and handed to `sendmail`.

        The email package builds the headers and every part, the PDF's with a placeholder body;
        the PDF is then base64-encoded in one C call and put in place of the placeholder, which
        spares the generator's Python loop over its thousand lines. Text and HTML are
        quoted-printable, so the bytes are 7-bit and do not depend on the server's 8BITMIME.
        Measured by `bench/email_rate.py --serialise-only` (docs/performance.md).
        """
        address = outgoing.to.email
        if not address:
            raise PermanentError("recipient has no email address")
        policy = _SMTPUTF8 if self._needs_smtputf8(address) else _SMTP
        msg = EmailMessage(policy=policy)
        try:
            msg["Subject"] = outgoing.subject
            msg["From"] = self._from(outgoing.sender_name)
            if outgoing.reply_to:
                msg["Reply-To"] = outgoing.reply_to
            msg["To"] = Address(display_name=outgoing.to.label, addr_spec=address)
            msg["Date"] = format_datetime(datetime.now(UTC))
            msg["Message-ID"] = self.message_id(outgoing.communication_id)
            for key, value in outgoing.headers.items():
                if key.lower() in _RESERVED_HEADERS:
                    raise PermanentError(f"header {key} is set by the channel")
                msg[key] = value
        except (ValueError, IndexError, HeaderParseError) as exc:
            # The stdlib refuses CR/LF in headers and malformed addresses; its text may quote them.
            raise PermanentError(f"message cannot be built: {type(exc).__name__}") from None
        msg.set_content(outgoing.text, cte="quoted-printable")
        msg.make_alternative(boundary=_boundary())
        msg.add_alternative(outgoing.html, subtype="html", cte="quoted-printable")
        placeholder = ""
        if outgoing.attach_document:
            # Random, so no text or header of the letter can contain it.
            placeholder = secrets.token_hex(16)
            maintype, _, subtype = outgoing.document.content_type.partition("/")
            part = EmailMessage(policy=policy)  # `attach` takes its own kind
            part.set_content(
                b"",
                maintype=maintype,
                subtype=subtype or "octet-stream",
                filename=outgoing.document.filename,
                cte="base64",
            )
            del part["MIME-Version"]  # set_content() adds it; it belongs on the message only
            part.set_payload(placeholder)
            msg.make_mixed(boundary=_boundary())
            msg.attach(part)
        # Last: set_content() and friends drop every Content-* header already on the message.
        msg["Content-Language"] = outgoing.language
        data = msg.as_bytes()
        if not placeholder:
            return data
        # The attachment is the last part, so its placeholder is the last occurrence.
        head, found, tail = data.rpartition(placeholder.encode("ascii"))
        if not found:
            raise RuntimeError("attachment placeholder missing from the serialised message")
        return b"".join((head, _base64_lines(outgoing.document.content), tail))

    def _needs_smtputf8(self, address: str) -> bool:
        """An internationalised address: UTF-8 headers, and a server that says SMTPUTF8."""
        return not (address.isascii() and self._envelope_sender.isascii())

    async def send(self, outgoing: Outgoing) -> Receipt:
        address = outgoing.to.email
        if not address:
            raise PermanentError("recipient has no email address")
        data = self.serialise(outgoing)
        cid = outgoing.communication_id
        try:
            _, reply = await self._pool.sendmail(
                self._envelope_sender,
                [address],
                data,
                mail_options=["SMTPUTF8"] if self._needs_smtputf8(address) else [],
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            refused = exc.recipients[0]
            raise _reply_error(cid, refused.code, refused.message) from None
        except _SESSION_ERRORS as exc:
            log.error(
                "smtp session refused", extra={"smtp_code": exc.code, "communication_id": cid}
            )
            raise TransientError(
                f"smtp session refused ({exc.code})", retry_after_s=_SESSION_RETRY_S
            ) from None
        except aiosmtplib.SMTPResponseException as exc:
            raise _reply_error(cid, exc.code, exc.message) from None
        except ValueError:
            # aiosmtplib refuses an address it cannot quote safely, before any command is sent.
            raise PermanentError("smtp client refused the recipient address") from None
        except aiosmtplib.SMTPNotSupported:
            raise PermanentError("smtp server cannot carry this address (no SMTPUTF8)") from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            log.warning("smtp unreachable", extra={"communication_id": cid})
            raise TransientError(f"smtp unreachable: {type(exc).__name__}") from None
        evidence = {
            "message_id": self.message_id(cid),
            # aiosmtplib raises on anything but 250 after DATA, so 250 is what the server said.
            "smtp_code": str(int(SMTPStatus.completed)),
        }
        if status := enhanced_status(reply):
            evidence["smtp_status"] = status
        log.info("email dispatched", extra={"communication_id": cid})
        return Receipt(self.name, cid, "dispatched", evidence)


def _base64_lines(data: bytes) -> bytes:
    """RFC 2045 base64 in 76-character CRLF lines: encoded in one C call, then cut."""
    encoded = binascii.b2a_base64(data, newline=False)
    return b"\r\n".join(encoded[i : i + _BASE64_LINE] for i in range(0, len(encoded), _BASE64_LINE))


def _reply_error(communication_id: str, code: int, reply: str) -> TransientError | PermanentError:
    """RFC 5321 §4.2.1: 4yz is a transient failure, 5yz a permanent one. Only the reply code and
    the enhanced status are kept: the server's text may quote the member (issue 13)."""
    status = enhanced_status(reply)
    log.warning(
        "smtp refused",
        extra={"smtp_code": code, "smtp_status": status, "communication_id": communication_id},
    )
    reason = f"smtp {code} {status}".rstrip()
    if 500 <= code < 600:
        evidence = {"smtp_code": str(code)}
        if status:
            evidence["smtp_status"] = status
        return PermanentError(reason, evidence=evidence)
    # 4yz, and anything unexpected (aiosmtplib's -1 for an unreadable reply): try again later.
    return TransientError(reason)
