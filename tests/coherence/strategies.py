"""Valid events of every type, built by hand from the domain's rules (not from comms' own rule code).

Each strategy draws a letter date and an event upstream could send that day; the arithmetic here
is written independently of `comms.coherence`, so a wrong rule there and a wrong generator here
would have to agree to pass.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from hypothesis import strategies as st

from comms.models import BRUSSELS
from comms.payment import structured_communication_from_base

ACCOUNT = {
    "beneficiary": "Sociaal Verzekeringsfonds Voorbeeld vzw",
    "iban": "BE68539007547034",
    "bic": "GKCCBEBB",
}
PERSON = {
    "kind": "person",
    "national_number": "85073003328",
    "name": "An Peeters",
    "address": {"street": "Kerkstraat", "number": "12", "postcode": "9000", "municipality": "Gent"},
}
COMPANY = {
    "kind": "company",
    "enterprise_number": "0852093431",
    "name": "Bakkerij Janssens bv",
    "address": {"street": "Markt", "number": "7", "postcode": "2000", "municipality": "Antwerpen"},
}
COURT = {
    "name": "Arbeidsrechtbank Gent",
    "address": {
        "street": "Opgeëistenlaan",
        "number": "401",
        "postcode": "9000",
        "municipality": "Gent",
    },
}


def r2(x: Decimal) -> Decimal:
    return x.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def last_day(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def q_end(year: int, quarter: int) -> date:
    return last_day(year, 3 * quarter)


def q_of(day: date) -> int:
    return (day.month + 2) // 3


def ogm(n: int) -> str:
    return structured_communication_from_base(f"{n % 10**10:010d}")


amounts = st.decimals(min_value=Decimal("1.00"), max_value=Decimal("20000.00"), places=2)
days = st.dates(min_value=date(2021, 1, 1), max_value=date(2034, 12, 31))
languages = st.sampled_from(["nl", "fr"])


def envelope(
    draw: Any, doc_type: str, issued: date, recipient: dict[str, Any] | None = None
) -> dict[str, Any]:
    who = dict(recipient or PERSON)
    who["language"] = draw(languages)
    return {
        "event_id": f"prop-{doc_type}-{draw(st.integers(10**7, 10**8))}",
        "occurred_at": datetime.combine(issued, time(8), BRUSSELS).isoformat(),
        "issue_date": issued.isoformat(),
        "dossier": "D-000001",
        "type": doc_type,
        "recipient": who,
    }


def yearly_calculation(draw: Any, income_year: int) -> dict[str, Any]:
    """Bands from 0, contiguous, the last open; each band's rate on its share, half up."""
    income = draw(st.decimals(min_value=Decimal("0"), max_value=Decimal("250000"), places=2))
    ceilings = sorted(
        draw(
            st.lists(
                st.decimals(Decimal("1000"), Decimal("150000"), places=2),
                min_size=0,
                max_size=3,
                unique=True,
            )
        )
    )
    edges = [Decimal("0"), *ceilings]
    brackets, total = [], Decimal("0")
    for i, low in enumerate(edges):
        high = edges[i + 1] if i + 1 < len(edges) else None
        rate = draw(st.decimals(Decimal("0"), Decimal("25"), places=2))
        base = max(Decimal("0"), (income if high is None else min(income, high)) - low)
        amount = r2(base * rate / 100)
        total += amount
        brackets.append(
            {
                "income_from": str(low),
                "income_to": None if high is None else str(high),
                "rate_percent": str(rate),
                "amount": str(amount),
            }
        )
    adjusted = draw(st.sampled_from([None, "minimum", "maximum"]))
    yearly = total
    if adjusted == "minimum":
        yearly = total + draw(st.decimals(Decimal("0.01"), Decimal("3000"), places=2))
    elif adjusted == "maximum":
        if total == 0:
            adjusted = None
        else:
            yearly = r2(total * draw(st.decimals(Decimal("0"), Decimal("0.99"), places=2)))
            if yearly >= total:
                adjusted, yearly = None, total
    return {
        "reference_income": str(income),
        "income_year": income_year,
        "brackets": brackets,
        "yearly_contribution": str(yearly),
        "adjusted_to": adjusted,
        "management_costs_percent": str(draw(st.decimals(Decimal("0"), Decimal("5"), places=2))),
    }


@st.composite
def contribution_notices(draw: Any) -> tuple[dict[str, Any], date]:
    issued = draw(days)
    year, quarter = issued.year, q_of(issued)
    if draw(st.booleans()):  # the next quarter, or a starter's quarter paid one later
        year, quarter = (year + 1, 1) if quarter == 4 else (year, quarter + 1)
    due = q_end(year, quarter)
    if due < issued + timedelta(days=14):
        year, quarter = (year + 1, 1) if quarter == 4 else (year, quarter + 1)
        due = q_end(year, quarter)
    calc = yearly_calculation(draw, year - 3)
    contribution = r2(Decimal(calc["yearly_contribution"]) / 4)
    costs = r2(contribution * Decimal(calc["management_costs_percent"]) / 100)
    if contribution + costs == 0:
        contribution, calc["yearly_contribution"], calc["adjusted_to"] = (
            Decimal("100.00"),
            "400.00",
            "minimum",
        )
        costs = r2(contribution * Decimal(calc["management_costs_percent"]) / 100)
        calc["brackets"] = [
            {"income_from": "0", "income_to": None, "rate_percent": "0", "amount": "0.00"}
        ]
    calc |= {"contribution": str(contribution), "management_costs": str(costs)}
    event = envelope(draw, "contribution_notice", issued)
    event["payload"] = {
        "year": year,
        "quarter": quarter,
        "amount": str(contribution + costs),
        "due_date": due.isoformat(),
        "calculation": calc,
        "payment": {**ACCOUNT, "structured_communication": ogm(draw(st.integers(0, 10**10 - 1)))},
    }
    return event, issued


@st.composite
def regularisation_notices(draw: Any) -> tuple[dict[str, Any], date]:
    issued = draw(days)
    year = issued.year - draw(st.integers(1, 3))
    calc = yearly_calculation(draw, year)
    yearly = Decimal(calc["yearly_contribution"])
    costs = r2(yearly * Decimal(calc["management_costs_percent"]) / 100)
    definitive = yearly + costs
    paid = draw(st.decimals(Decimal("0"), Decimal("40000"), places=2))
    balance = definitive - paid
    payload: dict[str, Any] = {
        "year": year,
        "calculation": calc,
        "management_costs": str(costs),
        "definitive_total": str(definitive),
        "provisional_paid": str(paid),
        "balance": str(balance),
    }
    if balance > 0:
        nq_year, nq = (issued.year + 1, 1) if q_of(issued) == 4 else (issued.year, q_of(issued) + 1)
        payload["due_date"] = q_end(nq_year, nq).isoformat()
        payload["payment"] = {
            **ACCOUNT,
            "structured_communication": ogm(draw(st.integers(0, 10**10 - 1))),
        }
    elif balance < 0:
        payload["refund"] = {
            "iban": "BE71096123456769",
            "on_or_before": (issued + timedelta(days=draw(st.integers(0, 90)))).isoformat(),
        }
    event = envelope(draw, "regularisation_notice", issued)
    event["payload"] = payload
    return event, issued


def surcharges(kind: str, due: date, amount: Decimal, issued: date) -> list[dict[str, str]]:
    """Domain §4 and §6, written out: the dates a surcharge falls on before the letter date."""
    out: list[tuple[date, Decimal]] = []
    if kind == "company_contribution":
        y, m = due.year, due.month
        while True:
            y, m = (y + 1, 1) if m == 12 else (y, m + 1)
            if date(y, m, 1) > issued:
                break
            out.append((date(y, m, 1), Decimal("1")))
    else:
        for y in range(due.year, issued.year + 1):
            for q in (1, 2, 3, 4):
                end = q_end(y, q)
                if due <= end < issued:
                    out.append((end, Decimal("3")))
        if date(due.year + 1, 1, 1) <= issued:
            out.append((date(due.year + 1, 1, 1), Decimal("7")))
    out.sort()
    return [
        {"on": d.isoformat(), "rate_percent": str(r), "amount": str(r2(amount * r / 100))}
        for d, r in out
    ]


@st.composite
def open_items(draw: Any, issued: date) -> list[dict[str, Any]]:
    n = draw(st.integers(1, 4))
    refs = draw(st.lists(st.integers(0, 10**10 - 1), min_size=n, max_size=n, unique=True))
    items = []
    for ref in refs:
        kind = draw(st.sampled_from(["provisional", "regularisation", "company_contribution"]))
        back = draw(st.integers(1, 12))
        y, q = issued.year, q_of(issued)
        for _ in range(back):
            y, q = (y - 1, 4) if q == 1 else (y, q - 1)
        due = q_end(y, q) if kind != "company_contribution" else date(y, 6, 30)
        if due >= issued:
            due = date(issued.year - 1, 6, 30)
        amount = draw(amounts)
        lines = surcharges(kind, due, amount, issued)
        items.append(
            {
                "kind": kind,
                "year": due.year,
                "quarter": None if kind == "company_contribution" else q_of(due),
                "original_due_date": due.isoformat(),
                "amount": str(amount),
                "structured_communication": ogm(ref),
                "surcharge_lines": lines,
                "surcharges": str(sum((Decimal(s["amount"]) for s in lines), Decimal("0"))),
            }
        )
    return items


def arrears(draw: Any, issued: date) -> dict[str, Any]:
    items = draw(open_items(issued))
    surcharge_total = sum((Decimal(i["surcharges"]) for i in items), Decimal("0"))
    covering = None
    if draw(st.booleans()):
        covering = (
            items[0]["structured_communication"]
            if len(items) == 1
            else ogm(draw(st.integers(0, 10**10 - 1)))
        )
        if len(items) > 1 and covering in {i["structured_communication"] for i in items}:
            covering = None
    return {
        "open_items": items,
        "surcharges_total": str(surcharge_total),
        "total_due": str(
            sum((Decimal(i["amount"]) for i in items), Decimal("0")) + surcharge_total
        ),
        "payment": {**ACCOUNT, "structured_communication": covering},
        "contact": {"name": "Sofie Van den Broeck", "phone": "+32 2 555 01 23"},
    }


@st.composite
def payment_reminders(draw: Any) -> tuple[dict[str, Any], date]:
    issued = draw(days)
    event = envelope(draw, "payment_reminder", issued)
    event["payload"] = arrears(draw, issued) | {
        "new_deadline": (issued + timedelta(days=draw(st.integers(14, 60)))).isoformat()
    }
    return event, issued


@st.composite
def formal_notices(draw: Any) -> tuple[dict[str, Any], date]:
    issued = draw(days)
    month = issued.month % 12 + 1
    year = issued.year + (issued.month == 12)
    one_month = date(year, month, min(issued.day, calendar.monthrange(year, month)[1]))
    event = envelope(draw, "formal_notice", issued)
    event["payload"] = arrears(draw, issued) | {
        "deadline": (one_month + timedelta(days=draw(st.integers(0, 30)))).isoformat(),
        "next_step": draw(st.sampled_from(["judicial_recovery", "enforcement_order"])),
    }
    return event, issued


@st.composite
def decisions(draw: Any) -> tuple[dict[str, Any], date]:
    issued = draw(days)
    decided = issued - timedelta(days=draw(st.integers(0, 30)))
    payload: dict[str, Any] = {
        "kind": "refusal",
        "decision_date": decided.isoformat(),
        "request_received_on": (decided - timedelta(days=draw(st.integers(0, 90)))).isoformat(),
        "subject": "Vermindering van uw voorlopige bijdragen",
        "outcome": "Wij weigeren uw voorlopige bijdragen te verminderen.",
        "reasons_in_fact": ["Bij uw aanvraag zaten geen stukken."],
        "reasons_in_law": ["Een vermindering vraagt objectieve gegevens."],
        "legal_basis": ["Koninklijk besluit nr. 38 van 27 juli 1967, artikel 11, § 3, zesde lid"],
        "appeal": {
            "court": COURT,
            "deadline_months": 3,
            "file_reference": "BES/2026/BIJ/0001",
            "handling_service": "Dienst Bijdragen",
            "explanations": {"name": "Dienst Bijdragen", "phone": "+32 2 555 01 20"},
        },
    }
    if draw(st.booleans()):
        end = decided - timedelta(days=draw(st.integers(0, 400)))
        lines = draw(st.lists(amounts, min_size=1, max_size=4))
        payload |= {"kind": "recovery", "request_received_on": None}
        payload["recovery"] = {
            "total": str(sum(lines, Decimal("0"))),
            "calculation": [
                {"label": f"Uitkering {i + 1}", "amount": str(a)} for i, a in enumerate(lines)
            ],
            "period_from": (end - timedelta(days=draw(st.integers(0, 365)))).isoformat(),
            "period_to": end.isoformat(),
            "provisions_breached": ["Wet van 22 december 2016, artikel 7"],
            "prescription_years": 3,
            "due_date": (issued + timedelta(days=draw(st.integers(30, 120)))).isoformat(),
            "payment": {
                **ACCOUNT,
                "structured_communication": ogm(draw(st.integers(0, 10**10 - 1))),
            },
        }
    event = envelope(draw, "decision", issued)
    event["payload"] = payload
    return event, issued


@st.composite
def tax_certificates(draw: Any) -> tuple[dict[str, Any], date]:
    issued = draw(days)
    year = issued.year - draw(st.integers(1, 3))
    quarters = draw(st.lists(st.integers(1, 4), min_size=1, max_size=4, unique=True))
    paid = [{"quarter": q, "amount": str(draw(amounts))} for q in sorted(quarters)]
    refunds = draw(st.decimals(Decimal("0"), Decimal("500"), places=2))
    total = sum((Decimal(p["amount"]) for p in paid), Decimal("0")) - refunds
    event = envelope(draw, "tax_certificate", issued)
    event["payload"] = {
        "year": year,
        "paid": paid,
        "refunds": str(refunds),
        "deductible_total": str(total),
    }
    return event, issued


@st.composite
def company_notices(draw: Any) -> tuple[dict[str, Any], date]:
    issued = draw(days)
    year = (
        issued.year if date(issued.year, 6, 30) >= issued + timedelta(days=14) else issued.year + 1
    )
    event = envelope(draw, "company_contribution_notice", issued, COMPANY)
    event["payload"] = {
        "enterprise_number": COMPANY["enterprise_number"],
        "year": year,
        "tier": draw(st.sampled_from(["standard", "higher"])),
        "tier_threshold": str(draw(amounts)),
        "amount": str(draw(amounts)),
        "due_date": date(year, 6, 30).isoformat(),
        "payment": {**ACCOUNT, "structured_communication": ogm(draw(st.integers(0, 10**10 - 1)))},
    }
    return event, issued


@st.composite
def account_statements(draw: Any) -> tuple[dict[str, Any], date]:
    issued = draw(days)
    statement = issued - timedelta(days=draw(st.integers(0, 10)))
    movements = []
    for _ in range(draw(st.integers(0, 8))):
        debit = draw(st.booleans())
        amount = str(draw(amounts))
        movements.append(
            {
                "booked_on": (statement - timedelta(days=draw(st.integers(0, 365)))).isoformat(),
                "kind": "contribution" if debit else "payment",
                "year": statement.year,
                "quarter": q_of(statement),
                "debit": amount if debit else "0.00",
                "credit": "0.00" if debit else amount,
            }
        )
    opening = draw(st.decimals(Decimal("-1000"), Decimal("1000"), places=2))
    balance = opening + sum(
        (Decimal(m["debit"]) - Decimal(m["credit"]) for m in movements), Decimal("0")
    )
    payload: dict[str, Any] = {
        "statement_date": statement.isoformat(),
        "opening_balance": str(opening),
        "movements": movements,
        "balance": str(balance),
    }
    if balance > 0 and draw(st.booleans()):
        payload["pay_by"] = (issued + timedelta(days=draw(st.integers(14, 60)))).isoformat()
        payload["payment"] = {
            **ACCOUNT,
            "structured_communication": ogm(draw(st.integers(0, 10**10 - 1))),
        }
    event = envelope(draw, "account_statement", issued)
    event["payload"] = payload
    return event, issued


BY_TYPE = {
    "contribution_notice": contribution_notices(),
    "regularisation_notice": regularisation_notices(),
    "payment_reminder": payment_reminders(),
    "formal_notice": formal_notices(),
    "decision": decisions(),
    "tax_certificate": tax_certificates(),
    "company_contribution_notice": company_notices(),
    "account_statement": account_statements(),
}
