"""Payment data as pure functions: structured communication (OGM/VCS) and the EPC QR payload."""

from __future__ import annotations

from decimal import Decimal

import segno
import segno.helpers
from stdnum.be import ogm_vcs

from comms.identifiers import digits_only

EPC_MAX_PAYLOAD_BYTES = 331  # EPC069-12 §3: the whole payload
EPC_MAX_NAME_CHARS = 70  # EPC069-12: beneficiary name
EPC_MAX_AMOUNT = Decimal("999999999.99")  # EPC069-12: line 8
EPC_MIN_AMOUNT = Decimal("0.01")


def ogm_check_digits(base10: str) -> str:
    """The two check digits: the 10-digit number mod 97, and 97 when that is 0 (Febelfin)."""
    return str(ogm_vcs.calc_check_digits(base10))


def is_valid_structured_communication(value: str) -> bool:
    """Accepts the 12 digits or the printed +++ddd/dddd/ddddd+++ form, nothing else."""
    raw = value.strip()
    if raw.startswith("+++") or raw.startswith("***"):
        if len(raw) != 20 or raw[3:6].isdigit() is False or raw[6] != "/" or raw[11] != "/":
            return False
        raw = raw[3:6] + raw[7:11] + raw[12:17]
    if len(raw) != 12 or not raw.isdigit():
        return False
    return ogm_check_digits(raw[:10]) == raw[10:]


def normalise_structured_communication(value: str) -> str:
    """The 12 digits used in payment files and QR codes."""
    return digits_only(value)


def structured_communication_from_base(base10: str) -> str:
    """Builds the 12 digits from a 10-digit debt number (one reference per debt, domain §2)."""
    if len(base10) != 10 or not base10.isdigit():
        raise ValueError("a structured communication is built from exactly 10 digits")
    return base10 + ogm_check_digits(base10)


def format_structured_communication(value: str) -> str:
    """Paper form +++ddd/dddd/ddddd+++."""
    d = digits_only(value)
    return f"+++{d[0:3]}/{d[3:7]}/{d[7:12]}+++"


def epc_payload(
    *, beneficiary: str, iban: str, bic: str | None, amount: Decimal, reference: str
) -> str:
    """The QR's text (EPC069-12), via segno's builder; the OGM goes in line 10 (domain §3)."""
    if not EPC_MIN_AMOUNT <= amount <= EPC_MAX_AMOUNT:
        raise ValueError("EPC QR amount must lie between 0.01 and 999999999.99 euro")
    data = segno.helpers._make_epc_qr_data(  # type: ignore[attr-defined]  # no public builder
        beneficiary[:EPC_MAX_NAME_CHARS],
        iban.replace(" ", "").upper(),
        amount,
        None,
        normalise_structured_communication(reference),
        bic or None,
        None,
        "utf-8",
    )
    text = data.decode("utf-8") if isinstance(data, bytes) else str(data)
    if len(text.encode("utf-8")) > EPC_MAX_PAYLOAD_BYTES:
        raise ValueError("EPC QR payload exceeds 331 bytes")
    return text


def epc_qr(
    *, beneficiary: str, iban: str, bic: str | None, amount: Decimal, reference: str
) -> segno.QRCode:
    """The EPC QR code: error correction M, never boosted (EPC069-12)."""
    payload = epc_payload(
        beneficiary=beneficiary, iban=iban, bic=bic, amount=amount, reference=reference
    )
    return segno.make_qr(payload, error="m", boost_error=False, encoding="utf-8")
