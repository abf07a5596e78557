"""The email a member receives comes from the fund in their language, and a reply reaches a person."""

from __future__ import annotations

from datetime import date
from email.headerregistry import Address
from email.utils import getaddresses

import pytest

from comms.events import parse_event
from comms.samples import load_sample
from tests.pipeline.conftest import Rig

ISSUED = date(2027, 1, 4)
FUND = {
    "nl": "Sociaal Verzekeringsfonds Voorbeeld vzw",
    "fr": "Caisse d'assurances sociales Exemple asbl",
}


@pytest.mark.parametrize(
    ("name", "lang"), [("contribution-notice-nl", "nl"), ("company-contribution-notice-fr", "fr")]
)
async def test_the_email_comes_from_the_fund_in_the_members_language_with_a_reply_address(
    rig: Rig, name: str, lang: str
) -> None:
    outcome = await rig.app.pipeline.process(parse_event(load_sample(name)), issued_on=ISSUED)
    assert outcome.verdict == "sent"
    [msg] = rig.emb.smtp.messages()
    sender = msg["From"].addresses[0]
    assert isinstance(sender, Address)
    assert sender.display_name == FUND[lang]
    assert sender.addr_spec == "noreply@fonds.example"  # the sending domain stays the operator's
    [(_, reply_to)] = getaddresses([str(msg["Reply-To"])])
    assert reply_to == "info@fonds.example"
