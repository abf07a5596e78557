"""Belgian identifiers as pure functions: national and bis number, enterprise number, IBAN (domain §1)."""

from __future__ import annotations

import re

from stdnum import iban as stdnum_iban
from stdnum.be import bis, nn, vat

_DIGITS = re.compile(r"\D")
_SEPARATORS = re.compile(r"[ .\-]")


def digits_only(value: str) -> str:
    """Strip the dots, dashes and spaces people type into identifiers."""
    return _DIGITS.sub("", value)


def is_valid_national_number(value: str) -> bool:
    """INSZ/NISS or bis number: mod 97 and a birth date that exists (python-stdnum)."""
    compact = _SEPARATORS.sub("", value)
    if len(compact) != 11 or not compact.isdigit():
        return False
    return nn.is_valid(compact) or bis.is_valid(compact)


def is_valid_enterprise_number(value: str) -> bool:
    """KBO/BCE: 10 digits starting with 0 or 1, mod 97 (python-stdnum); the old 9-digit form is refused."""
    compact = _SEPARATORS.sub("", value)
    return len(compact) == 10 and compact.isdigit() and vat.is_valid(compact)


def is_valid_iban(value: str) -> bool:
    """ISO 13616 (python-stdnum) and, for Belgium, the BBAN's own mod-97 check (domain §1).

    Not `stdnum.be.iban`: it also refuses bank codes missing from its bundled bank list
    (BE68 5390 0754 7034 among them), and a lagging list must not refuse a member's account.
    """
    compact = value.replace(" ", "").upper()
    if not stdnum_iban.is_valid(compact, check_country=False):
        return False
    if compact.startswith("BE"):
        bban = compact[4:]
        return f"{int(bban[:10]) % 97 or 97:02d}" == bban[10:]
    return True


def format_national_number(value: str) -> str:
    """Printed form YY.MM.DD-SSS.CC."""
    d = digits_only(value)
    return f"{d[0:2]}.{d[2:4]}.{d[4:6]}-{d[6:9]}.{d[9:11]}"


def format_enterprise_number(value: str) -> str:
    """Printed form 0406.798.006."""
    d = digits_only(value)
    return f"{d[0:4]}.{d[4:7]}.{d[7:10]}"


def format_iban(value: str) -> str:
    """Printed in groups of four: BE68 5390 0754 7034."""
    iban = value.replace(" ", "").upper()
    return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))
