"""Belgian identifiers as pure functions: national number, enterprise number, IBAN (domain §1)."""

from __future__ import annotations

import re

_DIGITS = re.compile(r"\D")


def digits_only(value: str) -> str:
    """Strip the dots, dashes and spaces people type into identifiers."""
    return _DIGITS.sub("", value)


def is_valid_national_number(value: str) -> bool:
    """INSZ/NISS: 97 − (first 9 digits mod 97); born ≥ 2000 computes on "2" + those digits."""
    digits = digits_only(value)
    if len(digits) != 11 or digits != value.replace(".", "").replace("-", "").replace(" ", ""):
        return False
    body, check = digits[:9], int(digits[9:])
    return check in (97 - int(body) % 97, 97 - int("2" + body) % 97)


def is_valid_enterprise_number(value: str) -> bool:
    """KBO/BCE: 10 digits starting with 0 or 1; last two = 97 − (first eight mod 97)."""
    digits = digits_only(value)
    if len(digits) != 10 or digits[0] not in "01":
        return False
    return int(digits[8:]) == 97 - int(digits[:8]) % 97


def is_valid_iban(value: str) -> bool:
    """ISO 13616 mod-97 check; a Belgian IBAN also carries its national check (domain §1)."""
    iban = value.replace(" ", "").upper()
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{10,30}", iban):
        return False
    rearranged = iban[4:] + iban[:4]
    if int("".join(str(int(c, 36)) for c in rearranged)) % 97 != 1:
        return False
    if iban.startswith("BE"):
        bban = iban[4:]
        if len(bban) != 12 or not bban.isdigit():
            return False
        national = int(bban[:10]) % 97 or 97
        return national == int(bban[10:])
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
