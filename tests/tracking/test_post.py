"""Print batches, the print shop's acknowledgements and returned mail, as ledger states."""

from __future__ import annotations

from pathlib import Path

import pytest

from comms import tracking
from comms.app import build_app, build_print_batcher
from comms.embedded import Embedded
from comms.errors import SettingsProblem
from comms.models import ChannelName, Status
from comms.settings import REPO_ROOT, Settings
from tests.fakes import StubPdf
from tests.tracking.conftest import Rig

TRACKING = "RR473109265BE"  # a valid UPU S10 registered-mail number
NOTICE = "sample-formal-notice-nl"  # registered post
DECISION = "sample-decision-nl"  # no eBox: ordinary post


async def posted(rig: Rig) -> dict[str, str]:
    """Both letters spooled and batched; event id → post communication id."""
    notice = await rig.run("formal-notice-nl")
    decision = await rig.run("decision-nl")
    summary = await tracking.cut_print_batches(rig.app, force=True)
    assert summary.kinds == {"batches": 1, "letters": 2}
    assert summary.verdicts == {"recorded": 2}
    return {
        NOTICE: rig.cid(notice, ChannelName.POST),
        DECISION: rig.cid(decision, ChannelName.POST),
    }


async def test_a_batch_then_printed_then_posted_with_its_tracking_number(rig: Rig) -> None:
    """dispatched (batch) → dispatched (printed) → delivered (posted, registered number)."""
    cids = await posted(rig)
    batcher = build_print_batcher(rig.app.settings)
    place = {p.communication_id: p for p in batcher.placed()}
    notice = place[cids[NOTICE]]
    ack = (
        "batch_id,sequence,communication_id,event,date,tracking_number\n"
        f"{notice.batch_id},{notice.sequence},,printed,2027-01-05,\n"
        f",,{cids[NOTICE]},posted,2027-01-06,{TRACKING}\n"
        f",,{cids[DECISION]},posted,2027-01-06,\n"
    ).encode()

    summary = await tracking.import_acknowledgements(rig.app, ack)

    assert summary.problems == [] and summary.verdicts == {"recorded": 3}
    rows = [(s, r) for c, s, r in rig.rows(NOTICE) if c == "post"]
    assert rows == [
        ("routed", "registered post required for this document type"),
        ("dispatched", "registered post required for this document type"),  # spooled
        ("dispatched", "put in a print batch"),
        ("dispatched", "printed by the print shop"),
        ("delivered", "handed to the post office by the print shop as registered mail"),
    ]
    delivered = rig.app.ledger.latest_for(cids[NOTICE])
    assert delivered is not None and delivered.evidence["registered_tracking_number"] == TRACKING
    assert delivered.evidence["print_batch"] == notice.batch_id
    assert rig.app.ledger.find_by_evidence("registered_tracking_number", TRACKING) == delivered

    again = await tracking.import_acknowledgements(rig.app, ack)
    assert again.verdicts == {"already": 3}
    stale = await tracking.import_acknowledgements(
        rig.app, f"communication_id,event,date\n{cids[NOTICE]},printed,2027-01-07\n".encode()
    )
    assert stale.verdicts == {"stale": 1}  # printed again after posted: not recorded


async def test_returned_mail_flags_the_address_and_later_letters_wait_for_a_new_one(
    rig: Rig,
) -> None:
    """Moved away: `returned`, the address flagged; the next decision is not printed for it."""
    cids = await posted(rig)
    returns = f"communication_id,returned_on,reason\n{cids[DECISION]},2027-01-12,moved\n".encode()

    summary = await tracking.import_returns(rig.app, returns)

    assert summary.verdicts == {"recorded": 1}
    returned = rig.app.ledger.latest_for(cids[DECISION])
    assert returned is not None and returned.status is Status.RETURNED
    assert returned.reason == "returned mail: moved; the dossier's address is flagged"
    flag = returned.evidence["address_flag"]
    assert len(flag) == 64 and "Kerkstraat" not in str(dict(returned.evidence))

    nxt = await rig.run("decision-nl", event_id="decision-nl-2")
    assert nxt.verdict == "failed" and nxt.deliveries == ()
    [dead] = [r for c, s, r in rig.rows("decision-nl-2") if s == "failed"]
    assert dead == (
        "no channel left: dead letter, needs an operator (skipped: ebox: no eBox known for the "
        "recipient; post: the dossier's address is flagged (returned mail); email: never for "
        "decision (a decision starts the appeal period: eBox or paper only))"
    )

    moved = await rig.run(
        "decision-nl",
        event_id="decision-nl-3",
        recipient__address={
            "street": "Nieuwstraat",
            "number": "1",
            "postcode": "9000",
            "municipality": "Gent",
        },
    )
    assert moved.verdict == "sent"  # a new address lifts the flag by itself

    # Registered mail goes to the legal address even so (routing.toml: post_to_flagged_address).
    notice = await rig.run("formal-notice-nl", event_id="formal-notice-nl-2", dossier="D-000104")
    assert notice.verdict == "sent"
    [routed] = [r for c, s, r in rig.rows("formal-notice-nl-2") if s == "routed"]
    assert routed == (
        "registered post required for this document type"
        " (address flagged after returned mail; sent to the legal address anyway)"
    )


async def test_refused_registered_mail_is_returned_but_the_address_stands(rig: Rig) -> None:
    """Refused or not collected: the address was right; nothing is flagged."""
    cids = await posted(rig)
    returns = f"communication_id,returned_on,reason\n{cids[NOTICE]},2027-01-20,not_collected\n"

    summary = await tracking.import_returns(rig.app, returns.encode())

    assert summary.verdicts == {"recorded": 1}
    returned = rig.app.ledger.latest_for(cids[NOTICE])
    assert returned is not None and "address_flag" not in returned.evidence
    assert returned.reason == "returned mail: not_collected"
    again = await rig.run("formal-notice-nl", event_id="formal-notice-nl-3")
    assert again.verdict == "sent"


async def test_a_crash_between_the_cut_and_the_ledger_is_repaired(rig: Rig) -> None:
    """The batch exists but its rows do not: the next cut records them."""
    notice = await rig.run("formal-notice-nl")
    build_print_batcher(rig.app.settings).cut(force=True)  # as if the process died right after
    post_cid = rig.cid(notice, ChannelName.POST)
    assert rig.app.ledger.latest_for(post_cid).reason != "put in a print batch"  # type: ignore[union-attr]

    summary = await tracking.cut_print_batches(rig.app, force=True)

    assert summary.kinds == {"batches": 0, "letters": 0} and summary.verdicts == {"recorded": 1}
    latest = rig.app.ledger.latest_for(post_cid)
    assert latest is not None and latest.reason == "put in a print batch"


async def test_a_returned_letter_follows_the_returned_chain_when_the_policy_has_one(
    embedded: Embedded, tmp_path: Path
) -> None:
    """An operator's policy: reminders on paper first, by email when the paper comes back."""
    policy = tmp_path / "routing.toml"
    policy.write_text(
        (REPO_ROOT / "comms" / "routing.toml").read_text(encoding="utf-8")
        + '[types.payment_reminder]\norder = ["post", "email"]\n'
        '[types.payment_reminder.fallback]\nreturned = ["email"]\n',
        encoding="utf-8",
    )
    app = build_app(embedded.settings.model_copy(update={"routing_policy": policy}), pdf=StubPdf())
    async with app:
        rig = Rig(app, embedded)
        sent = await rig.run("payment-reminder-nl")
        assert [d.channel for d in sent.deliveries] == [ChannelName.POST]
        await tracking.cut_print_batches(app, force=True)
        post_cid = rig.cid(sent, ChannelName.POST)
        returns = f"communication_id,returned_on,reason\n{post_cid},2027-01-12,moved\n"

        summary = await tracking.import_returns(app, returns.encode())

        assert [f.verdict for f in summary.fallbacks] == ["sent"]
        event = "sample-payment-reminder-nl"
        assert rig.statuses(event)[-4:] == [
            ("post", Status.RETURNED),
            ("email", Status.ROUTED),
            ("email", Status.DISPATCHED),
            ("post", Status.SUPERSEDED),
        ]
        assert rig.rows(event)[-3][2] == "returned mail (moved): fallback to email"
        assert len(embedded.smtp.messages()) == 1


async def test_registered_mail_presented_at_the_address_dates_its_notification(rig: Rig) -> None:
    """posted, then presented: the presentation day is when the member counts as notified."""
    cids = await posted(rig)
    ack = (
        "communication_id,event,date,tracking_number\n"
        f"{cids[NOTICE]},posted,2027-01-06,{TRACKING}\n"
        f"{cids[NOTICE]},presented,2027-01-08,{TRACKING}\n"
    ).encode()
    summary = await tracking.import_acknowledgements(rig.app, ack)
    assert summary.problems == [] and summary.verdicts == {"recorded": 2}
    latest = rig.app.ledger.latest_for(cids[NOTICE])
    assert latest is not None and latest.status is Status.DELIVERED
    assert latest.reason == "registered mail presented at the address by the carrier"
    rows = [e for e in rig.app.ledger.history(NOTICE) if e.communication_id == cids[NOTICE]]
    notified = rig.app.notification.deemed(rows)
    assert notified is not None and notified.on.isoformat() == "2027-01-08"
    assert "presented" in notified.rule


def test_without_an_envelope_the_app_does_not_start(settings: Settings) -> None:
    """The print batches are built with the app: no envelope is a setting to fix, named."""
    with pytest.raises(SettingsProblem, match="COMMS_POST_ENVELOPES"):
        build_app(settings.model_copy(update={"post_envelopes": {}}))
