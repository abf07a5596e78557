"""Publishing: checked, stored by hash, approved by a second person; letters render only from that."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from comms.compose import Composer
from comms.compose.versions import template_version
from comms.errors import MissingTemplate
from comms.events import parse_event
from comms.migrations import alembic_config
from comms.models import Language
from comms.samples import all_samples, load_sample
from comms.settings import Settings
from comms.templates_store import (
    CorruptVersion,
    PublishingRefused,
    State,
    TemplateStore,
    UnknownVersion,
)
from comms.templates_store.published import PublishedComposer
from comms.templates_store.publishing import CheckFailed
from comms.templates_store.schema import metadata, template_blobs, template_version_files
from tests.commands import Ran, comms
from tests.compose.conftest import LAYOUT
from tests.fakes import StubPdf
from tests.templates_tools.conftest import ISSUED, ask, edit, publish_and_approve

DECISION_NL = ("decision", Language.NL)


@pytest.fixture
def published(store: TemplateStore, templates_copy: Path) -> Iterator[TemplateStore]:
    """Everything published once by An and approved by Bart."""
    publish_and_approve(store, templates_copy, note="first version")
    yield store


def test_publishing_checks_stores_and_waits_for_a_second_person(
    any_store: TemplateStore, templates_copy: Path
) -> None:
    store = any_store
    pdf = StubPdf()
    outcome = ask(store, templates_copy, note="first version", render=pdf)
    p = outcome.publication
    assert p is not None and p.state is State.PENDING and p.requested_by == "An"
    assert len(p.items) == 16  # eight types, two languages
    assert f"passed: {outcome.report.letters_made} letters" in p.check_summary
    assert outcome.report.letters_made == 2 * len(all_samples()) and p.note == "first version"
    assert pdf.made == outcome.report.letters_made  # every sample was made into a PDF
    assert store.publications.live_versions() == {}  # nothing live before approval
    with pytest.raises(PublishingRefused, match="second person"):
        store.publications.decide(p.id, by=" an ", approve=True)  # same person, other spelling
    approved = store.publications.decide(p.id, by="Bart", approve=True)
    assert approved.state is State.APPROVED and approved.decided_by == "Bart"
    assert approved.decided_at is not None and approved.decided_at <= datetime.now(UTC)
    live = store.publications.live_versions()
    assert live[DECISION_NL] == template_version(templates_copy, Language.NL, "decision")
    with pytest.raises(PublishingRefused, match="already approved by Bart"):
        store.publications.decide(p.id, by="Carla", approve=False, reason="late")


def test_a_rejection_needs_a_reason_and_changes_nothing(
    published: TemplateStore, templates_copy: Path
) -> None:
    before = published.publications.live_versions()
    edit(templates_copy / "nl" / "decision" / "email.txt", "Met vriendelijke", "Vriendelijke")
    p = ask(published, templates_copy).publication
    assert p is not None and [(i.doc_type, i.language) for i in p.items] == [DECISION_NL]
    assert p.items[0].previous_version == before[DECISION_NL]
    with pytest.raises(PublishingRefused, match="reason"):
        published.publications.decide(p.id, by="Bart", approve=False)
    rejected = published.publications.decide(p.id, by="Bart", approve=False, reason="tone")
    assert rejected.state is State.REJECTED and rejected.reason == "tone"
    assert published.publications.live_versions() == before


def test_only_what_changed_is_asked_and_nothing_when_nothing_changed(
    published: TemplateStore, templates_copy: Path
) -> None:
    assert ask(published, templates_copy).publication is None
    edit(
        templates_copy / "fr" / "_common" / "closing.html",
        "<p",
        "<p class='x'",
    )
    p = ask(published, templates_copy).publication
    assert p is not None
    assert {i.language for i in p.items} == {Language.FR} and len(p.items) == 8  # shared piece


def test_a_working_copy_that_fails_the_check_is_not_stored_or_asked(
    store: TemplateStore, templates_copy: Path
) -> None:
    edit(templates_copy / "fr" / "_common" / "appeal.html", 'data-mention="art-728"', "")
    with pytest.raises(CheckFailed) as caught:
        ask(store, templates_copy)
    assert any("art-728" in p.what for p in caught.value.report.problems)
    assert store.publications.history() == []
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(template_blobs)).scalar() == 0


def test_a_publication_is_checked_for_the_types_it_publishes(
    store: TemplateStore, templates_copy: Path
) -> None:
    """A broken certificate does not hold back a decision; it is refused when it is published."""
    edit(templates_copy / "nl" / "tax_certificate" / "letter.html", "data.year }}", "data.yaer }}")
    p = ask(store, templates_copy, doc_types=["decision"]).publication
    assert p is not None and {i.doc_type for i in p.items} == {"decision"}
    with pytest.raises(CheckFailed) as caught:
        ask(store, templates_copy, doc_types=["tax_certificate"])
    assert [p.file for p in caught.value.report.problems] == ["nl/tax_certificate/letter.html"]


def test_letters_render_from_the_approved_version_never_the_working_copy(
    published: TemplateStore, templates_copy: Path
) -> None:
    composer = PublishedComposer(published, LAYOUT)
    event = parse_event(load_sample("decision-nl"))
    approved = composer.compose(event, issued_on=ISSUED)
    edit(templates_copy / "nl" / "decision" / "letter.html", "Onze beslissing", "ONZE BESLISSING")
    again = composer.compose(event, issued_on=ISSUED)
    assert again.document.sha256 == approved.document.sha256
    assert approved.document.template_version == published.publications.live_versions()[DECISION_NL]


def test_an_approval_reaches_the_composer_and_the_version_it_records(
    published: TemplateStore, templates_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("comms.templates_store.published.LIVE_LOOKUP_TTL_S", 0.0)
    composer = PublishedComposer(published, LAYOUT)
    event = parse_event(load_sample("decision-nl"))
    first = composer.compose(event, issued_on=ISSUED)
    edit(templates_copy / "nl" / "decision" / "letter.html", "Onze beslissing", "Wat wij beslissen")
    p = ask(published, templates_copy).publication
    assert p is not None
    assert composer.compose(event, issued_on=ISSUED).document.sha256 == first.document.sha256
    published.publications.decide(p.id, by="Bart", approve=True)
    second = composer.compose(event, issued_on=ISSUED)
    assert second.document.template_version == p.items[0].version != first.document.template_version


def test_compliance_re_renders_exactly_what_was_sent_from_an_earlier_version(
    published: TemplateStore, templates_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ledger row names the version; its files rebuild the same PDF, byte for byte."""
    monkeypatch.setattr("comms.templates_store.published.LIVE_LOOKUP_TTL_S", 0.0)
    event = parse_event(load_sample("decision-fr"))
    sent = PublishedComposer(published, LAYOUT).compose(event, issued_on=ISSUED)
    edit(templates_copy / "fr" / "decision" / "letter.html", "Notre décision", "Décision")
    p = ask(published, templates_copy).publication
    assert p is not None
    published.publications.decide(p.id, by="Bart", approve=True)
    info = published.snapshots.resolve(sent.document.template_version[:10])
    exported = tmp_path / "as-sent"
    published.trees.export(info, exported)
    again = Composer(exported, LAYOUT).compose(event, issued_on=ISSUED)
    assert again.document.sha256 == sent.document.sha256


def test_a_type_never_approved_is_refused_not_rendered_from_the_working_copy(
    store: TemplateStore,
) -> None:
    composer = PublishedComposer(store, LAYOUT)
    with pytest.raises(MissingTemplate, match="no approved version of the fr decision"):
        composer.compose(parse_event(load_sample("decision-fr")), issued_on=ISSUED)


def test_a_lost_cache_is_rebuilt_and_damaged_stored_files_are_refused(
    published: TemplateStore,
) -> None:
    version = published.publications.live_versions()[DECISION_NL]
    info = published.snapshots.resolve(version)
    tree = published.trees.tree(info)
    shutil.rmtree(tree)
    assert published.trees.tree(info) == tree
    assert template_version(tree, Language.NL, "decision") == version
    shutil.rmtree(tree)
    files = template_version_files
    with published.engine.begin() as conn:  # someone edits a stored file behind our back
        sha = conn.execute(
            sa.select(files.c.blob_sha256).where(
                files.c.version == version, files.c.path == "nl/decision/letter.html"
            )
        ).scalar_one()
        conn.execute(
            template_blobs.update().where(template_blobs.c.sha256 == sha).values(content=b"x")
        )
    with pytest.raises(CorruptVersion):
        published.trees.tree(info)
    assert not tree.exists()


def test_versions_are_found_by_prefix_and_unknown_ones_refused(published: TemplateStore) -> None:
    version = published.publications.live_versions()[DECISION_NL]
    assert published.snapshots.resolve(version[:8].upper()).version == version
    for wrong in ("abc", "zzzzzzzzzz", "0" * 64):
        with pytest.raises(UnknownVersion):
            published.snapshots.resolve(wrong)


def test_the_approver_sees_what_changed_file_by_file(
    published: TemplateStore, templates_copy: Path
) -> None:
    edit(templates_copy / "nl" / "decision" / "letter.html", "Onze beslissing", "Wat wij beslissen")
    p = ask(published, templates_copy).publication
    assert p is not None
    [change] = published.snapshots.changes(p.items[0].previous_version, p.items[0].version)
    assert change.path == "nl/decision/letter.html" and change.status == "changed"
    assert (
        "-<h2>Onze beslissing</h2>" in change.diff and "+<h2>Wat wij beslissen</h2>" in change.diff
    )


def test_history_lists_versions_with_who_asked_and_who_approved(
    published: TemplateStore, templates_copy: Path
) -> None:
    edit(templates_copy / "nl" / "decision" / "letter.html", "Onze beslissing", "Wat wij beslissen")
    p = ask(published, templates_copy, by="Carla").publication
    assert p is not None
    history = published.publications.history("decision")
    assert [(h.requested_by, h.state) for h in history] == [
        ("Carla", State.PENDING),
        ("An", State.APPROVED),
    ]
    assert published.publications.history("tax_certificate")[0].requested_by == "An"


def test_the_store_tables_are_what_the_code_declares_and_migrate_down(
    any_store: TemplateStore,
) -> None:
    store = any_store
    ours = set(metadata.tables)

    def only_ours(obj: object, name: str | None, type_: str, *_: object) -> bool:
        table = obj if type_ == "table" else getattr(obj, "table", None)
        return getattr(table, "name", name) in ours

    with store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": only_ours})
        assert compare_metadata(context, metadata) == []
    config = alembic_config()
    with store.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "templates@0001_ledger")
    assert not ours & set(sa.inspect(store.engine).get_table_names())


def test_the_commands_publish_approve_and_list(settings: Settings, templates_copy: Path) -> None:
    env = {"COMMS_DATA_DIR": str(settings.data_dir), "COMMS_TEMPLATES_DIR": str(templates_copy)}

    def run(*args: str) -> Ran:
        return comms(settings.data_dir.parent, *args, env=env)

    asked = run("templates", "publish", "decision", "--by", "An", "--note", "n")
    assert asked.returncode == 0, asked.stderr
    assert "Publication 1 waits for a second person" in asked.stdout
    same = run("templates", "approve", "1", "--by", "An")
    assert same.returncode == 1 and "second person" in same.stderr
    ok = run("templates", "approve", "1", "--by", "Bart")
    assert ok.returncode == 0 and "approved by Bart" in ok.stdout
    history = run("templates", "history", "decision")
    assert history.returncode == 0
    assert "An" in history.stdout and "Bart" in history.stdout and "live" in history.stdout
    status = run("templates", "status")
    assert "never published" in status.stdout and "same" in status.stdout
    version = template_version(templates_copy, Language.FR, "decision")
    out = settings.data_dir / "export"
    exported = run("templates", "export", version[:12], "--out", str(out))
    assert exported.returncode == 0, exported.stderr
    assert template_version(out, Language.FR, "decision") == version
    again = run("templates", "export", version[:12], "--out", str(out))
    assert again.returncode == 1 and "not empty" in again.stderr
