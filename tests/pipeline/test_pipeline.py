"""One event in, its communications out, every step in the ledger; repeats and crashes send nothing twice.

The first test runs on the real stand-ins and reads what they received; the orchestration tests
run on recording channels and stub PDFs (tests/fakes.py), the eBox-specific one on the simulator.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from channels.base import PermanentError, TransientError
from channels.post import PostChannel
from comms.app import App
from comms.events import parse_event
from comms.models import ChannelName, Status
from comms.payment import format_structured_communication
from comms.samples import all_samples, load_sample
from comms.service.intake import Intake
from tests.fakes import Recording, recording_app
from tests.pipeline.conftest import Rig
from tests.readback import pdf_text

ISSUED = date(2027, 1, 4)


def maildir_messages(rig: Rig):
    return rig.emb.smtp.messages()


def post_entries(rig: Rig):
    return list(PostChannel(outbox_dir=rig.app.settings.post_dir).entries())


async def run(app: App, name: str, **changes):
    """A sample through the pipeline; `a__b=value` replaces a nested field first."""
    raw = load_sample(name)
    for dotted, value in changes.items():
        target = raw
        *path, last = dotted.split("__")
        for part in path:
            target = target[part]
        target[last] = value
    return await app.runner.run(parse_event(raw), issued_on=ISSUED)


async def test_every_sample_goes_where_the_policy_says_and_is_recorded(rig: Rig) -> None:
    outcomes = {}
    for name, raw in sorted(all_samples().items()):
        outcomes[name] = await rig.app.pipeline.process(parse_event(raw), issued_on=ISSUED)
    assert {o.verdict for o in outcomes.values()} == {"sent"}

    def channels(name: str) -> list[str]:
        return [
            d.channel.value
            for d in outcomes[name].deliveries
            if d.status in (Status.DISPATCHED, Status.DELIVERED)
        ]

    assert channels("contribution-notice-nl") == ["email"]  # no eBox, email with consent
    assert channels("contribution-notice-fr") == ["ebox"]  # has an eBox
    assert channels("formal-notice-nl") == ["post"] and channels("formal-notice-fr") == ["post"]
    assert channels("decision-nl") == ["post"]  # decisions never by email
    assert channels("decision-fr") == ["ebox"]
    assert channels("company-contribution-notice-nl") == ["ebox"]
    assert channels("company-contribution-notice-fr") == ["email"]

    # The SMTP server received the Dutch member's notice with the PDF attached.
    received = [m for m in maildir_messages(rig) if "Vervaldagbericht" in m["Subject"]]
    assert len(received) == 1
    pdf = next(p for p in received[0].iter_attachments()).get_content()
    reference = load_sample("contribution-notice-nl")["payload"]["payment"][
        "structured_communication"
    ]
    assert format_structured_communication(reference) in pdf_text(pdf)

    # The eBox simulator got the French decision, in French only, as one PDF.
    published = rig.emb.ebox.messages()
    decision = [
        m
        for m in published
        if "cision" in json.dumps(m["messageToPublish"]["subject"], ensure_ascii=False)
    ]
    assert decision and set(decision[0]["messageToPublish"]["subject"]) == {"fr"}

    # Formal notices are in the print outbox, flagged registered.
    registered = [e for e in post_entries(rig) if e.registered]
    assert len(registered) == 2

    # The ledger has the whole story of one letter, with the document's hash and template version.
    history = rig.app.ledger.history("sample-formal-notice-nl")
    assert [e.status for e in history] == [
        Status.ACCEPTED,
        Status.RENDERED,
        Status.ROUTED,
        Status.DISPATCHED,
    ]
    rendered = history[1]
    assert rendered.document_sha256 and rendered.template_version
    assert rig.app.archive.get(rendered.document_sha256)[:4] == b"%PDF"
    assert history[2].reason == "registered post required for this document type"
    assert rig.app.ledger.verify().ok


async def test_the_same_event_again_sends_nothing(recorded: Recording) -> None:
    first = await run(recorded.app, "contribution-notice-nl")
    second = await run(recorded.app, "contribution-notice-nl")
    assert first.verdict == "sent" and second.verdict == "duplicate"
    assert len(recorded.sent(ChannelName.EMAIL)) == 1 and len(recorded.sent_anywhere()) == 1
    assert first.document_sha256 == second.document_sha256


async def test_the_same_id_with_other_content_is_a_conflict(recorded: Recording) -> None:
    await run(recorded.app, "tax-certificate-nl")
    outcome = await run(recorded.app, "tax-certificate-nl", dossier="D-999999")
    assert outcome.verdict == "conflict"
    assert len(recorded.sent_anywhere()) == 1  # the first one only


async def test_bad_input_is_kept_with_field_errors_and_no_personal_values(
    recorded: Recording,
) -> None:
    raw = load_sample("decision-nl")
    raw["payload"]["reasons_in_fact"] = []
    outcome = await Intake(recorded.app).run(json.dumps(raw), source="test:1", door="file")
    assert outcome.verdict == "rejected"
    assert [e.field for e in outcome.errors] == ["payload.reasons_in_fact"]
    kept = recorded.app.ledger.rejections()
    assert kept[0].source == "test:1" and kept[0].event_id == "sample-decision-nl"
    assert "reasons_in_fact" in kept[0].errors[0].field
    assert "An Peeters" not in str(outcome)
    assert recorded.sent_anywhere() == [] and recorded.pdf.made == 0


async def test_a_refused_rendering_is_recorded_and_nothing_is_sent(
    settings, templates_copy: Path
) -> None:
    import shutil

    shutil.rmtree(templates_copy / "fr" / "tax_certificate")
    recorded = recording_app(settings.model_copy(update={"templates_dir": templates_copy}))
    app = recorded.app
    async with app:
        outcome = await run(app, "tax-certificate-fr")
        assert outcome.verdict == "refused" and "fr" in (outcome.reason or "")
        statuses = [e.status for e in app.ledger.history("sample-tax-certificate-fr")]
        assert statuses == [Status.ACCEPTED, Status.REFUSED]
        again = await run(app, "tax-certificate-fr")
        assert again.verdict == "refused"
        # The worker's way: the event read back from the ledger, nothing accepted again.
        snapshot = app.ledger.event_snapshot("sample-tax-certificate-fr")
        assert snapshot is not None
        worker = await app.pipeline.process(parse_event(snapshot), accepted=True)
        assert worker.verdict == "refused" and worker.reason == outcome.reason
        statuses = [e.status for e in app.ledger.history("sample-tax-certificate-fr")]
        assert statuses == [Status.ACCEPTED, Status.REFUSED]
    assert recorded.sent_anywhere() == []


async def test_a_permanent_email_failure_falls_back_to_post(recorded: Recording) -> None:
    # What the email channel raises for "550 5.1.1 <address>: mailbox unknown" (its own tests).
    refused = PermanentError(
        "smtp 550 5.1.1", evidence={"smtp_code": "550", "smtp_status": "5.1.1"}
    )
    recorded.channels[ChannelName.EMAIL].fail_next(refused)
    outcome = await run(recorded.app, "contribution-notice-nl")
    assert [(d.channel, d.status) for d in outcome.deliveries] == [
        (ChannelName.EMAIL, Status.FAILED),
        (ChannelName.POST, Status.DISPATCHED),
    ]
    history = recorded.app.ledger.history("sample-contribution-notice-nl")
    rows = [(e.channel, e.status) for e in history]
    assert (ChannelName.EMAIL, Status.FAILED) in rows
    assert (ChannelName.EMAIL, Status.SUPERSEDED) in rows
    failed = next(e for e in history if e.status is Status.FAILED)
    assert failed.evidence["smtp_code"] == "550"
    # The pipeline adds no address of its own to what it records.
    assert "an.peeters" not in json.dumps(dict(failed.evidence)) + (failed.reason or "")
    assert recorded.sent(ChannelName.EMAIL) == []
    [letter] = recorded.sent(ChannelName.POST)
    assert letter.document.content == recorded.app.archive.get(outcome.document_sha256 or "")


async def test_a_transient_email_failure_is_retried(recorded: Recording) -> None:
    recorded.channels[ChannelName.EMAIL].fail_next(TransientError("451 4.3.0 try again later"))
    outcome = await run(recorded.app, "contribution-notice-nl")
    assert outcome.verdict == "sent"
    assert [d.channel for d in outcome.deliveries] == [ChannelName.EMAIL]
    assert len(recorded.sent(ChannelName.EMAIL)) == 1 and len(recorded.sent_anywhere()) == 1


async def test_email_down_leaves_the_event_pending_and_a_rerun_delivers_it(
    recorded: Recording,
) -> None:
    down = TransientError("421 4.3.2 service not available", retry_after_s=30)
    recorded.channels[ChannelName.EMAIL].fail_next(down, count=3)
    pending = await run(recorded.app, "contribution-notice-nl")
    assert pending.verdict == "pending" and pending.pending and pending.pending.retry_after_s
    assert recorded.sent_anywhere() == []
    done = await run(recorded.app, "contribution-notice-nl")
    assert done.verdict == "sent" and done.document_sha256 == pending.document_sha256
    assert len(recorded.sent(ChannelName.EMAIL)) == 1 and len(recorded.sent_anywhere()) == 1


async def test_no_digital_user_publishes_and_sends_paper_too(rig: Rig) -> None:
    """The eBox's own answer (NO_DIGITAL_USER), so the simulator gives it."""
    raw_changes = {"recipient__ebox": {"has_ebox": True}}
    outcome = await run(rig.app, "company-contribution-notice-fr", **raw_changes)
    assert [(d.channel, d.status) for d in outcome.deliveries] == [
        (ChannelName.EBOX, Status.DELIVERED),
        (ChannelName.POST, Status.DISPATCHED),
    ]
    assert outcome.deliveries[0].evidence["no_digital_user"] == "true"


async def test_a_crash_after_rendering_resumes_with_the_same_document_and_sends_once(
    recorded: Recording,
) -> None:
    class Crash(Exception):
        pass

    email = recorded.channels[ChannelName.EMAIL]
    original = email.send

    async def crash(_outgoing):
        raise Crash

    email.send = crash  # type: ignore[method-assign]
    with pytest.raises(Crash):
        await run(recorded.app, "contribution-notice-nl")
    email.send = original  # type: ignore[method-assign]
    outcome = await run(recorded.app, "contribution-notice-nl")
    assert outcome.verdict == "sent"
    rendered = [
        e
        for e in recorded.app.ledger.history("sample-contribution-notice-nl")
        if e.status is Status.RENDERED
    ]
    assert len(rendered) == 1 and rendered[0].document_sha256 == outcome.document_sha256
    assert recorded.pdf.made == 1  # rendered once, before the crash
    [sent] = recorded.sent(ChannelName.EMAIL)
    assert sent.communication_id == outcome.deliveries[0].communication_id
