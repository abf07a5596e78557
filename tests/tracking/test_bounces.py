"""Hard bounces mark the email `bounced` and send the letter by post; auto-replies change nothing."""

from __future__ import annotations

import json
import mailbox
from pathlib import Path

import aiosmtplib

from channels.bounce_server import BounceServer
from comms import tracking
from comms.models import ChannelName, Status
from comms.pipeline import communication_id
from tests.tracking.conftest import Rig

FIXTURES = Path(__file__).parent.parent / "channels" / "fixtures" / "dsn"
FIXTURE_CID = "5d1c0b7a9e3f4a2b8c6d0e1f2a3b4c5d"
EVENT = "sample-contribution-notice-nl"


def about(name: str, cid: str) -> bytes:
    """A fixture rewritten to concern the communication we really sent."""
    return (FIXTURES / name).read_bytes().replace(FIXTURE_CID.encode(), cid.encode())


async def test_a_hard_bounce_falls_back_to_post_and_is_on_record(rig: Rig, tmp_path: Path) -> None:
    """Email sent, Postfix bounces it, the import marks it and posts the letter instead."""
    sent = await rig.run("contribution-notice-nl")
    email_cid = rig.cid(sent, ChannelName.EMAIL)
    [received] = rig.emb.smtp.messages()
    assert received["Message-ID"] == f"<{email_cid}@fonds.example>"
    box = mailbox.Maildir(tmp_path / "Bounces", create=True)
    box.add(about("postfix-user-unknown.eml", email_cid))
    box.add(about("exchange-out-of-office.eml", email_cid))

    summary = await tracking.import_bounces(rig.app, [tmp_path / "Bounces"])

    assert summary.kinds == {"failed": 1, "auto_reply": 1}
    assert summary.verdicts == {"recorded": 1}
    assert [f.verdict for f in summary.fallbacks] == ["sent"]
    rows = rig.rows(EVENT)
    assert [(c, s) for c, s, _ in rows[-4:]] == [
        ("email", "bounced"),
        ("post", "routed"),
        ("post", "dispatched"),
        ("email", "superseded"),
    ]
    assert rows[-4][2] == "email hard bounce: permanent failure: bad destination mailbox address"
    assert rows[-3][2] == "email hard bounce (5.1.1): fallback to post"
    bounced = next(e for e in rig.app.ledger.history(EVENT) if e.status is Status.BOUNCED)
    assert bounced.evidence["dsn_status"] == "5.1.1" and bounced.evidence["smtp_code"] == "550"
    assert "peeters" not in json.dumps(dict(bounced.evidence)).lower()
    post_cid = communication_id(EVENT, ChannelName.POST, sent.document_sha256 or "")
    assert [e.communication_id for e in rig.post_entries()] == [post_cid]
    assert rig.app.ledger.verify().ok

    again = await tracking.import_bounces(rig.app, [tmp_path / "Bounces"])

    assert again.verdicts == {"already": 1}
    assert [f.verdict for f in again.fallbacks] == ["duplicate"]
    assert len(rig.post_entries()) == 1 and len(rig.app.ledger.history(EVENT)) == len(rows)


async def test_an_auto_reply_alone_changes_nothing(rig: Rig, tmp_path: Path) -> None:
    """Out of office is not a bounce: no state, no paper."""
    sent = await rig.run("contribution-notice-nl")
    before = rig.rows(EVENT)
    reply = tmp_path / "ooo.eml"
    reply.write_bytes(about("exchange-out-of-office.eml", rig.cid(sent, ChannelName.EMAIL)))

    summary = await tracking.import_bounces(rig.app, [reply])

    assert summary.kinds == {"auto_reply": 1} and not summary.verdicts
    assert rig.rows(EVENT) == before and rig.post_entries() == []


async def test_a_bounce_for_a_message_we_never_sent_is_reported_unknown(rig: Rig) -> None:
    """A DSN about someone else's message (or a forged one) touches nothing."""
    summary = tracking.Summary()
    await tracking.handle_bounce(rig.app, about("gmail-no-such-user.eml", "f" * 32), summary)

    assert summary.kinds == {"failed": 1} and summary.verdicts == {"unknown": 1}


async def test_the_receiver_records_a_gmail_bounce_before_it_says_250(rig: Rig) -> None:
    """`comms bounces serve` end to end: SMTP in, ledger row and paper out."""
    sent = await rig.run("contribution-notice-nl")
    email_cid = rig.cid(sent, ChannelName.EMAIL)

    async def on_message(raw: bytes) -> None:
        await tracking.handle_bounce(rig.app, raw)

    async with (
        BounceServer(on_message, accept=["@fonds.example"]) as server,
        aiosmtplib.SMTP(hostname="127.0.0.1", port=server.port, timeout=10) as smtp,
    ):
        await smtp.sendmail(
            "", ["bounces@fonds.example"], about("gmail-no-such-user.eml", email_cid)
        )

    assert (ChannelName.EMAIL, Status.BOUNCED) in [
        (e.channel, e.status) for e in rig.app.ledger.history(EVENT)
    ]
    assert len(rig.post_entries()) == 1
