"""Bounces: DSNs as Postfix, Exchange and Gmail send them, told apart from auto-replies."""

from __future__ import annotations

import json
import mailbox
from pathlib import Path

import pytest

from channels.base import BounceKind
from channels.bounces import BounceMailbox, classify, communication_id_of
from channels.mailboxes import read_messages

FIXTURES = Path(__file__).parent / "fixtures" / "dsn"
DOMAIN = "fonds.example"
CID = "5d1c0b7a9e3f4a2b8c6d0e1f2a3b4c5d"  # the Message-ID left-hand side in every fixture


def raw(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@pytest.mark.parametrize(
    ("fixture", "kind", "status", "smtp_code"),
    [
        ("postfix-user-unknown.eml", BounceKind.FAILED, "5.1.1", "550"),
        ("exchange-recipient-not-found.eml", BounceKind.FAILED, "5.1.10", "550"),
        ("gmail-no-such-user.eml", BounceKind.FAILED, "5.1.1", "550"),
        ("postfix-delayed.eml", BounceKind.DELAYED, "4.4.1", ""),
    ],
)
def test_dsns_are_classified_and_traced_to_our_message(
    fixture: str, kind: BounceKind, status: str, smtp_code: str
) -> None:
    """Each shape names our communication and its worst recipient status."""
    report = classify(raw(fixture), message_id_domain=DOMAIN)

    assert report.kind is kind
    assert report.communication_ids == (CID,)
    assert report.recipients[0].status == status
    assert report.recipients[0].smtp_code == smtp_code
    assert report.why == "RFC 3464 delivery status"


@pytest.mark.parametrize("fixture", ["exchange-out-of-office.eml", "vacation-subject-only.eml"])
def test_auto_replies_are_not_bounces(fixture: str) -> None:
    """An out-of-office answer names our message but changes nothing."""
    report = classify(raw(fixture), message_id_domain=DOMAIN)

    assert report.kind is BounceKind.AUTO_REPLY
    assert report.communication_ids == (CID,)
    assert report.status_updates() == []


def test_a_human_reply_and_a_bounce_without_dsn_are_left_to_people() -> None:
    """Neither is guessed into a state change."""
    human = classify(raw("human-reply.eml"), message_id_domain=DOMAIN)
    legacy = classify(raw("legacy-bounce-without-dsn.eml"), message_id_domain=DOMAIN)

    assert human.kind is BounceKind.UNKNOWN and human.why == "not a bounce"
    assert legacy.kind is BounceKind.UNKNOWN and legacy.why == "from a mail system, no DSN"
    assert human.status_updates() == legacy.status_updates() == []


def test_hard_bounce_evidence_keeps_codes_and_no_personal_data() -> None:
    """What goes into the immutable ledger: action, codes, a fixed meaning, the report's hash."""
    [update] = classify(raw("postfix-user-unknown.eml"), message_id_domain=DOMAIN).status_updates()

    assert (update.channel, update.communication_id, update.outcome) == ("email", CID, "bounced")
    assert update.evidence["dsn_status"] == "5.1.1"
    assert update.evidence["dsn_meaning"] == "permanent failure: bad destination mailbox address"
    assert update.evidence["smtp_code"] == "550"
    assert len(update.evidence["dsn_sha256"]) == 64
    text = json.dumps(dict(update.evidence))
    assert "@" not in text and "wouters" not in text.lower()


def test_free_text_in_a_dsn_never_reaches_the_evidence() -> None:
    """A reporting server's words are not codes: an odd Action or a Diagnostic-Code without a
    reply code must not put a name or a street number into the chained evidence (issue 13)."""
    odd = (
        raw("postfix-user-unknown.eml")
        .replace(b"Action: failed", b"Action: Wouters")
        .replace(b"smtp; 550 5.1.1", b"smtp; mailbox of Els, Kerkstraat 250")
    )
    report = classify(odd, message_id_domain=DOMAIN)

    assert report.recipients[0].action == "unknown"
    assert report.recipients[0].smtp_code == ""
    assert report.kind is BounceKind.UNKNOWN  # an action we cannot read is not a delivery
    assert report.status_updates() == []


def test_the_returned_headers_are_enough_and_the_text_is_a_last_resort() -> None:
    """Without the returned-headers part, In-Reply-To or the report text still correlate."""
    stripped = raw("gmail-no-such-user.eml").split(b"Content-Type: text/rfc822-headers")[0]
    stripped = stripped.replace(b"In-Reply-To:", b"X-Was-In-Reply-To:")
    stripped = stripped.replace(b"References:", b"X-Was-References:")

    report = classify(stripped, message_id_domain=DOMAIN)

    assert report.kind is BounceKind.FAILED
    assert report.communication_ids == (CID,)  # from X-Original-Message-ID in the report


def test_another_domain_is_not_ours() -> None:
    """A Message-ID of another sender is never taken for one of ours."""
    report = classify(raw("postfix-user-unknown.eml"), message_id_domain="other.example")

    assert report.kind is BounceKind.FAILED and report.communication_ids == ()
    assert communication_id_of(f"<{CID}@FONDS.example>", DOMAIN) == CID
    assert communication_id_of("<../../etc@fonds.example>", DOMAIN) is None


def test_maildir_mbox_folder_and_single_file_are_read(tmp_path: Path) -> None:
    """The stores `comms bounces import` accepts, each read whole and in order."""
    names = sorted(p.name for p in FIXTURES.glob("*.eml"))
    maildir = mailbox.Maildir(tmp_path / "Maildir", create=True)
    mbox = mailbox.mbox(tmp_path / "bounces.mbox", create=True)
    for name in names:
        maildir.add(raw(name))
        mbox.add(raw(name))
    mbox.flush()
    mbox.close()

    for path in (tmp_path / "Maildir", tmp_path / "bounces.mbox", FIXTURES):
        assert len(list(read_messages(path))) == len(names), path
    [(source, one)] = read_messages(FIXTURES / "gmail-no-such-user.eml")
    assert source == "gmail-no-such-user.eml" and one == raw("gmail-no-such-user.eml")

    mailbox_reader = BounceMailbox(message_id_domain=DOMAIN)
    kinds = [r.kind for _, r in mailbox_reader.reports(tmp_path / "bounces.mbox")]
    assert kinds.count(BounceKind.FAILED) == 3
    assert kinds.count(BounceKind.AUTO_REPLY) == 2
