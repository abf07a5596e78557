"""Turn what comes back from the channels into ledger state changes, and start the fallbacks.

Every fact (a bounce, an eBox read, a print batch, a print-shop acknowledgement, returned mail)
goes through `apply`: it records a state only where it follows from the current one, records
nothing twice, and starts the fallback the routing policy names for it (hard bounce → post). The
eBox poll also starts the unread and NO_DIGITAL_USER fallbacks. Everything here is safe to run
twice, in any process (arq is at-least-once).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import Enum
from pathlib import Path
from typing import Protocol

from channels.base import (
    EVIDENCE_PRINT_BATCH,
    BounceKind,
    BounceReport,
    BounceSource,
    FileFeedback,
    PermanentError,
    PrintBatchCloser,
    PrintShopFeedback,
    ReadStatusSource,
    StatusQuery,
    StatusUpdate,
    TransientError,
)
from comms.events import AnyEvent, parse_event
from comms.ledger import Entry, Filters, IllegalTransition, Ledger
from comms.models import EVIDENCE_NO_DIGITAL_USER, ChannelName, Status
from comms.pipeline import Outcome, Pipeline
from comms.routing import (
    EVIDENCE_ADDRESS_FLAG,
    NO_DIGITAL_USER_REASON,
    PUBLISHED_NO_ID_REASON,
    Router,
    address_flag,
)
from comms.settings import Settings

log = logging.getLogger(__name__)

TRIGGERS = {Status.BOUNCED: "bounced", Status.RETURNED: "returned"}
SEARCH_PAGE = 1000  # the ledger's largest query page
RECONCILE_DAYS = 7  # print batches this recent are checked for a missing ledger row


class Fate(str, Enum):
    """What `apply` did with one reported fact."""

    RECORDED = "recorded"  # a new ledger row
    ALREADY = "already"  # the ledger had this fact: nothing new (a re-import, a retry)
    STALE = "stale"  # does not follow from the current state: not recorded
    UNKNOWN = "unknown"  # no communication of ours on this channel has this id


@dataclass(frozen=True)
class Applied:
    """The verdict on one fact, and the fallback it started, if any."""

    communication_id: str
    outcome: str
    verdict: Fate
    event_id: str | None = None
    fallback: Outcome | None = None


@dataclass
class Summary:
    """What an import did: verdict counts, classifications and unusable lines."""

    verdicts: Counter[str] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    fallbacks: list[Outcome] = field(default_factory=list)

    def add(self, applied: Applied) -> None:
        self.verdicts[applied.verdict.value] += 1
        if applied.fallback is not None:
            self.fallbacks.append(applied.fallback)


@dataclass(frozen=True)
class FeedbackSources:
    """Where tracking reads what became of the letters; the composition root builds them."""

    bounces: BounceSource
    print_shop: PrintShopFeedback
    print_batches: PrintBatchCloser
    read_statuses: ReadStatusSource | None = None  # the eBox's; None when no channel offers it


class App(Protocol):
    """What tracking uses of the composition root (comms.app.App): the log, the policy, the
    fallback pipeline and the feedback sources."""

    @property
    def settings(self) -> Settings: ...

    @property
    def ledger(self) -> Ledger: ...

    @property
    def router(self) -> Router: ...

    @property
    def pipeline(self) -> Pipeline: ...

    @property
    def feedback(self) -> FeedbackSources: ...


# --- one fact ---------------------------------------------------------------------------------


async def apply(app: App, update: StatusUpdate) -> Applied:
    """Records `update` if it is new and follows from the current state; starts its fallback."""
    cid = update.communication_id
    latest = await asyncio.to_thread(app.ledger.latest_for, cid)
    if latest is None or latest.channel is None or latest.channel.value != update.channel:
        return Applied(cid, update.outcome, Fate.UNKNOWN)
    status = Status(update.outcome)
    if not status.ever_handed_over:  # what a channel reports of a message it took
        raise ValueError(f"tracking does not record {status.value}")
    history = await asyncio.to_thread(app.ledger.history, latest.event_id)
    if any(
        e.communication_id == cid and e.status is status and _contains(e.evidence, update.evidence)
        for e in history
    ):
        verdict = Fate.ALREADY
    elif not status.may_follow(latest.status):  # stale: printed after posted, a late bounce
        log.info(
            "stale status update",
            extra={"communication_id": cid, "status": status.value, "current": latest.status},
        )
        return Applied(cid, update.outcome, Fate.STALE, latest.event_id)
    else:
        evidence = dict(update.evidence)
        if status is Status.RETURNED and evidence.get("address_wrong") == "true":
            flag = await _address_flag(app, latest.event_id)
            if flag is not None:
                evidence[EVIDENCE_ADDRESS_FLAG] = flag
        try:
            await asyncio.to_thread(
                app.ledger.record,
                event_id=latest.event_id,
                status=status,
                communication_id=cid,
                channel=latest.channel,
                reason=_reason(latest.channel, status, evidence),
                evidence=evidence,
                document_sha256=latest.document_sha256,
                template_version=latest.template_version,
                renderer_version=latest.renderer_version,
            )
        except IllegalTransition:  # another process moved it on since `latest` was read
            return Applied(cid, update.outcome, Fate.STALE, latest.event_id)
        verdict = Fate.RECORDED
    fallback = await _fall_back_after(app, latest, status, update.evidence)
    return Applied(cid, update.outcome, verdict, latest.event_id, fallback)


async def apply_all(app: App, updates: Iterable[StatusUpdate], summary: Summary) -> Summary:
    for update in updates:
        summary.add(await apply(app, update))
    return summary


def _contains(have: Mapping[str, str], wanted: Mapping[str, str]) -> bool:
    return all(have.get(k) == v for k, v in wanted.items())


def _reason(channel: ChannelName, status: Status, evidence: Mapping[str, str]) -> str:
    """The recorded reason: what happened, in words and codes only (never personal data)."""
    if status is Status.DISPATCHED:
        return "printed by the print shop" if "printed_on" in evidence else "put in a print batch"
    if status is Status.DELIVERED:
        if channel is ChannelName.POST:
            if "presented_on" in evidence:
                return "registered mail presented at the address by the carrier"
            registered = " as registered mail" if "registered_tracking_number" in evidence else ""
            return f"handed to the post office by the print shop{registered}"
        return "delivery reported by the receiving mail system"
    if status is Status.READ:
        return "opened in the eBox"
    if status is Status.BOUNCED:
        return f"email hard bounce: {evidence.get('dsn_meaning', 'no status given')}"
    flagged = "; the dossier's address is flagged" if EVIDENCE_ADDRESS_FLAG in evidence else ""
    return f"returned mail: {evidence.get('return_reason', 'other')}{flagged}"


async def _address_flag(app: App, event_id: str) -> str | None:
    event = await _event(app, event_id)
    if event is None:
        return None
    secret = app.settings.hmac_secret.get_secret_value().encode("utf-8")
    return address_flag(secret, event.dossier, event.recipient.address)


async def _event(app: App, event_id: str) -> AnyEvent | None:
    snapshot = await asyncio.to_thread(app.ledger.event_snapshot, event_id)
    return parse_event(snapshot) if snapshot is not None else None


async def _fall_back_after(
    app: App, latest: Entry, status: Status, evidence: Mapping[str, str]
) -> Outcome | None:
    """The fallback chain the policy names for this fact, if any (fall_back is idempotent)."""
    trigger = TRIGGERS.get(status)
    if trigger is None or latest.channel is None:
        return None
    chain = app.router.policy(latest.doc_type or "").fallback.chain(trigger)
    if not chain:
        return None
    names = ", ".join(c.value for c in chain)
    if status is Status.BOUNCED:
        reason = (
            f"email hard bounce ({evidence.get('dsn_status', 'no status')}): fallback to {names}"
        )
    else:
        reason = f"returned mail ({evidence.get('return_reason', 'other')}): fallback to {names}"
    return await app.pipeline.fall_back(latest.event_id, latest.channel, reason, to=chain)


# --- bounces ----------------------------------------------------------------------------------


async def handle_bounce(app: App, raw: bytes, summary: Summary | None = None) -> BounceReport:
    """One message to the bounce address: classified, and applied if it is a DSN of ours."""
    report = app.feedback.bounces.classify(raw)
    await _apply_report(app, report, summary if summary is not None else Summary())
    return report


async def import_bounces(app: App, paths: Sequence[Path]) -> Summary:
    """Every message of each Maildir, mbox, folder of .eml files or single file."""
    summary = Summary()
    for path in paths:
        for source, report in app.feedback.bounces.reports(path):
            await _apply_report(app, report, summary)
            if report.kind is BounceKind.UNKNOWN:
                summary.problems.append(f"{source}: {report.why}")
    return summary


async def _apply_report(app: App, report: BounceReport, summary: Summary) -> None:
    summary.kinds[report.kind.value] += 1
    if report.kind in (BounceKind.FAILED, BounceKind.DELIVERED) and not report.communication_ids:
        summary.verdicts[Fate.UNKNOWN.value] += 1
    await apply_all(app, report.status_updates(), summary)


# --- post -------------------------------------------------------------------------------------


async def cut_print_batches(app: App, *, force: bool) -> Summary:
    """Cuts batches (on the schedule: `force`; on size: not) and records each letter's place.

    Batches cut lately whose rows are missing (a crash between the cut and the ledger) get them
    now: a letter's batch and sequence are evidence compliance needs.
    """
    batches = await asyncio.to_thread(app.feedback.print_batches.cut, force=force)
    summary = Summary()
    summary.kinds["batches"] = len(batches)
    summary.kinds["letters"] = sum(len(b.status_updates()) for b in batches)
    await apply_all(app, await asyncio.to_thread(_unrecorded, app), summary)
    return summary


def _unrecorded(app: App) -> list[StatusUpdate]:
    since = datetime.now(UTC) - timedelta(days=RECONCILE_DAYS)
    missing: list[StatusUpdate] = []
    by_batch: dict[str, list[StatusUpdate]] = {}
    for placed in app.feedback.print_batches.placed_since(since):
        by_batch.setdefault(placed.evidence[EVIDENCE_PRINT_BATCH], []).append(placed)
    for batch_id, updates in by_batch.items():
        if app.ledger.find_by_evidence(EVIDENCE_PRINT_BATCH, batch_id) is None:
            missing.extend(updates)
    return missing


async def import_acknowledgements(app: App, content: bytes) -> Summary:
    """The print shop's acknowledgement file: printed → dispatched, posted → delivered."""
    feedback = app.feedback.print_shop.acknowledgements(content)
    return await apply_all(app, feedback.updates, _with_problems(feedback))


async def import_returns(app: App, content: bytes) -> Summary:
    """Returned mail: `returned`, the dossier's address flagged when the address was wrong."""
    feedback = app.feedback.print_shop.returns(content)
    return await apply_all(app, feedback.updates, _with_problems(feedback))


def _with_problems(feedback: FileFeedback) -> Summary:
    return Summary(problems=[str(p) for p in feedback.problems])


# --- eBox -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Waiting:
    """A published eBox message not read yet."""

    entry: Entry  # its first `delivered` row
    message_id: str
    no_digital_user: bool


async def poll_ebox_read_status(app: App, *, now: datetime | None = None) -> int:
    """arq cron: read statuses → `read`; then unread and NO_DIGITAL_USER fallbacks; a count.

    Messages published in the last `ebox_poll_max_age_days` are polled. One unread past its type's
    `unread_after_days` goes to the type's `unread` chain; NO_DIGITAL_USER without its paper copy
    (a crash between the two) gets it now, and so does a publication whose message id is unknown
    (`published_no_id`, the type's chain). Returns how many state changes and fallbacks it made.
    """
    source = app.feedback.read_statuses
    if source is None:
        return 0
    now = now or datetime.now(UTC)
    since = now - timedelta(days=app.settings.ebox_poll_max_age_days)
    changed = await _follow_up_unknown_ids(app, since)
    waiting = await asyncio.to_thread(_waiting, app, since)
    queries: list[StatusQuery] = []
    for cid, item in waiting.items():
        event = await _event(app, item.entry.event_id)
        if event is not None:
            queries.append(StatusQuery(cid, item.message_id, event.recipient.subject_id))
    try:
        updates = await source.read_statuses(queries) if queries else []
    except (TransientError, PermanentError) as exc:
        # Without the statuses, "unread" is unknown: no fallback on a guess. Next tick tries again.
        log.warning("ebox read status unavailable", extra={"error": type(exc).__name__})
        return changed
    for update in updates:
        changed += (await apply(app, update)).verdict is Fate.RECORDED
    read = {u.communication_id for u in updates}
    for cid, item in waiting.items():
        if cid not in read:
            changed += await _fall_back_if_due(app, item, now)
    return changed


def _waiting(app: App, since: datetime) -> dict[str, _Waiting]:
    """eBox communications whose latest state is `delivered`, with their first such row."""
    first: dict[str, Entry] = {}
    with_id: dict[str, str] = {}
    ndu: set[str] = set()
    offset = 0
    while True:
        page = app.ledger.search(
            Filters(channel=ChannelName.EBOX, status=Status.DELIVERED, since=since),
            limit=SEARCH_PAGE,
            offset=offset,
        )
        for entry in page:  # newest first: the last seen is the first delivered
            if entry.communication_id is None:
                continue
            first[entry.communication_id] = entry
            message_id = entry.evidence.get("ebox_message_id")
            if message_id:
                with_id[entry.communication_id] = message_id
            if entry.evidence.get(EVIDENCE_NO_DIGITAL_USER) == "true":
                ndu.add(entry.communication_id)
        if len(page) < SEARCH_PAGE:
            break
        offset += SEARCH_PAGE
    waiting = {}
    for cid, entry in first.items():
        latest = app.ledger.latest_for(cid)
        if latest is None or latest.status is not Status.DELIVERED or cid not in with_id:
            continue
        waiting[cid] = _Waiting(entry, with_id[cid], cid in ndu)
    return waiting


async def _fall_back_if_due(app: App, item: _Waiting, now: datetime) -> int:
    entry = item.entry
    fallback = app.router.policy(entry.doc_type or "").fallback
    history = await asyncio.to_thread(app.ledger.history, entry.event_id)
    used = {e.channel for e in history if e.status.handed_over}  # a ROUTED post may be retried
    done = 0
    if (
        item.no_digital_user
        and fallback.no_digital_user
        and not used & set(fallback.no_digital_user)
    ):
        outcome = await app.pipeline.fall_back(
            entry.event_id,
            ChannelName.EBOX,
            NO_DIGITAL_USER_REASON,
            to=fallback.no_digital_user,
            supersede=False,
        )
        done += outcome.verdict == "sent"
    days = fallback.unread_after_days
    if fallback.unread and days and now - entry.at >= timedelta(days=days):
        names = ", ".join(c.value for c in fallback.unread)
        outcome = await app.pipeline.fall_back(
            entry.event_id,
            ChannelName.EBOX,
            f"eBox message unread after {days} days: fallback to {names}",
            to=fallback.unread,
        )
        done += outcome.verdict in ("sent", "duplicate")
    return done


async def _follow_up_unknown_ids(app: App, since: datetime) -> int:
    """`published_no_id` without the follow-up its type's policy names (a crash in between)."""
    entries = await asyncio.to_thread(
        app.ledger.search,
        Filters(channel=ChannelName.EBOX, status=Status.PUBLISHED_NO_ID, since=since),
        limit=SEARCH_PAGE,
    )
    done = 0
    for entry in entries:
        chain = app.router.policy(entry.doc_type or "").fallback.published_no_id
        if not chain:
            continue
        history = await asyncio.to_thread(app.ledger.history, entry.event_id)
        if {e.channel for e in history if e.status.handed_over} & set(chain):
            continue
        outcome = await app.pipeline.fall_back(
            entry.event_id,
            ChannelName.EBOX,
            PUBLISHED_NO_ID_REASON,
            to=chain,
            supersede=False,
        )
        done += outcome.verdict == "sent"
    return done
