"""Babel-backed Jinja filters, so amounts and dates read as each locale writes them (domain §7)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from babel import Locale
from babel.dates import format_date
from babel.numbers import format_currency, format_decimal

from comms.identifiers import format_enterprise_number, format_iban, format_national_number
from comms.payment import format_structured_communication

SHORT_DATE_PATTERN = "dd/MM/yyyy"  # fr_BE's default short date has a two-digit year (domain §7)
NO_BREAK_SPACE = "\u00a0"  # a number and its unit, a postcode and its town, stay on one line


def _as_date(value: date | datetime) -> date:
    """Refuses anything but a date: Babel would print today's date for None, silently."""
    if isinstance(value, datetime):
        return value.date()
    if not isinstance(value, date):
        raise TypeError("a date filter needs a date; use {% if … %} around optional dates")
    return value


def nobreak(text: str) -> str:
    """Every space a no-break space: for short units of data such as `1000 Brussel` or `8 h 30`."""
    return str(text).replace(" ", NO_BREAK_SPACE)


def filters_for(locale: str) -> dict[str, Callable[..., Any]]:
    """The filters templates use; every one is bound to the letter's single locale."""
    territories = Locale.parse(locale).territories

    def money(value: Decimal) -> str:
        if not isinstance(value, Decimal | int):
            raise TypeError("money needs an amount; use {% if … %} around optional amounts")
        return format_currency(value, "EUR", locale=locale)

    def date_long(value: date | datetime) -> str:
        day = _as_date(value)
        text = format_date(day, format="long", locale=locale)
        if locale.startswith("fr") and day.day == 1:
            return "1er" + text[1:]  # French writes the first of the month as an ordinal
        return text

    def date_short(value: date | datetime) -> str:
        return format_date(_as_date(value), format=SHORT_DATE_PATTERN, locale=locale)

    def number(value: Decimal | int) -> str:
        return format_decimal(value, locale=locale)

    def percent(value: Decimal | int) -> str:
        """`20,5 %`: the number as the locale writes it, a no-break space, the sign (house style in
        both languages; CLDR's nl_BE pattern has no space)."""
        return format_decimal(value, locale=locale) + NO_BREAK_SPACE + "%"

    def country_name(code: str) -> str:
        return str(territories.get(code, code)).upper()

    return {
        "money": money,
        "date_long": date_long,
        "date_short": date_short,
        "number": number,
        "percent": percent,
        "nobreak": nobreak,
        "country_name": country_name,
        "ogm": format_structured_communication,
        "iban": format_iban,
        "insz": format_national_number,
        "kbo": format_enterprise_number,
    }
