"""The sample story reads as a member's real file would: every charge booked in its own quarter."""

from __future__ import annotations

from datetime import date

import pytest

from comms.samples import all_samples


@pytest.mark.parametrize("today", [date(2027, 2, 10), date(2027, 5, 10), date(2027, 11, 20)])
def test_the_statement_books_each_quarter_on_its_first_day(today: date) -> None:
    statements = [s for s in all_samples(today).values() if s["type"] == "account_statement"]
    assert statements
    for statement in statements:
        charges = [m for m in statement["payload"]["movements"] if m["kind"] == "contribution"]
        assert len(charges) == 4
        for charge in charges:
            booked = date.fromisoformat(str(charge["booked_on"]))
            assert booked == date(charge["year"], 3 * charge["quarter"] - 2, 1)
