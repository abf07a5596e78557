"""Turns one event into its rendered letter, email and eBox subject, or refuses with the reason."""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from jinja2 import TemplateError, TemplateNotFound, TemplateSyntaxError, UndefinedError
from jinja2.exceptions import SecurityError

from comms.coherence import letter as coherence
from comms.compose.catalogue import TEMPLATE_FILES
from comms.compose.environment import (
    MAX_TEXT_CHARS,
    BoundedEnvironment,
    TooLarge,
    build_environment,
    load_fund,
)
from comms.compose.mentions import missing_mentions
from comms.compose.pdf import DeferredPdf, PdfMaker, WindowLayout, renderer_version
from comms.compose.remote import remote_resources, would_fetch
from comms.compose.versions import template_files, template_version
from comms.doctypes import DOC_TYPES, DocType, Payable
from comms.errors import MissingMention, MissingTemplate, RemoteContent, RenderRefused
from comms.events import AnyEvent
from comms.models import Document, Language, Message, today_in_brussels
from comms.payment import epc_qr

EBOX_SUBJECT_MAX_CHARS = 400  # eBox v3 limit (domain/ebox.md)
ADDRESS_TEMPLATE = "_common/address.txt"  # the window's lines, for the print manifest
# One pixel per module: the CSS sets the printed size and scales it without smoothing
# (image-rendering: pixelated, so /Interpolate false as PDF/A wants). A bitmap costs WeasyPrint
# far less than an SVG path of every module (docs/performance.md).
QR_PIXELS_PER_MODULE = 1
# All texts of one letter (letter, email, subjects, address): real ones take 20-60 ms here, so
# a template still producing after this is looping on purpose or by mistake. Checked as output
# comes; a loop that prints nothing is stopped by the render process's COMMS_RENDER_TIMEOUT_S.
TEXTS_MAX_S = 10.0


def _payment_block(payable: Payable) -> dict[str, Any]:
    """What one payment block prints, with its own EPC QR code (EPC069-12)."""
    payment = payable.payment
    qr = epc_qr(
        beneficiary=payment.beneficiary,
        iban=payment.iban,
        bic=payment.bic,
        amount=payable.amount,
        reference=payment.structured_communication,
    )
    return {
        "amount": payable.amount,
        "due_date": payable.due_date,
        "beneficiary": payment.beneficiary,
        "iban": payment.iban,
        "bic": payment.bic,
        "structured_communication": payment.structured_communication,
        "qr": qr.png_data_uri(scale=QR_PIXELS_PER_MODULE, border=0),
        "debt": None if payable.debt is None else payable.debt.model_dump(mode="python"),
    }


def letter_date(event: AnyEvent, batch_date: date | None) -> date:
    """The issue date the event gives, else the batch's, else today in Brussels (issue 16)."""
    return event.issue_date or batch_date or today_in_brussels()


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


@dataclass(frozen=True)
class Rendered:
    """The texts of one rendering, before the PDF is made (what previews show)."""

    letter_html: str
    email_html: str
    email_text: str
    subject: str
    ebox_subject: str
    address_lines: tuple[str, ...]
    template_version: str
    sender_name: str  # the From name of the email, in the letter's language
    reply_to: str  # the address a member's reply goes to


class Composer:
    """Compiled templates, parsed CSS and fonts are kept across letters: batches are the normal case."""

    def __init__(
        self, templates_dir: Path, layout: WindowLayout, *, pdf: PdfMaker | None = None
    ) -> None:
        """`pdf`: WeasyPrint unless given (tests of orchestration give a cheap one)."""
        self.templates_dir = templates_dir.resolve()
        self._pdf = pdf or DeferredPdf(self.templates_dir / "shared", layout)
        self._envs: dict[Language, BoundedEnvironment] = {}
        self._versions: dict[tuple[Any, ...], str] = {}
        self._lock = threading.Lock()

    def _env(self, language: Language) -> BoundedEnvironment:
        with self._lock:
            if language not in self._envs:
                self._envs[language] = build_environment(self.templates_dir, language)
            return self._envs[language]

    def version(self, language: Language, doc_type: str) -> str:
        """Cached by the files' sizes and times, so a batch does not rehash every letter."""
        files = template_files(self.templates_dir, language, doc_type)
        key = (
            language,
            doc_type,
            *((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in files),
        )
        with self._lock:
            if key not in self._versions:
                self._versions[key] = template_version(self.templates_dir, language, doc_type)
            return self._versions[key]

    def _check_files(self, language: Language, doc_type: str) -> None:
        folder = self.templates_dir / language.value / doc_type
        missing = [name for name in TEMPLATE_FILES if not (folder / name).is_file()]
        if missing:
            raise MissingTemplate(
                f"no {language.value} template for {doc_type} ({', '.join(missing)}); "
                "another language is never used instead",
                template=f"{language.value}/{doc_type}",
            )

    def context(self, event: AnyEvent, issued_on: date) -> dict[str, Any]:
        """What templates see (docs/templates.md): plain data, no model methods."""
        doc_type = DOC_TYPES[event.type]
        language = event.recipient.language
        payments = [_payment_block(p) for p in doc_type.payables(event)]
        dumped = event.model_dump(mode="python")
        return {
            "event": {k: dumped[k] for k in ("event_id", "type", "dossier", "occurred_at")},
            "recipient": dumped["recipient"],
            "data": dumped["payload"],
            "fund": load_fund(self.templates_dir, language),
            "letter": {
                "date": issued_on,
                "registered": doc_type.registered,
                "language": language.value,
                "reference": doc_type.reference(event),
            },
            # One block per debt unless one reference covers them all (domain §2); `payable` is
            # the letter's one payment when it has exactly one, for the texts that name it.
            "payments": payments,
            "payable": payments[0] if len(payments) == 1 else None,
        }

    def render_texts(self, event: AnyEvent, *, issued_on: date | None = None) -> Rendered:
        """Checks the letter holds together, renders every template of its type in its language
        and checks the mentions."""
        doc_type = self._doc_type(event)
        language = event.recipient.language
        day = letter_date(event, issued_on)
        coherence.check(event, day)
        self._check_files(language, doc_type.name)
        env = self._env(language)
        context = self.context(event, day)
        deadline = time.monotonic() + TEXTS_MAX_S
        texts = {
            name: self._render(env, f"{doc_type.name}/{name}", context, deadline)
            for name in TEMPLATE_FILES
        }
        address = self._render(env, ADDRESS_TEMPLATE, context, deadline)
        missing = missing_mentions(texts["letter.html"], doc_type.required_mentions(event))
        if missing:
            raise MissingMention(
                "required mention(s) missing or empty: " + ", ".join(missing),
                template=f"{language.value}/{doc_type.name}/letter.html",
            )
        remote = remote_resources(texts["email.html"])
        if remote:
            raise RemoteContent(
                would_fetch(f"{remote[0].kind} from the web"),
                template=f"{language.value}/{doc_type.name}/email.html",
            )
        fund = context["fund"]
        ebox_subject = _one_line(texts["ebox_subject.txt"])
        if not ebox_subject or len(ebox_subject) > EBOX_SUBJECT_MAX_CHARS:
            raise RenderRefused(
                f"the eBox subject must hold 1 to {EBOX_SUBJECT_MAX_CHARS} characters",
                template=f"{language.value}/{doc_type.name}/ebox_subject.txt",
            )
        return Rendered(
            letter_html=texts["letter.html"],
            email_html=texts["email.html"],
            email_text=texts["email.txt"].strip() + "\n",
            subject=_one_line(texts["subject.txt"]),
            ebox_subject=ebox_subject,
            address_lines=tuple(line.strip() for line in address.splitlines() if line.strip()),
            template_version=self.version(language, doc_type.name),
            sender_name=str(fund.get("name", "")),
            reply_to=str(fund.get("reply_to", "")),
        )

    def compose(self, event: AnyEvent, *, issued_on: date | None = None) -> Message:
        """The frozen document and its wrappings; the caller archives and records it."""
        rendered = self.render_texts(event, issued_on=issued_on)
        pdf, pages = self._pdf.render(rendered.letter_html)
        document = Document(
            pdf=pdf,
            sha256=hashlib.sha256(pdf).hexdigest(),
            template_version=rendered.template_version,
            renderer_version=renderer_version(),
            filename=f"{event.type}-{event.dossier}.pdf".replace("/", "-"),
        )
        return Message(
            doc_type=event.type,
            language=event.recipient.language,
            subject=rendered.subject,
            email_text=rendered.email_text,
            email_html=rendered.email_html,
            ebox_subject=rendered.ebox_subject,
            document=document,
            page_count=pages,
            address_lines=rendered.address_lines,
            sender_name=rendered.sender_name,
            reply_to=rendered.reply_to,
        )

    def pdf_from_html(self, html: str) -> tuple[bytes, int]:
        """For previews of pasted or edited HTML, through the same restricted fetcher."""
        return self._pdf.render(html)

    @staticmethod
    def _doc_type(event: AnyEvent) -> DocType:
        try:
            return DOC_TYPES[event.type]
        except KeyError:
            raise RenderRefused(f"unknown document type {event.type!r}") from None

    @staticmethod
    def _render(
        env: BoundedEnvironment, name: str, context: dict[str, Any], deadline: float
    ) -> str:
        """Jinja's failures become refusals that name the file and line, never the member's data.

        The output is taken as it comes, so a template that runs away (a loop printing megabytes,
        a loop that never ends) is refused with the reason instead of filling memory or hanging.
        """
        try:
            return _bounded(env.get_template(name).generate(context), name, deadline)
        except TooLarge as exc:
            raise RenderRefused(
                f"the template would make {exc}; no letter needs that", template=name
            ) from None
        except TemplateNotFound as exc:
            raise MissingTemplate(f"template not found: {exc.name}", template=name) from None
        except TemplateSyntaxError as exc:
            where = f"{exc.filename or exc.name or name}:{exc.lineno}"
            raise RenderRefused(f"syntax error: {exc.message}", template=where) from None
        except UndefinedError as exc:
            raise RenderRefused(
                f"the template uses a variable the event does not have ({exc.message})",
                template=name,
            ) from None
        except SecurityError:
            raise RenderRefused(
                "the template tried an operation the sandbox forbids", template=name
            ) from None
        except TemplateError as exc:
            raise RenderRefused(f"template error: {exc.message}", template=name) from None
        except RenderRefused:
            raise
        except Exception as exc:  # a filter or an expression failed: refuse, never crash the batch
            # Only the exception's type: its message may quote a member's value.
            raise RenderRefused(
                f"the template failed while rendering ({type(exc).__name__})", template=name
            ) from None


def _bounded(chunks: Iterator[str], name: str, deadline: float) -> str:
    """The template's output joined, refused past MAX_TEXT_CHARS or the letter's deadline."""
    taken: list[str] = []
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if size > MAX_TEXT_CHARS:
            raise RenderRefused(
                f"the template made more than {MAX_TEXT_CHARS:,} characters of text; "
                "a letter is never that long (a loop or a repeated value running away?)",
                template=name,
            )
        if time.monotonic() > deadline:
            raise RenderRefused(
                f"the templates took more than {TEXTS_MAX_S:g} s to fill in "
                "(a letter takes well under a second): a loop running away?",
                template=name,
            )
        taken.append(chunk)
    return "".join(taken)
