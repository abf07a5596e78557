"""The tracking jobs the arq worker runs on a schedule: which, when, and that they run."""

from __future__ import annotations

from types import SimpleNamespace

from comms import worker
from comms.embedded import Embedded
from comms.models import Status
from comms.settings import Settings
from tests.tracking.conftest import Rig


def test_the_bulk_worker_schedules_the_poll_and_both_batch_cuts(settings: Settings) -> None:
    """eBox every `ebox_poll_every_min`; batches on size every 5 minutes and at the set hours."""
    crons = {c.name: c for c in worker.tracking_crons(settings)}

    assert set(crons) == {"ebox_poll", "post_batch_size", "post_batch_schedule"}
    assert crons["ebox_poll"].minute == {0, 15, 30, 45}
    assert crons["post_batch_schedule"].hour == {15} and crons["post_batch_schedule"].minute == {0}
    assert all(c.unique for c in crons.values())  # one run per tick across every process


async def test_the_cron_tasks_run_against_the_workers_app(embedded: Embedded) -> None:
    """What arq calls with its ctx, on the app the worker builds (timed channels): a decision
    read, then a batch cut for a letter by post."""
    async with worker.build_worker_app(embedded.settings, None) as app:
        rig = Rig(app, embedded)
        ctx = {"comms": SimpleNamespace(app=app)}
        sent = await rig.run("decision-fr")
        rig.mark_read(sent.deliveries[0].evidence["ebox_message_id"])
        await rig.run("formal-notice-nl")

        assert await worker.poll_ebox(ctx) == 1
        assert await worker.cut_full_batches(ctx) == 0  # 1 letter of 500: waits
        assert await worker.cut_all_batches(ctx) == 1

        read = app.ledger.latest_for(sent.deliveries[0].communication_id)
        assert read is not None and read.status is Status.READ


async def test_the_workers_router_asks_the_federation_through_its_timed_channels(
    embedded: Embedded,
) -> None:
    """The worker times its channels; routing still asks the eBox adapter itself for a company's
    preferences (handed in as `lookups`), so the preference decides, not upstream's word."""
    async with worker.build_worker_app(embedded.settings, None) as app:
        rig = Rig(app, embedded)
        rig.set_preference("0852093431", exclusively_ebox=True)
        outcome = await rig.run(
            "company-contribution-notice-nl", recipient__ebox={"has_ebox": False}
        )

        assert [d.channel.value for d in outcome.deliveries] == ["ebox"]
        routed = [
            r for _, s, r in rig.rows("sample-company-contribution-notice-nl") if s == "routed"
        ]
        assert routed and routed[0].startswith("recipient has an eBox (eBox preferences)")
