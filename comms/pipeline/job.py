"""What a pipeline is asked (`Request`), what it answers (`Outcome`) and what its steps pass on.

Steps talk through typed results, not flags: each returns an `Outcome` (the end) or a small
result of its own, and a later step reads it with `Job.need`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Literal, TypeVar

from comms.errors import FieldError
from comms.events import AnyEvent
from comms.ledger import Entry
from comms.models import ChannelName, Message, Status
from comms.routing import Plan

Verdict = Literal["sent", "duplicate", "rejected", "refused", "conflict", "failed", "pending"]
# Where a request's event comes from: new from a producer, or read back from the ledger's snapshot
Origin = Literal["producer", "ledger"]


@dataclass(frozen=True)
class DeliveryResult:
    """What happened on one channel for one event."""

    channel: ChannelName
    communication_id: str
    status: Status
    reason: str
    evidence: Mapping[str, str] = field(default_factory=dict)
    sent_now: bool = False  # handed over by this run (not found done in the ledger)
    retry_after_s: float | None = None  # a transient failure: try this channel again after this


def first_pending(deliveries: Sequence[DeliveryResult]) -> DeliveryResult | None:
    """The delivery that failed transiently and waits for a retry, if any."""
    return next((d for d in deliveries if d.retry_after_s is not None), None)


@dataclass(frozen=True)
class Outcome:
    """The answer for one event, for the CLI table, the API and the worker."""

    verdict: Verdict
    event_id: str | None
    doc_type: str | None = None
    reason: str | None = None
    errors: tuple[FieldError, ...] = ()
    deliveries: tuple[DeliveryResult, ...] = ()
    document_sha256: str | None = None

    @property
    def pending(self) -> DeliveryResult | None:
        """The delivery that failed transiently and waits for a retry, if any."""
        return first_pending(self.deliveries)


@dataclass(frozen=True)
class FallbackRequest:
    """Tracking learnt that `from_channel` did not reach: send the frozen letter on `to`."""

    from_channel: ChannelName
    reason: str
    to: tuple[ChannelName, ...]
    supersede: bool  # mark `from_channel`'s communication superseded once another has it


@dataclass(frozen=True)
class Request:
    """What the caller asks of a pipeline; no step changes it."""

    event: AnyEvent
    issued_on: date | None = None
    origin: Origin = "producer"  # "ledger" (the worker, a fallback): the event is a repeat
    source: str | None = None  # who sent it (`http:<producer>`), chained with the acceptance
    fallback: FallbackRequest | None = None  # the fallback pipeline's: from where, to what


@dataclass(frozen=True)
class StepResult:
    """What a step found, for the steps after it to read with `Job.need`."""


@dataclass(frozen=True)
class Admitted(StepResult):
    """The event is on the record; `repeat`: it was before this run (a redelivery, a resumed run)."""

    repeat: bool


@dataclass(frozen=True)
class Planned(StepResult):
    """The routes to try, in order, and the fallback chain routing allows."""

    plan: Plan


@dataclass(frozen=True)
class Composed(StepResult):
    """The message to send; `from_archive`: an earlier run's frozen one, not rendered anew."""

    message: Message
    from_archive: bool


@dataclass(frozen=True)
class Archived(StepResult):
    """The document and its wrappings are in the archive; `stored`: by this run (no step reads
    it: it says what the step did, for tests and for a step added after it)."""

    document_sha256: str
    stored: bool


@dataclass(frozen=True)
class Dispatched(StepResult):
    """What each channel tried did, in order."""

    deliveries: tuple[DeliveryResult, ...]

    @property
    def pending(self) -> DeliveryResult | None:
        return first_pending(self.deliveries)

    @property
    def handed_over(self) -> bool:
        """Some channel has the letter (now or on an earlier run)."""
        return any(d.status.handed_over for d in self.deliveries)


@dataclass(frozen=True)
class Superseded(StepResult):
    """The communication this run marked superseded, None when none was (read by no step, as
    `Archived`)."""

    communication_id: str | None


R = TypeVar("R", bound=StepResult)


class PipelineOrderError(RuntimeError):
    """A step needs a result no earlier step made: the pipeline is assembled wrongly (a bug)."""


class MissingResult(PipelineOrderError):
    """Raised by `Job.need`; the pipeline that ran the step names the steps that make `kind`."""

    def __init__(self, step: str, kind: type[StepResult]) -> None:
        super().__init__(f"step {step!r} needs {kind.__name__}, which no earlier step made")
        self.step = step
        self.kind = kind


@dataclass
class Job:
    """One request on its way through a pipeline, and what each step found, by result type."""

    request: Request
    step: str = ""  # the step now running, for a PipelineOrderError
    found: dict[type[StepResult], StepResult] = field(default_factory=dict)
    history: list[Entry] | None = None  # a cache of the event's ledger rows, read once a run

    @property
    def event(self) -> AnyEvent:
        return self.request.event

    def need(self, kind: type[R]) -> R:
        """The `kind` an earlier step made; a PipelineOrderError naming its makers if none did."""
        found = self.found.get(kind)
        if not isinstance(found, kind):
            raise MissingResult(self.step, kind)
        return found

    def fallback(self) -> FallbackRequest:
        """The fallback request; a PipelineOrderError outside the fallback pipeline."""
        if self.request.fallback is None:
            raise PipelineOrderError(
                f"step {self.step!r} belongs to the fallback pipeline (Pipeline.fall_back):"
                " this request names no channel to fall back from"
            )
        return self.request.fallback
