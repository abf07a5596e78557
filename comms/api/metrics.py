"""`GET /metrics` (operator role): Prometheus text, with queue depths read from Redis at scrape.

The API process counts what its doors received; each worker process serves its own render, send
and delivery metrics on `COMMS_WORKER_METRICS_PORT` (docs/queue.md): scrape both.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import Response
from fastapi.routing import APIRouter
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from redis.exceptions import RedisError

from comms.api.auth import Principal, require
from comms.api.events import queue_of
from comms.logging import get_logger
from comms.observability import QUEUE_DEPTH

log = get_logger(__name__)

router = APIRouter(tags=["operations"])


@router.get("/metrics", response_class=Response)
async def metrics(
    request: Request, _who: Annotated[Principal, Depends(require("operator"))]
) -> Response:
    try:
        for name, depth in (await queue_of(request).depth()).items():
            QUEUE_DEPTH.labels(name).set(depth)
    except (RedisError, OSError) as exc:
        log.warning("queue depth unavailable", error=type(exc).__name__)
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
