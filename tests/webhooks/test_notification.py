"""The day a communication is deemed notified, per channel and the fund's policy."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from types import MappingProxyType

from comms.ledger import Entry
from comms.models import ChannelName, Status
from comms.notification import NotificationPolicy

_seq = iter(range(1, 10_000))


def row(
    status: Status,
    channel: ChannelName,
    at: datetime = datetime(2026, 12, 4, 10, 0, tzinfo=UTC),
    **evidence: str,
) -> Entry:
    proof: Mapping[str, str] = MappingProxyType(dict(evidence))
    return Entry(
        seq=next(_seq), event_id="e-1", communication_id="c-1", doc_type="decision",
        channel=channel, language=None, status=status, at=at, reason=None, evidence=proof,
        document_sha256=None, template_version=None, renderer_version=None, subject_hmac=None,
        dossier=None, prev_hash="0" * 64, row_hash="0" * 64,
    )  # fmt: skip


POLICY = NotificationPolicy()


def test_ordinary_post_counts_three_working_days_from_posting() -> None:
    posted_friday = [
        row(Status.DISPATCHED, ChannelName.POST, registered="false"),
        row(Status.DELIVERED, ChannelName.POST, posted_on="2026-12-04"),
    ]
    found = POLICY.deemed(posted_friday)
    assert found is not None
    assert found.on == date(2026, 12, 9)  # Mon 7, Tue 8, Wed 9: the weekend does not count
    assert "53bis" in found.rule


def test_public_holidays_are_not_working_days() -> None:
    posted = [row(Status.DELIVERED, ChannelName.POST, posted_on="2026-12-23")]
    found = POLICY.deemed(posted)
    assert found is not None and found.on == date(2026, 12, 29)  # Christmas (Fri 25) skipped


def test_registered_post_takes_the_presentation_date_when_the_print_shop_gives_it() -> None:
    rows = [
        row(Status.DISPATCHED, ChannelName.POST, registered="true"),
        row(Status.DELIVERED, ChannelName.POST, posted_on="2026-12-04", presented_on="2026-12-07"),
    ]
    found = POLICY.deemed(rows)
    assert found is not None and found.on == date(2026, 12, 7)
    assert "presented" in found.rule


def test_registered_post_without_presentation_counts_from_posting() -> None:
    rows = [
        row(Status.DISPATCHED, ChannelName.POST, registered="true"),
        row(Status.DELIVERED, ChannelName.POST, posted_on="2026-12-04"),
    ]
    found = POLICY.deemed(rows)
    assert found is not None and found.on == date(2026, 12, 9)
    assert found.rule.startswith("registered post")


def test_ebox_by_default_is_the_day_it_was_read_in_belgium() -> None:
    published = row(Status.DELIVERED, ChannelName.EBOX)
    assert POLICY.deemed([published]) is None  # not read: not notified under the default policy
    read_late = row(Status.READ, ChannelName.EBOX, at=datetime(2026, 12, 31, 23, 30, tzinfo=UTC))
    found = POLICY.deemed([published, read_late])
    assert found is not None and found.on == date(2027, 1, 1)  # 00:30 in Brussels


def test_ebox_publication_policy_counts_days_after_publication() -> None:
    policy = NotificationPolicy(ebox_basis="publication", ebox_days=3)
    found = policy.deemed([row(Status.DELIVERED, ChannelName.EBOX)])
    assert found is not None and found.on == date(2026, 12, 7)


def test_email_notifies_only_when_the_fund_says_so() -> None:
    sent = [row(Status.DISPATCHED, ChannelName.EMAIL)]
    assert POLICY.deemed(sent) is None
    found = NotificationPolicy(email_days=1).deemed(sent)
    assert found is not None and found.on == date(2026, 12, 5)


def test_a_returned_letter_is_never_notified() -> None:
    rows = [
        row(Status.DELIVERED, ChannelName.POST, posted_on="2026-12-04"),
        row(Status.RETURNED, ChannelName.POST, returned_on="2026-12-10"),
    ]
    assert POLICY.deemed(rows) is None


def test_registered_mail_refused_or_not_collected_still_counts_as_served() -> None:
    rows = [
        row(Status.DISPATCHED, ChannelName.POST, registered="true"),
        row(Status.DELIVERED, ChannelName.POST, posted_on="2026-12-04", presented_on="2026-12-07"),
        row(Status.RETURNED, ChannelName.POST, return_reason="not_collected"),
    ]
    found = POLICY.deemed(rows)
    assert found is not None and found.on == date(2026, 12, 7)
