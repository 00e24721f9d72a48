"""RQ jobs: module-level functions taking JSON-safe arguments (enqueued with the JSON serializer)."""

from __future__ import annotations

import logging
from typing import Any

from rq import get_current_job

from bridge import constants
from bridge.event import Event

log = logging.getLogger("bridge.worker")


def process_event(event: Event) -> dict[str, Any]:
    """Take in one normalized event: record it as received."""
    job = get_current_job()
    assert job is not None, "process_event runs inside an RQ job"
    with job.connection.pipeline(transaction=True) as pipe:
        pipe.lpush(constants.RECEIVED_LOG_KEY, event["id"])
        pipe.ltrim(constants.RECEIVED_LOG_KEY, 0, constants.RECEIVED_LOG_MAX - 1)
        pipe.execute()
    log.info(
        "event received",
        extra={
            "event_id": event["id"],
            "source": event["source"],
            "type": event["type"],
            "outcome": "received",
        },
    )
    return {"outcome": "received"}
