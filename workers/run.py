"""Running RQ workers on the bridge's queues: no fork per job, JSON serializer, pooled processes."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

from rq import Queue, SimpleWorker
from rq.job import Job
from rq.serializers import JSONSerializer
from rq.worker_pool import WorkerPool

from bridge import constants
from bridge.redis_conn import sync_client
from bridge.settings import Settings
from workers import context

log = logging.getLogger("bridge.worker")

GRACE_S = int(os.environ.get("BRIDGE_WORKER_GRACE_S", "60"))
"""Seconds past a job's timeout before the job of a silent worker counts as abandoned."""

MAINTENANCE_INTERVAL_S = int(os.environ.get("BRIDGE_WORKER_MAINTENANCE_S", "60"))
"""How often a worker cleans RQ's registries (RQ's default is 10 minutes)."""


class BridgeWorker(SimpleWorker):
    """RQ's non-forking worker, with a shorter grace before a dead worker's job counts as abandoned.

    A ``SimpleWorker`` cannot heartbeat while its job runs, so RQ lets a started job live for its
    timeout + 60 s; ours is the timeout + ``BRIDGE_WORKER_GRACE_S`` (default 60), so that a job whose
    worker was killed is found sooner by the registry cleanup and run again by another worker.
    """

    def get_heartbeat_ttl(self, job: Job, working_time: float = 0.0) -> int:
        if job.timeout is None or job.timeout < 0:
            return super().get_heartbeat_ttl(job, working_time)
        return int(job.timeout) + GRACE_S


def queue_names() -> list[str]:
    """Return the queues a worker listens on, in priority order: events first, then each destination."""
    return [constants.EVENTS_QUEUE] + [
        constants.CALLS_QUEUE.format(destination=destination) for destination in constants.DESTINATIONS
    ]


def run(settings: Settings, *, burst: bool = False, concurrency: int = 1, queues: Sequence[str] = ()) -> bool:
    """Run workers until stopped (or, with ``burst``, until the queues are empty)."""
    # Rules, clients and configuration are checked now: a bad rules file stops the worker at start.
    context.current()
    connection = sync_client(settings, socket_timeout=None)
    names = list(queues) or queue_names()
    if concurrency > 1:
        pool = WorkerPool(
            names,
            connection=connection,
            num_workers=concurrency,
            worker_class=BridgeWorker,
            serializer=JSONSerializer,
        )
        pool.start(burst=burst, logging_level=settings.log_level)
        return True
    worker = BridgeWorker(
        [Queue(name, connection=connection, serializer=JSONSerializer) for name in names],
        connection=connection,
        serializer=JSONSerializer,
        # Registries are cleaned (jobs of dead workers recovered) this often.
        maintenance_interval=MAINTENANCE_INTERVAL_S,
    )
    return bool(worker.work(burst=burst, logging_level=settings.log_level, with_scheduler=True))
