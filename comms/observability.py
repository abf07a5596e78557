"""Prometheus metrics operators graph and alert on; labels are types, channels and states only.

A label never carries an event id, an address or anything else that grows without bound or
could be personal: document types outside the catalogue are counted as `unknown`.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from comms.events import EVENT_TYPES

UNKNOWN = "unknown"
# Rendering takes a tenth of a second to a few seconds; a send, milliseconds to a timeout.
_RENDER_BUCKETS_S = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.5, 5.0, 10.0)
_SEND_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

EVENTS_RECEIVED = Counter(
    "comms_events_received_total",
    "Events offered at a door (http, python, file), by document type and answer",
    ["door", "type", "outcome"],
)
EVENTS_PROCESSED = Counter(
    "comms_events_processed_total",
    "Runs of one event (a worker, or `comms process`/`demo` in process), by type and verdict",
    ["type", "outcome"],
)
DELIVERIES = Counter(
    "comms_deliveries_total",
    "Delivery state changes reached by worker runs, by channel and state",
    ["channel", "state"],
)
RENDER_SECONDS = Histogram(
    "comms_render_seconds",
    "Time to render one letter with its email and eBox wrappings",
    ["type"],
    buckets=_RENDER_BUCKETS_S,
)
SEND_SECONDS = Histogram(
    "comms_send_seconds",
    "Time a channel took to take (or refuse) one message",
    ["channel", "outcome"],
    buckets=_SEND_BUCKETS_S,
)
QUEUE_DEPTH = Gauge(
    "comms_queue_depth", "Jobs waiting, deferred or running, per queue (read at scrape)", ["queue"]
)
RETRIES = Counter(
    "comms_retries_total", "Transient channel failures that deferred an event", ["channel"]
)
CRASHES = Counter(
    "comms_job_crashes_total", "Worker runs that ended in an unexpected error (counted as crashes)"
)
QUARANTINED = Counter(
    "comms_events_quarantined_total", "Events set aside after crashing their worker too often"
)
SWEPT = Counter("comms_swept_total", "Events the sweeper put back on a queue", ["queue"])
UNQUEUED = Counter(
    "comms_enqueue_failures_total",
    "Accepted events Redis did not take at once (the sweeper queues them later)",
)


def type_label(doc_type: str | None) -> str:
    """A document type as a label: only the catalogue's names, so the series stay few."""
    return doc_type if doc_type in EVENT_TYPES else UNKNOWN
