"""`comms templates check` finds what staff break, and says where and what to do in plain words."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from comms.compose import Composer
from comms.compose.check import Kind, Problem, static_problems
from comms.compose.checks.shapes import (
    EVENT_FIELDS,
    LETTER_FIELDS,
    PAYABLE_FIELDS,
    context_shapes,
    has_payment,
)
from comms.doctypes import DOC_TYPES
from comms.events import parse_event
from comms.samples import all_samples, load_sample
from comms.settings import REPO_ROOT
from tests.commands import comms
from tests.compose.conftest import LAYOUT
from tests.templates_tools.conftest import ISSUED, edit, line_of, run_check

TEMPLATES = REPO_ROOT / "templates"


def only(problems: list[Problem], kind: Kind) -> list[Problem]:
    return [p for p in problems if p.kind is kind]


def test_the_real_templates_pass_every_check_and_render_every_sample_in_both_languages() -> None:
    report = run_check(TEMPLATES)
    assert report.problems == []
    assert report.letters_made == 2 * len(all_samples())


def test_the_checks_context_is_what_the_composer_gives_templates() -> None:
    """If the composer hands templates a new name, the check must learn it too."""
    composer = Composer(TEMPLATES, LAYOUT)
    for raw in all_samples().values():
        event = parse_event(raw)
        context = composer.context(event, ISSUED)
        shapes = context_shapes(event.type, context["fund"])
        assert set(shapes) == set(context)
        assert set(context["event"]) == set(EVENT_FIELDS)
        assert set(context["letter"]) == set(LETTER_FIELDS)
        if context["payable"] is not None:
            assert set(context["payable"]) == set(PAYABLE_FIELDS)
            assert shapes["payable"].kind == "record"


def test_a_misspelt_field_is_named_with_its_file_line_and_the_fields_that_exist(
    templates_copy: Path,
) -> None:
    letter = templates_copy / "fr" / "decision" / "letter.html"
    edit(letter, "{{ data.outcome }}", "{{ data.outcom }}")
    problems = only(static_problems(templates_copy), Kind.VARIABLE)
    assert len(problems) == 1
    p = problems[0]
    assert (p.file, p.line) == ("fr/decision/letter.html", line_of(letter, "data.outcom "))
    assert "`data.outcom` does not exist" in p.what
    assert "outcome" in p.todo and "spelling" in p.todo


def test_fields_are_followed_through_set_loops_includes_and_macros(templates_copy: Path) -> None:
    edit(templates_copy / "nl" / "_common" / "appeal.html", "appeal.court.name", "appeal.court.nam")
    edit(templates_copy / "nl" / "_common" / "labels.html", "item.kind ==", "item.kinds ==")
    edit(
        templates_copy / "nl" / "decision" / "letter.html",
        "{{ reason }}</li>",
        "{{ reason.text }}</li>",
    )
    edit(
        templates_copy / "nl" / "decision" / "letter.html",
        "{{ recovery.total | money }}",
        "{{ recovery.totaal | money }}",
    )
    found = {(p.file, p.what.split(" does not exist")[0]) for p in static_problems(templates_copy)}
    assert ("nl/_common/appeal.html", "`appeal.court.nam`") in found
    assert ("nl/_common/labels.html", "`item.kinds`") in found  # called with an open item
    assert ("nl/decision/letter.html", "`reason.text`") in found  # a reason is plain text
    assert ("nl/decision/letter.html", "`recovery.totaal`") in found


def test_a_payment_block_in_a_letter_that_has_no_payment_is_found(templates_copy: Path) -> None:
    edit(
        templates_copy / "fr" / "tax_certificate" / "letter.html",
        "{% block body %}",
        "{% block body %}{{ payable.amount | money }}",
    )
    [p] = only(static_problems(templates_copy), Kind.VARIABLE)
    assert p.file == "fr/tax_certificate/letter.html"
    assert "always empty" in p.what


def test_unknown_names_filters_and_macros_are_found(templates_copy: Path) -> None:
    letter = templates_copy / "nl" / "contribution_notice" / "letter.html"
    edit(letter, "{{ data.amount | money }}", "{{ data.amount | euro }}")
    edit(letter, "labels.period(data.year", "labels.periode(data.year")
    edit(letter, "<p>Geachte mevrouw", "<p>{{ member }} Geachte mevrouw")
    whats = " | ".join(p.what for p in static_problems(templates_copy))
    assert "no filter called `euro`" in whats
    assert "`labels.periode` does not exist" in whats
    assert "`member` is not something a template can use" in whats


def test_a_value_printed_in_one_language_only_is_found(templates_copy: Path) -> None:
    email = templates_copy / "nl" / "tax_certificate" / "email.txt"
    edit(
        email,
        "Met vriendelijke groeten,",
        "Dossier {{ event.dossier }}.\nMet vriendelijke groeten,",
    )
    [p] = only(static_problems(templates_copy), Kind.LANGUAGES)
    assert (p.file, p.line) == ("nl/tax_certificate/email.txt", line_of(email, "event.dossier"))
    assert "never in fr/tax_certificate/email.txt" in p.what


def test_missing_files_blocks_and_pieces_in_one_language_are_found(templates_copy: Path) -> None:
    (templates_copy / "fr" / "payment_reminder" / "email.txt").unlink()
    (templates_copy / "nl" / "_common" / "extra.html").write_text("<p>x</p>", encoding="utf-8")
    edit(
        templates_copy / "fr" / "decision" / "letter.html", "{% block title %}", "{% block titre %}"
    )
    edit(
        templates_copy / "fr" / "decision" / "letter.html",
        '{% include "_common/appeal.html" %}',
        "",
    )
    files = {(p.file, p.what) for p in only(static_problems(templates_copy), Kind.FILES)}
    assert any(f == "fr/payment_reminder/email.txt" and "missing" in w for f, w in files)
    assert any(
        f == "fr/_common/extra.html" and "nl/_common/extra.html exists" in w for f, w in files
    )
    assert any(f == "fr/decision/letter.html" and "block `title`" in w for f, w in files)
    assert any(f == "nl/decision/letter.html" and "block `titre`" in w for f, w in files)
    assert any(f == "fr/decision/letter.html" and "`_common/appeal.html`" in w for f, w in files)


def test_a_syntax_error_gives_the_line_and_plain_words(templates_copy: Path) -> None:
    letter = templates_copy / "nl" / "formal_notice" / "letter.html"
    text = letter.read_text(encoding="utf-8")
    letter.write_text(text.replace("{% endif %}", "", 1), encoding="utf-8")
    [p] = only(static_problems(templates_copy), Kind.SYNTAX)
    assert p.file == "nl/formal_notice/letter.html" and p.line is not None
    assert "still open" in p.what or "misspelt" in p.what
    assert "{% endif %}" in p.todo


def test_an_edit_is_read_again_and_an_undone_edit_passes_again(templates_copy: Path) -> None:
    """Staff check, break, check, check, mend, check in one studio session: each check sees the
    file as it is now (the parsed trees are shared; a syntax error is never kept)."""
    letter = templates_copy / "nl" / "formal_notice" / "letter.html"
    text = letter.read_text(encoding="utf-8")
    assert static_problems(templates_copy) == []
    letter.write_text(text.replace("{% endif %}", "", 1), encoding="utf-8")
    assert [p.file for p in only(static_problems(templates_copy), Kind.SYNTAX)] == [
        "nl/formal_notice/letter.html"
    ]  # and again: the broken text was not cached as a tree
    assert [p.file for p in only(static_problems(templates_copy), Kind.SYNTAX)] == [
        "nl/formal_notice/letter.html"
    ]
    letter.write_text(text, encoding="utf-8")
    assert static_problems(templates_copy) == []


def test_decisions_must_hold_every_appeal_mention_in_both_languages(templates_copy: Path) -> None:
    appeal = templates_copy / "fr" / "_common" / "appeal.html"
    edit(appeal, 'data-mention="art-1017"', "")
    problems = only(static_problems(templates_copy), Kind.MENTION)
    assert [(p.file, "art-1017" in p.what) for p in problems] == [("fr/decision/letter.html", True)]
    assert "nl/_common/appeal.html, line" in problems[0].todo  # where the other language has it


def test_recovery_mentions_are_required_because_a_sample_is_a_recovery(
    templates_copy: Path,
) -> None:
    edit(templates_copy / "nl" / "decision" / "letter.html", 'data-mention="recovery-waiver"', "")
    [p] = only(static_problems(templates_copy), Kind.MENTION)
    assert p.file == "nl/decision/letter.html" and "recovery-waiver" in p.what


@pytest.mark.parametrize("doc_type", [t for t in DOC_TYPES if has_payment(t)])
def test_payable_notices_must_hold_the_payment_block(templates_copy: Path, doc_type: str) -> None:
    edit(
        templates_copy / "fr" / doc_type / "letter.html", '{% include "_common/payment.html" %}', ""
    )
    marks = {p.what.split("`")[1] for p in only(static_problems(templates_copy), Kind.MENTION)}
    assert marks == {"payment-amount", "payment-due", "payment-iban", "payment-ogm", "payment-qr"}


def test_a_comment_is_not_a_mention(templates_copy: Path) -> None:
    appeal = templates_copy / "nl" / "_common" / "appeal.html"
    edit(appeal, 'data-mention="appeal-deadline"', "")
    edit(appeal, "{% set appeal", '{# data-mention="appeal-deadline" #}{% set appeal')
    assert any("appeal-deadline" in p.what for p in static_problems(templates_copy))


def test_a_mention_emptied_for_some_events_is_found_by_rendering_the_samples(
    templates_copy: Path,
) -> None:
    """Statically the mark is there; only the recovery samples leave it empty."""
    edit(
        templates_copy / "nl" / "decision" / "letter.html",
        "{{ recovery.prescription_years }} jaar",
        "{% if false %}{{ recovery.prescription_years }}{% endif %}",
    )
    edit(
        templates_copy / "nl" / "decision" / "letter.html",
        '<p data-mention="recovery-prescription">De verjaringstermijn',
        '<p data-mention="recovery-prescription">{% if false %}De verjaringstermijn',
    )
    edit(
        templates_copy / "nl" / "decision" / "letter.html",
        "opzettelijk onvolledige verklaringen.{% endif %}</p>",
        "opzettelijk onvolledige verklaringen.{% endif %}{% endif %}</p>",
    )
    report = run_check(templates_copy, doc_types=["decision"])
    [p] = report.problems
    assert p.kind is Kind.MENTION and p.file == "nl/decision/letter.html"
    assert "decision-recovery-fr in Dutch" in p.what and "decision-recovery-nl in Dutch" in p.what
    assert "recovery-prescription" in p.what


def test_a_template_that_fails_only_at_rendering_names_the_file_and_line(
    templates_copy: Path,
) -> None:
    """The fields exist, but the samples have no 41st movement: only rendering finds it."""
    letter = templates_copy / "fr" / "account_statement" / "letter.html"
    edit(letter, "{% block body %}", "{% block body %}\n{{ data.movements[40].kind }}")
    assert only(static_problems(templates_copy), Kind.VARIABLE) == []
    [p] = only(run_check(templates_copy, doc_types=["account_statement"]).problems, Kind.RENDER)
    assert (p.file, p.line) == ("fr/account_statement/letter.html", line_of(letter, "[40]"))
    assert "would be refused" in p.what and "account-statement-nl in French" in p.what


def test_a_template_that_crashes_is_reported_not_raised(templates_copy: Path) -> None:
    letter = templates_copy / "nl" / "tax_certificate" / "email.txt"
    edit(letter, "{{ fund.name }}", "{{ range(10 ** 7) | length }}")
    [p] = only(run_check(templates_copy, doc_types=["tax_certificate"]).problems, Kind.RENDER)
    assert (p.file, p.line) == ("nl/tax_certificate/email.txt", line_of(letter, "range("))
    assert "would be refused" in p.what and "OverflowError" in p.what


def test_broken_html_is_found_with_the_sample_and_a_hint(templates_copy: Path) -> None:
    edit(
        templates_copy / "nl" / "tax_certificate" / "letter.html",
        "{% block body %}",
        "{% block body %}<div><p>Uw attest</div></span>",
    )
    report = run_check(templates_copy, doc_types=["tax_certificate"])
    html = only(report.problems, Kind.HTML)
    assert html and all(p.file == "nl/tax_certificate/letter.html" for p in html)
    assert any("</span>" in p.what for p in html)
    assert "tax-certificate-nl in Dutch" in html[0].what


def test_a_link_out_of_the_templates_folder_is_refused(
    templates_copy: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside.html"
    outside.write_text("<p>not ours</p>", encoding="utf-8")
    os.symlink(outside, templates_copy / "nl" / "_common" / "linked.html")
    shutil.copy(outside, templates_copy / "fr" / "_common" / "linked.html")
    [p] = only(static_problems(templates_copy), Kind.FILES)
    assert p.file == "nl/_common/linked.html" and "link" in p.what


def test_fund_details_must_have_the_same_keys_in_both_languages(templates_copy: Path) -> None:
    fund = templates_copy / "fr" / "fund.toml"
    fund.write_text(fund.read_text(encoding="utf-8") + 'fax = "02 555 01 99"\n', encoding="utf-8")
    [p] = only(static_problems(templates_copy), Kind.FILES)
    assert p.file == "nl/fund.toml" and "`fax`" in p.what


def test_the_command_exits_1_and_prints_where_what_and_what_to_do(templates_copy: Path) -> None:
    edit(templates_copy / "nl" / "decision" / "email.txt", "{{ fund.name }}", "{{ fund.nam }}")
    folder = templates_copy.parent
    failed = comms(folder, "templates", "check", "--templates", str(templates_copy), "--no-render")
    assert failed.returncode == 1
    assert "nl/decision/email.txt, line" in failed.stderr
    assert "`fund.nam` does not exist" in failed.stderr and "What to do:" in failed.stderr
    ok = comms(folder, "templates", "check", "--templates", str(TEMPLATES), "decision")
    assert ok.returncode == 0, ok.stderr
    decisions = [n for n, r in all_samples().items() if r["type"] == "decision"]
    assert f"{2 * len(decisions)} letters rendered" in ok.stdout


def test_an_unknown_type_is_refused_with_the_known_ones(tmp_path: Path) -> None:
    result = comms(tmp_path, "templates", "check", "decisoin", "--no-render")
    assert result.returncode == 1 and "known:" in result.stderr


def test_every_sample_is_tried_in_both_languages_even_when_it_names_one() -> None:
    report = run_check(TEMPLATES, doc_types=["tax_certificate"], render=True)
    samples = [n for n, r in all_samples().items() if r["type"] == "tax_certificate"]
    assert report.letters_made == 2 * len(samples)


def test_a_statement_in_the_members_favour_renders_in_both_languages() -> None:
    """The samples owe money; this branch of the statement (nothing to pay) must hold too."""
    samples = {}
    for lang in ("nl", "fr"):
        raw = load_sample(f"account-statement-{lang}")
        payload = raw["payload"]
        payload.update(movements=[], opening_balance="-50.00", balance="-50.00")
        payload.pop("payment", None)
        payload.pop("pay_by", None)
        samples[f"credit-statement-{lang}"] = raw
    report = run_check(TEMPLATES, doc_types=["account_statement"], samples=samples)
    assert report.problems == [] and report.letters_made == 4
