"""A new document type is one module, one registry line and its templates: nothing else changes.

In a copy of the code, a payment plan (afbetalingsplan / plan d'apurement) is added that way; the
copy then validates it, refuses it when it breaks the module's own coherence rule, routes it by
the module's own routing, renders and sends it, reports it by its due date and keeps it for the
module's retention.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from comms.samples import load_sample
from comms.settings import REPO_ROOT

MODULE = '''"""Afbetalingsplan / plan d'apurement: the instalments agreed for a debt."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Annotated, Literal

from pydantic import Field, model_validator

from comms.coherence.base import Rule
from comms.doctypes.base import DocType, Payable
from comms.doctypes.parts import AmountDue, Envelope, Payment, Strict


class PaymentPlan(Strict):
    """The instalments agreed: all the same amount, monthly from the first due date."""

    total: AmountDue
    instalments: Annotated[int, Field(ge=2, le=24)]
    instalment_amount: AmountDue
    first_due_date: date
    payment: Payment

    @model_validator(mode="after")
    def _adds_up(self) -> PaymentPlan:
        if self.instalments * self.instalment_amount != self.total:
            raise ValueError("total must equal the instalments times their amount")
        return self


class PaymentPlanEvent(Envelope):
    type: Literal["payment_plan"]
    payload: PaymentPlan


def _payables(event: Envelope) -> tuple[Payable, ...]:
    p = event.payload
    assert isinstance(p, PaymentPlan)
    return (Payable(p.instalment_amount, p.first_due_date, p.payment),)


def _first_not_past(p: PaymentPlan, issued_on: date) -> Iterator[str]:
    if p.first_due_date <= issued_on:
        yield "payload.first_due_date"


DOC_TYPE = DocType(
    "payment_plan",
    PaymentPlanEvent,
    retention_years=5,
    key_dates={"due_date": ("payload", "first_due_date")},
    routing={"order": ["email", "post"]},
    payables=_payables,
    rules=(Rule("first instalment ahead", "a plan starts after its letter", _first_not_past),),
)
'''

WORDING = {
    "nl": (
        "Afbetalingsplan",
        "Uw afbetalingsplan",
        "in {{ data.instalments }} maandelijkse schijven",
    ),
    "fr": ("Plan d'apurement", "Votre plan d'apurement", "en {{ data.instalments }} mensualités"),
}


def _templates(root: Path) -> None:
    for lang, (title, heading, how) in WORDING.items():
        folder = root / "templates" / lang / "payment_plan"
        folder.mkdir()
        (folder / "letter.html").write_text(
            '{% extends "_common/layout.html" %}\n'
            f"{{% block title %}}{title}{{% endblock %}}\n"
            "{% block body %}\n"
            f"<h2>{heading}</h2>\n"
            f"<p>{{{{ data.total | money }}}} {how}.</p>\n"
            '{% include "_common/payment.html" %}\n'
            "{% endblock %}\n",
            encoding="utf-8",
        )
        for name in ("subject.txt", "ebox_subject.txt"):
            (folder / name).write_text(f"{title}\n", encoding="utf-8")
        (folder / "email.txt").write_text(f"{heading}: {{{{ fund.name }}}}\n", encoding="utf-8")
        (folder / "email.html").write_text(
            f"<!DOCTYPE html>\n<html><body><p>{heading}</p></body></html>\n", encoding="utf-8"
        )


def _copy_with_new_type(root: Path) -> None:
    for folder in ("comms", "channels", "templates"):
        shutil.copytree(
            REPO_ROOT / folder, root / folder, ignore=shutil.ignore_patterns("__pycache__")
        )
    (root / "comms" / "doctypes" / "payment_plan.py").write_text(MODULE, encoding="utf-8")
    registry = root / "comms" / "doctypes" / "__init__.py"
    text = registry.read_text(encoding="utf-8")
    # the one line a new type adds to the registry (its import and its place in the tuple)
    for before, after in (
        ("    decision,\n", "    decision,\n    payment_plan,\n"),
        (
            "        account_statement,\n    )",
            "        account_statement,\n        payment_plan,\n    )",
        ),
    ):
        assert before in text, f"the registry no longer reads {before!r}: update this test"
        text = text.replace(before, after, 1)
    registry.write_text(text, encoding="utf-8")
    _templates(root)


CHECK = r"""
import asyncio, email, json, sys
from datetime import date
from pathlib import Path

import comms
from comms.app import build_app
from comms.embedded import embedded_services
from comms.coherence.letter import findings
from comms.errors import InvalidEvent
from comms.events import parse_event
from comms.ledger.retention import RetentionPolicy
from comms.reporting.model import Period, build_report
from comms.settings import load_settings

raw = json.loads(sys.argv[1])
out = {"package": comms.__file__}
bad = json.loads(json.dumps(raw))
bad["payload"]["instalments"] = 5
try:
    parse_event(bad)
except InvalidEvent as exc:
    out["invalid"] = [str(e) for e in exc.errors]
late = json.loads(json.dumps(raw))
late["payload"]["first_due_date"] = "2020-01-31"
out["incoherent"] = [str(f) for f in findings(parse_event(late), date(2027, 1, 15))]
settings = load_settings()
with embedded_services(settings) as emb:
    app = build_app(emb.settings)
    late["event_id"] = "sample-payment-plan-late"
    out["late_verdict"] = asyncio.run(app.pipeline.process(parse_event(late))).verdict
    outcome = asyncio.run(app.pipeline.process(parse_event(raw)))
    out["verdict"] = outcome.verdict
    out["routes"] = [r.channel.value for r in app.router.plan(parse_event(raw)).routes]
    mails = [p for p in (emb.maildir / "new").iterdir()]
    message = email.message_from_bytes(mails[0].read_bytes())
    pdfs = [p.get_payload(decode=True) for p in message.walk() if p.get_content_type() == "application/pdf"]
    Path(sys.argv[2]).write_bytes(pdfs[0])
    report = build_report(app.ledger, Period())
    out["notices"] = [(r.doc_type, r.due_month, r.before_due) for r in report.notices]
    out["retention_years"] = RetentionPolicy.from_settings(app.settings).years_for("payment_plan")
print(json.dumps(out))
"""


def test_a_document_type_from_one_module_and_its_templates(tmp_path: Path) -> None:
    """The new type is validated, routed, rendered, sent, reported and retained by the copy."""
    from tests.readback import pdf_text

    root = tmp_path / "copy"
    root.mkdir()
    _copy_with_new_type(root)
    raw = load_sample("contribution-notice-nl")
    raw["event_id"] = "sample-payment-plan-nl"
    raw["type"] = "payment_plan"
    raw["payload"] = {
        "total": "1200.00",
        "instalments": 6,
        "instalment_amount": "200.00",
        "first_due_date": "2027-02-28",
        "payment": raw["payload"]["payment"],
    }
    env = {
        **os.environ,
        "PYTHONPATH": str(root),
        "COMMS_DATA_DIR": str(tmp_path / "var"),
        "COMMS_TEMPLATES_DIR": str(root / "templates"),
        "COMMS_ROUTING_POLICY": str(root / "comms" / "routing.toml"),
        "COMMS_RENDER_POOL": "false",
    }
    pdf = tmp_path / "letter.pdf"
    result = subprocess.run(
        [sys.executable, "-c", CHECK, json.dumps(raw), str(pdf)],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["package"].startswith(str(root))  # the copy ran, not this checkout
    assert out["invalid"] == ["payload: total must equal the instalments times their amount"]
    assert out["incoherent"] == ["first instalment ahead (payload.first_due_date)"]
    assert out["late_verdict"] == "refused"  # the module's rule, checked before rendering
    assert out["verdict"] == "sent"
    assert out["routes"] == ["email", "post"]  # the module's routing; routing.toml says nothing
    text = pdf_text(pdf.read_bytes())
    assert "Uw afbetalingsplan" in text and "6 maandelijkse schijven" in text
    assert "BE68 5390 0754 7034" in text  # the payment block every payable type carries
    assert ["payment_plan", "2027-02", 1] in out["notices"]  # reported against its due date
    assert out["retention_years"] == 5
