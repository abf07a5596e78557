"""The built-in sample events: one member's story per language and one company, dated from the run day.

Every sample carries the run day as its issue date and every date in it is counted from that day,
so the demo's letters hold together whenever they run (issue 16): the debts a reminder and a
formal notice claim are the ones the account statement shows unpaid and the tax certificate
leaves out; each debt keeps its own structured communication across the letters.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from babel.dates import format_date
from babel.numbers import format_currency

from comms.coherence.arrears import expected_surcharges
from comms.coherence.base import (
    MIN_DAYS_TO_PAY,
    add_months,
    cents,
    next_quarter,
    percent_of,
    quarter_end,
    quarter_of,
)
from comms.doctypes.company_contribution_notice import DUE_DAY, DUE_MONTH
from comms.doctypes.parts import OpenItem
from comms.models import BRUSSELS, today_in_brussels
from comms.payment import structured_communication_from_base

# Sample data, not the law: the year's ceilings and rates come from upstream (domain §4).
BANDS = (
    (Decimal("0"), Decimal("72810.95"), Decimal("20.5")),
    (Decimal("72810.95"), Decimal("107300.24"), Decimal("14.16")),
    (Decimal("107300.24"), None, Decimal("0")),
)
COSTS_PERCENT = Decimal("3.95")
PROVISIONAL_INCOME = Decimal("58000.00")  # indexed income of three years earlier
ACCOUNT = {
    "beneficiary": "Sociaal Verzekeringsfonds Voorbeeld vzw",
    "iban": "BE68539007547034",
    "bic": "GKCCBEBB",
}


@dataclass(frozen=True)
class Member:
    """One sample member and what differs between the two stories."""

    language: str
    number: int  # the member's number in the fund, in every structured communication
    recipient: dict[str, Any]
    own_iban: str
    definitive_income: Decimal  # the regularised year's income: a refund in nl, a balance due in fr
    court: dict[str, Any]
    collection: dict[str, str]
    contributions_service: dict[str, str]
    benefits_service: dict[str, str]


MEMBERS = {
    "nl": Member(
        language="nl",
        number=4211,
        recipient={
            "kind": "person",
            "national_number": "85073003328",
            "name": "An Peeters",
            "language": "nl",
            "address": {
                "street": "Kerkstraat",
                "number": "12",
                "box": "3",
                "postcode": "9000",
                "municipality": "Gent",
            },
            "email": "an.peeters@example.org",
            "ebox": {"has_ebox": False},
            "consents": {"email": True},
        },
        own_iban="BE71096123456769",
        definitive_income=Decimal("52000.00"),
        court={
            "name": "Arbeidsrechtbank Gent, afdeling Gent",
            "address": {
                "street": "Opgeëistenlaan",
                "number": "401",
                "box": "E",
                "postcode": "9000",
                "municipality": "Gent",
            },
        },
        collection={
            "name": "Sofie Van den Broeck",
            "phone": "+32 2 555 01 23",
            "email": "inning@fonds.example",
        },
        contributions_service={
            "name": "Dienst Bijdragen",
            "phone": "+32 2 555 01 20",
            "email": "bijdragen@fonds.example",
        },
        benefits_service={
            "name": "Dienst Uitkeringen",
            "phone": "+32 2 555 01 30",
            "email": "uitkeringen@fonds.example",
        },
    ),
    "fr": Member(
        language="fr",
        number=4212,
        recipient={
            "kind": "person",
            "national_number": "01010122296",
            "name": "Luc Dubois",
            "language": "fr",
            "address": {
                "street": "Rue de la Station",
                "number": "45",
                "postcode": "5000",
                "municipality": "Namur",
            },
            "email": "luc.dubois@example.org",
            "ebox": {"has_ebox": True},
            "consents": {"email": True},
        },
        own_iban="BE72000000001616",
        definitive_income=Decimal("64000.00"),
        court={
            "name": "Tribunal du travail de Liège, division Namur",
            "address": {
                "street": "Place du Palais de Justice",
                "number": "5",
                "postcode": "5000",
                "municipality": "Namur",
            },
        },
        collection={
            "name": "Nathalie Lejeune",
            "phone": "+32 2 555 01 24",
            "email": "recouvrement@fonds.example",
        },
        contributions_service={
            "name": "Service Cotisations",
            "phone": "+32 2 555 01 21",
            "email": "cotisations@fonds.example",
        },
        benefits_service={
            "name": "Service Prestations",
            "phone": "+32 2 555 01 31",
            "email": "prestations@fonds.example",
        },
    ),
}

COMPANIES = {
    "nl": {
        "kind": "company",
        "enterprise_number": "0852093431",
        "name": "Bakkerij Janssens bv",
        "language": "nl",
        "attention_of": "Marie Janssens",
        "address": {
            "street": "Markt",
            "number": "7",
            "postcode": "2000",
            "municipality": "Antwerpen",
        },
        "ebox": {"has_ebox": True, "exclusively_ebox": True},
    },
    "fr": {
        "kind": "company",
        "enterprise_number": "0474028805",
        "name": "Menuiserie Lambert srl",
        "language": "fr",
        "address": {
            "street": "Avenue Louise",
            "number": "231",
            "box": "12",
            "postcode": "1050",
            "municipality": "Ixelles",
        },
        "email": "compta@menuiserie-lambert.example",
        "consents": {"email": True},
    },
}
DOSSIERS = {  # one per sample, as before: tests and the compliance demo look them up
    "contribution-notice": "D-000101",
    "payment-reminder": "D-000102",
    "formal-notice": "D-000103",
    "decision": "D-000104",
    "decision-recovery": "D-000105",
    "tax-certificate": "D-000106",
    "company-contribution-notice": "D-000107",
    "account-statement": "D-000108",
    "regularisation-notice": "D-000109",
}


def _ogm(year: int, kind: int, number: int) -> str:
    """One debt's reference: year, debt kind (quarter 1-4, 5 company, 6 regularisation, 9 recovery)."""
    return structured_communication_from_base(f"{year:04d}{kind:01d}{number % 100000:05d}")


def _money(amount: Decimal, language: str) -> str:
    return format_currency(amount, "EUR", locale=f"{language}_BE")


def _day(day: date, language: str) -> str:
    return format_date(day, format="long", locale=f"{language}_BE")


def _yearly(income: Decimal, income_year: int) -> dict[str, Any]:
    brackets: list[dict[str, Any]] = []
    yearly = Decimal("0")
    for low, high, rate in BANDS:
        base = max(Decimal("0"), min(income, high if high is not None else income) - low)
        amount = percent_of(base, rate)
        yearly += amount
        brackets.append(
            {"income_from": low, "income_to": high, "rate_percent": rate, "amount": amount}
        )
    return {
        "reference_income": income,
        "income_year": income_year,
        "brackets": brackets,
        "yearly_contribution": yearly,
        "management_costs_percent": COSTS_PERCENT,
    }


def quarterly_amount(year: int) -> tuple[dict[str, Any], Decimal]:
    """A quarter's calculation and the amount due (contribution + the fund's costs)."""
    calc = _yearly(PROVISIONAL_INCOME, year - 3)
    contribution = cents(calc["yearly_contribution"] / 4)
    costs = percent_of(contribution, COSTS_PERCENT)
    return {**calc, "contribution": contribution, "management_costs": costs}, contribution + costs


def _quarters_back(today: date, n: int) -> tuple[int, int]:
    year, quarter = today.year, quarter_of(today)
    for _ in range(n):
        year, quarter = (year - 1, 4) if quarter == 1 else (year, quarter - 1)
    return year, quarter


def _open_item(year: int, quarter: int, number: int, today: date) -> dict[str, Any]:
    _, amount = quarterly_amount(year)
    item: dict[str, Any] = {
        "kind": "provisional",
        "year": year,
        "quarter": quarter,
        "original_due_date": quarter_end(year, quarter),
        "amount": amount,
        "structured_communication": _ogm(year, quarter, number),
    }
    due = expected_surcharges(OpenItem.model_validate(item), today)
    item["surcharge_lines"] = [
        {"on": on, "rate_percent": rate, "amount": percent_of(amount, rate)} for on, rate in due
    ]
    item["surcharges"] = sum((percent_of(amount, rate) for _, rate in due), Decimal("0"))
    return item


def _arrears(items: list[dict[str, Any]], contact: dict[str, str]) -> dict[str, Any]:
    surcharges = sum((i["surcharges"] for i in items), Decimal("0"))
    return {
        "open_items": items,
        "surcharges_total": surcharges,
        "total_due": sum((i["amount"] for i in items), Decimal("0")) + surcharges,
        "payment": dict(ACCOUNT),
        "contact": contact,
    }


def _envelope(name: str, doc_type: str, recipient: dict[str, Any], today: date) -> dict[str, Any]:
    return {
        "event_id": f"sample-{name}",
        "schema_version": 1,
        "occurred_at": datetime.combine(today, time(8), BRUSSELS).isoformat(),
        "issue_date": today.isoformat(),
        "dossier": DOSSIERS[name.rsplit("-", 1)[0]],
        "type": doc_type,
        "recipient": recipient,
    }


def _appeal(m: Member, service: dict[str, str], reference: str) -> dict[str, Any]:
    return {
        "court": m.court,
        "deadline_months": 3,
        "file_reference": reference,
        "handling_service": service["name"],
        "explanations": service,
    }


def _refusal(m: Member, today: date) -> dict[str, Any]:
    """A refused reduction of provisional contributions: a decision the fund itself takes
    (KB nr. 38, art. 11, § 3, 6th paragraph; docs/letters.md)."""
    received, decided = today - timedelta(days=23), today - timedelta(days=2)
    year, lang = today.year, m.language
    asked = _money(Decimal("20000.00"), lang)
    if lang == "nl":
        texts = {
            "subject": f"Vermindering van uw voorlopige bijdragen voor {year}",
            "outcome": f"Wij weigeren uw voorlopige bijdragen voor {year} te verminderen.",
            "fact": f"Op {_day(received, lang)} vroeg u om voor {year} voorlopige bijdragen te betalen "
            f"op een geschat beroepsinkomen van {asked}. Bij uw aanvraag zaten geen stukken die "
            "aantonen dat uw beroepsinkomen van dit jaar zo laag zal zijn, zoals een tussentijdse "
            "boekhouding of een overzicht van uw omzet.",
            "law": "Het fonds kan de voorlopige bijdragen alleen verminderen als u met objectieve "
            "gegevens aantoont dat uw beroepsinkomen van het bijdragejaar lager zal zijn dan het "
            "inkomen waarop de bijdragen nu berekend zijn.",
            "basis": [
                "Koninklijk besluit nr. 38 van 27 juli 1967, artikel 11, § 3, zesde lid",
                "Ministerieel besluit van 9 juli 2014 (aanvraagformulier)",
            ],
        }
        reference = f"BES/{year}/BIJ/{m.number:04d}"
    else:
        texts = {
            "subject": f"Réduction de vos cotisations provisoires pour {year}",
            "outcome": f"Nous refusons de réduire vos cotisations provisoires pour {year}.",
            "fact": f"Le {_day(received, lang)}, vous avez demandé à payer pour {year} des "
            f"cotisations provisoires sur un revenu professionnel estimé à {asked}. Votre demande "
            "n'était accompagnée d'aucune pièce démontrant que votre revenu de cette année sera "
            "aussi bas, comme une situation comptable intermédiaire ou un relevé de votre chiffre "
            "d'affaires.",
            "law": "La caisse ne peut réduire les cotisations provisoires que si vous démontrez, par "
            "des éléments objectifs, que votre revenu professionnel de l'année de cotisation sera "
            "inférieur au revenu sur lequel les cotisations sont actuellement calculées.",
            "basis": [
                "Arrêté royal n° 38 du 27 juillet 1967, article 11, § 3, alinéa 6",
                "Arrêté ministériel du 9 juillet 2014 (formulaire de demande)",
            ],
        }
        reference = f"DEC/{year}/COT/{m.number:04d}"
    return {
        "kind": "refusal",
        "decision_date": decided,
        "request_received_on": received,
        "subject": texts["subject"],
        "outcome": texts["outcome"],
        "reasons_in_fact": [texts["fact"]],
        "reasons_in_law": [texts["law"]],
        "legal_basis": texts["basis"],
        "appeal": _appeal(m, m.contributions_service, reference),
    }


def _recovery(m: Member, today: date) -> dict[str, Any]:
    """The bridging right paid for a month in which the member had resumed the activity."""
    decided = today - timedelta(days=2)
    month_end = date(today.year, today.month, 1) - timedelta(days=1)
    for _ in range(3):
        month_end = month_end.replace(day=1) - timedelta(days=1)
    month_start = month_end.replace(day=1)
    amount, lang = Decimal("1500.00"), m.language
    month = format_date(month_start, format="LLLL yyyy", locale=f"{lang}_BE")
    if lang == "nl":
        texts = (
            "Terugvordering van onterecht betaalde overbruggingsuitkering",
            f"Wij vorderen een onterecht betaald bedrag van {_money(amount, lang)} van u terug.",
            f"U ontving een overbruggingsuitkering voor {month}, terwijl u uw activiteit op "
            f"{_day(month_start, lang)} had hervat.",
            "Een overbruggingsuitkering is niet verschuldigd voor maanden waarin de activiteit "
            "wordt uitgeoefend.",
            "Wet van 22 december 2016, artikel 7",
            f"Overbruggingsuitkering {month}",
        )
        reference = f"BES/{today.year}/UIT/{m.number:04d}"
    else:
        texts = (
            "Récupération du droit passerelle payé indûment",
            f"Nous récupérons auprès de vous un montant de {_money(amount, lang)} payé indûment.",
            f"Vous avez perçu le droit passerelle pour {month} alors que vous aviez repris votre "
            f"activité le {_day(month_start, lang)}.",
            "Le droit passerelle n'est pas dû pour les mois pendant lesquels l'activité est exercée.",
            "Loi du 22 décembre 2016, article 7",
            f"Droit passerelle de {month}",
        )
        reference = f"DEC/{today.year}/PRE/{m.number:04d}"
    subject, outcome, fact, law, basis, label = texts
    return {
        "kind": "recovery",
        "decision_date": decided,
        "subject": subject,
        "outcome": outcome,
        "reasons_in_fact": [fact],
        "reasons_in_law": [law],
        "legal_basis": [basis],
        "recovery": {
            "total": amount,
            "calculation": [{"label": label, "amount": amount}],
            "period_from": month_start,
            "period_to": month_end,
            "provisions_breached": [basis],
            "prescription_years": 3,
            "instalments_possible": True,
            "due_date": add_months(today, 2),
            "payment": {**ACCOUNT, "structured_communication": _ogm(today.year, 9, m.number)},
        },
        "appeal": _appeal(m, m.benefits_service, reference),
    }


def _regularisation(m: Member, today: date) -> dict[str, Any]:
    year = today.year - 2
    calc = _yearly(m.definitive_income, year)
    costs = percent_of(calc["yearly_contribution"], COSTS_PERCENT)
    definitive = calc["yearly_contribution"] + costs
    paid = 4 * quarterly_amount(year)[1]
    balance = definitive - paid
    notice: dict[str, Any] = {
        "year": year,
        "calculation": calc,
        "management_costs": costs,
        "definitive_total": definitive,
        "provisional_paid": paid,
        "balance": balance,
    }
    if balance > 0:
        notice["due_date"] = quarter_end(*next_quarter(today.year, quarter_of(today)))
        notice["payment"] = {**ACCOUNT, "structured_communication": _ogm(year, 6, m.number)}
    elif balance < 0:
        notice["refund"] = {"iban": m.own_iban, "on_or_before": today + timedelta(days=30)}
    return notice


def _statement(m: Member, today: date) -> dict[str, Any]:
    """The year up to yesterday: four quarters charged, the oldest paid, the rest with surcharges."""
    day = today - timedelta(days=1)
    movements: list[dict[str, Any]] = []
    for back in (4, 3, 2, 1):
        year, quarter = _quarters_back(today, back)
        _, amount = quarterly_amount(year)
        first = date(year, 3 * quarter - 2, 1)  # charged on the quarter's first day
        movements.append(
            {
                "booked_on": first,
                "kind": "contribution",
                "year": year,
                "quarter": quarter,
                "debit": amount,
            }
        )
        if back == 4:
            paid_on = quarter_end(year, quarter) - timedelta(days=10)
            movements.append(
                {
                    "booked_on": paid_on,
                    "kind": "payment",
                    "year": year,
                    "quarter": quarter,
                    "credit": amount,
                }
            )
            continue
        for line in _open_item(year, quarter, m.number, day)["surcharge_lines"]:
            movements.append(
                {
                    "booked_on": line["on"],
                    "kind": "surcharge",
                    "year": year,
                    "quarter": quarter,
                    "debit": line["amount"],
                }
            )
    movements.sort(key=lambda mv: mv["booked_on"])
    balance = sum(
        (mv.get("debit", Decimal("0")) - mv.get("credit", Decimal("0")) for mv in movements),
        Decimal("0"),
    )
    return {
        "statement_date": day,
        "opening_balance": Decimal("0.00"),
        "movements": movements,
        "balance": balance,
    }


def _tax_certificate(today: date) -> dict[str, Any]:
    """Last year's quarters the member paid (cash basis): those not among the open debts."""
    year = today.year - 1
    unpaid = {_quarters_back(today, back) for back in (1, 2, 3)}
    _, amount = quarterly_amount(year)
    paid = [{"quarter": q, "amount": amount} for q in (1, 2, 3, 4) if (year, q) not in unpaid]
    total = sum((p["amount"] for p in paid), Decimal("0"))
    return {"year": year, "paid": paid, "refunds": Decimal("0.00"), "deductible_total": total}


def _contribution_notice(m: Member, today: date) -> dict[str, Any]:
    year, quarter = today.year, quarter_of(today)
    if quarter_end(year, quarter) < today + timedelta(days=MIN_DAYS_TO_PAY):
        year, quarter = next_quarter(year, quarter)
    calc, amount = quarterly_amount(year)
    return {
        "kind": "provisional",
        "year": year,
        "quarter": quarter,
        "amount": amount,
        "due_date": quarter_end(year, quarter),
        "calculation": calc,
        "payment": {**ACCOUNT, "structured_communication": _ogm(year, quarter, m.number)},
    }


def _company_notice(company: dict[str, Any], today: date) -> dict[str, Any]:
    year = today.year
    if date(year, DUE_MONTH, DUE_DAY) < today + timedelta(days=MIN_DAYS_TO_PAY):
        year += 1
    number = int(company["enterprise_number"][-5:])
    return {
        "enterprise_number": company["enterprise_number"],
        "year": year,
        "tier": "standard",
        "tier_threshold": Decimal("700000.00"),  # sample data, like the amounts (domain §6)
        "amount": Decimal("347.50"),  # sample data: the amounts are configuration (domain §6)
        "due_date": date(year, DUE_MONTH, DUE_DAY),
        "payment": {**ACCOUNT, "structured_communication": _ogm(year, 5, number)},
    }


def story(today: date) -> dict[str, dict[str, Any]]:
    """Every sample, as upstream would send it on `today`, by name (`decision-nl`)."""
    events: dict[str, dict[str, Any]] = {}

    def add(name: str, doc_type: str, recipient: dict[str, Any], payload: dict[str, Any]) -> None:
        event = _envelope(name, doc_type, recipient, today)
        event["payload"] = payload
        events[name] = _plain(event)

    for lang, m in MEMBERS.items():
        who = m.recipient
        add(
            f"contribution-notice-{lang}",
            "contribution_notice",
            who,
            _contribution_notice(m, today),
        )
        add(
            f"regularisation-notice-{lang}", "regularisation_notice", who, _regularisation(m, today)
        )
        recent = [_open_item(*_quarters_back(today, 1), m.number, today)]
        older = [_open_item(*_quarters_back(today, back), m.number, today) for back in (3, 2)]
        reminder = {**_arrears(recent, m.collection), "new_deadline": today + timedelta(days=30)}
        add(f"payment-reminder-{lang}", "payment_reminder", who, reminder)
        formal = {
            **_arrears(older, m.collection),
            "deadline": add_months(today, 1) + timedelta(days=7),
            "next_step": "judicial_recovery",
        }
        add(f"formal-notice-{lang}", "formal_notice", who, formal)
        add(f"decision-{lang}", "decision", who, _refusal(m, today))
        add(f"decision-recovery-{lang}", "decision", who, _recovery(m, today))
        add(f"tax-certificate-{lang}", "tax_certificate", who, _tax_certificate(today))
        add(f"account-statement-{lang}", "account_statement", who, _statement(m, today))
        company = COMPANIES[lang]
        add(
            f"company-contribution-notice-{lang}",
            "company_contribution_notice",
            company,
            _company_notice(company, today),
        )
    return dict(sorted(events.items()))


def _plain(value: Any) -> Any:
    """JSON-ready: dates as ISO text, amounts as strings with their cents."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def all_samples(today: date | None = None) -> dict[str, dict[str, Any]]:
    return story(today or today_in_brussels())


def load_sample(name: str, today: date | None = None) -> dict[str, Any]:
    """A sample by name, e.g. `decision-nl`; raw JSON-ready data so callers can break it on purpose."""
    return all_samples(today)[name]


def sample_for(doc_type: str, language: str, today: date | None = None) -> dict[str, Any]:
    """The first sample of this type in this language (the studio's and preview's default)."""
    for data in all_samples(today).values():
        if data["type"] == doc_type and data["recipient"]["language"] == language:
            return data
    raise KeyError(f"no sample for {doc_type}/{language}")
