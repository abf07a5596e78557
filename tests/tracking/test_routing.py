"""The routing policy as data: legal constraints, consents, eBox preferences, every reason kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from comms.events import parse_event
from comms.models import ChannelName
from comms.routing import Facts, PolicyError, Router
from comms.samples import load_sample
from comms.settings import REPO_ROOT
from tests.tracking.conftest import Rig

POLICY = REPO_ROOT / "comms" / "routing.toml"
COMPANY = "sample-company-contribution-notice-nl"


def router() -> Router:
    return Router.from_file(POLICY)


def event(name: str, **recipient: object):  # type: ignore[no-untyped-def]
    raw = load_sample(name)
    raw["recipient"].update(recipient)
    return parse_event(raw)


def test_the_policy_file_says_what_the_law_asks() -> None:
    """Formal notice: registered post only; decision: eBox or post, never email."""
    formal = router().plan(event("formal-notice-nl", ebox={"has_ebox": True}))
    assert [(r.channel, r.registered) for r in formal.routes] == [(ChannelName.POST, True)]

    decision = router().plan(event("decision-fr"))
    assert [r.channel for r in decision.routes] == [ChannelName.EBOX, ChannelName.POST]
    assert decision.routes[0].reason == (
        "recipient has an eBox; skipped: email: never for decision "
        "(a decision starts the appeal period: eBox or paper only)"
    )
    assert decision.fallback.unread_after_days == 14
    assert decision.fallback.unread == (ChannelName.POST,)

    notice = router().plan(event("contribution-notice-nl"))
    assert [r.channel for r in notice.routes] == [ChannelName.EMAIL, ChannelName.POST]
    assert notice.routes[0].reason == (
        "recipient gave an email address and consented to email; "
        "skipped: ebox: no eBox known for the recipient"
    )
    assert notice.fallback.bounced == (ChannelName.POST,) and notice.fallback.unread == ()


def test_consent_and_the_choice_of_ebox_only_are_respected() -> None:
    """No consent: no email. eBox only: no email, and paper stays the last resort."""
    no_consent = router().plan(event("contribution-notice-nl", consents={"email": False}))
    assert [r.channel for r in no_consent.routes] == [ChannelName.POST]
    assert "email: no address or no consent" in no_consent.routes[0].reason

    only = router().plan(
        event("contribution-notice-fr", ebox={"has_ebox": True, "exclusively_ebox": True})
    )
    assert [r.channel for r in only.routes] == [ChannelName.EBOX, ChannelName.POST]
    assert "email: recipient chose eBox only" in only.routes[0].reason


def test_looked_up_facts_override_what_upstream_knew() -> None:
    """The federation says the company has an eBox and gave up paper: eBox, no email."""
    plan = router().plan(
        event("company-contribution-notice-fr"),
        Facts(ebox_known=True, exclusively_ebox=True, notes=("example note",)),
    )
    assert [r.channel for r in plan.routes] == [ChannelName.EBOX, ChannelName.POST]
    assert plan.routes[0].reason == (
        "recipient has an eBox (eBox preferences); "
        "skipped: email: recipient chose eBox only (eBox preferences); noted: example note"
    )


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ("[types.decison]\norder = ['post']\n", "unknown document type decison"),
        ("[types.decision]\norder = ['post']\nregistred = true\n", "unknown keys"),
        ("[types.decision]\norder = ['email', 'post']\nnever = ['email']\nlegal = 'x'\n", "both"),
        ("[types.tax_certificate]\norder = ['post']\nnever = ['email']\n", "legal reason"),
        ("[types.formal_notice]\norder = ['ebox']\n", "post in the order"),
        # what the law fixes in comms/doctypes/ cannot be undone by the file
        ("[types.decision]\norder = ['ebox']\nregistered = true\n", "registered disagrees"),
        ("[types.formal_notice]\nregistered = false\n", "registered disagrees"),
        ("[types.decision]\nnever = []\n", "never drops"),
        ("[types.decision]\norder = ['fax']\n", "unknown channel"),
        ("[default.fallback]\nunread = ['post']\n", "unread_after_days is 0"),
        ("[default.fallback]\nbounced = ['email', 'post']\n", "email cannot follow itself"),
        (
            "[types.decision]\nnever = ['email']\nlegal = 'x'\norder = ['post']\n"
            "[types.decision.fallback]\nbounced = ['email']\n",
            "never uses",
        ),
    ],
)
def test_a_wrong_policy_stops_the_service_at_start(
    tmp_path: Path, policy: str, message: str
) -> None:
    """A typo must not route a decision by email: refused at load, with what is wrong."""
    path = tmp_path / "routing.toml"
    path.write_text(policy, encoding="utf-8")
    with pytest.raises(PolicyError, match=message):
        Router.from_file(path)


async def test_company_preferences_come_from_the_federation_and_are_recorded(rig: Rig) -> None:
    """The simulator knows the company's eBox (exclusively): it goes there, and the ledger says why."""
    rig.set_preference("0852093431", exclusively_ebox=True)
    outcome = await rig.run("company-contribution-notice-nl", recipient__ebox={"has_ebox": False})

    assert [d.channel for d in outcome.deliveries] == [ChannelName.EBOX]
    [routed] = [r for c, s, r in rig.rows(COMPANY) if s == "routed"]
    assert routed.startswith("recipient has an eBox (eBox preferences)")
    assert "email: recipient chose eBox only (eBox preferences)" in routed


async def test_preferences_unavailable_fall_back_to_what_upstream_said(rig: Rig) -> None:
    """The federation down: routing goes on with the event's own knowledge, and notes it."""
    rig.fail_ebox(503, count=1)
    outcome = await rig.run("company-contribution-notice-nl")

    assert outcome.verdict == "sent"
    [routed] = [r for c, s, r in rig.rows(COMPANY) if s == "routed"]
    assert routed.endswith("noted: eBox preferences unavailable")


def test_the_files_default_order_rules_every_type_that_does_not_pin_its_own(
    tmp_path: Path,
) -> None:
    """An operator who changes `[default] order` changes it for the types without a legal
    order of their own; decisions and formal notices keep the one the law gives them."""
    path = tmp_path / "routing.toml"
    path.write_text('[default]\norder = ["post", "email", "ebox"]\n', encoding="utf-8")
    policies = Router.from_file(path)

    post_first = (ChannelName.POST, ChannelName.EMAIL, ChannelName.EBOX)
    for name in ("contribution_notice", "payment_reminder", "tax_certificate", "account_statement"):
        assert policies.policy(name).order == post_first, name
    assert policies.policy("decision").order == (ChannelName.EBOX, ChannelName.POST)
    assert policies.policy("formal_notice").order == (ChannelName.POST,)
