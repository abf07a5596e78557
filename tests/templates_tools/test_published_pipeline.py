"""Through the whole pipeline: the ledger records the approved version that rendered each letter."""

from __future__ import annotations

from pathlib import Path

from comms.app import build_app
from comms.embedded import Embedded
from comms.models import Language, Status
from comms.samples import load_sample
from comms.service.intake import Intake
from comms.templates_store import TemplateStore
from tests.pipeline.conftest import embedded
from tests.templates_tools.conftest import edit, publish_and_approve

__all__ = ["embedded"]  # the pipeline tests' loopback SMTP server and eBox simulator


async def test_the_ledger_names_the_approved_version_not_the_working_copy(
    embedded: Embedded, templates_copy: Path
) -> None:
    settings = embedded.settings.model_copy(
        update={"templates_dir": templates_copy, "templates_source": "published"}
    )
    with TemplateStore.from_settings(settings) as store:
        publish_and_approve(store, templates_copy)
        live = store.publications.live_versions()[("decision", Language.NL)]
    edit(templates_copy / "nl" / "decision" / "letter.html", "Onze beslissing", "NIET GOEDGEKEURD")
    app = build_app(settings)
    async with app:
        outcome = await Intake(app).run(load_sample("decision-nl"), source="test", door="file")
    assert outcome.verdict == "sent", outcome
    rendered = [
        e for e in app.ledger.history(outcome.event_id or "") if e.status is Status.RENDERED
    ]
    assert rendered and {e.template_version for e in rendered} == {live}


async def test_with_nothing_approved_the_letter_is_refused_and_recorded(
    embedded: Embedded, templates_copy: Path
) -> None:
    settings = embedded.settings.model_copy(
        update={"templates_dir": templates_copy, "templates_source": "published"}
    )
    app = build_app(settings)
    async with app:
        outcome = await Intake(app).run(
            load_sample("tax-certificate-fr"), source="test", door="file"
        )
    assert outcome.verdict == "refused"
    assert "no approved version of the fr tax_certificate templates" in (outcome.reason or "")
    [refused] = [
        e for e in app.ledger.history(outcome.event_id or "") if e.status is Status.REFUSED
    ]
    assert "comms templates publish" in (refused.reason or "")
