"""Running RQ workers on the bridge's queues: no fork per job, JSON serializer, pooled processes."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from rq import Queue, SimpleWorker
from rq.serializers import JSONSerializer
from rq.worker_pool import WorkerPool

from bridge import constants
from bridge.redis_conn import sync_client
from bridge.settings import Settings

log = logging.getLogger("bridge.worker")


def queue_names() -> list[str]:
    """Return the queues a worker listens on, in priority order."""
    return [constants.EVENTS_QUEUE]


def run(settings: Settings, *, burst: bool = False, concurrency: int = 1, queues: Sequence[str] = ()) -> bool:
    """Run workers until stopped (or, with ``burst``, until the queues are empty)."""
    connection = sync_client(settings, socket_timeout=None)
    names = list(queues) or queue_names()
    if concurrency > 1:
        pool = WorkerPool(
            names,
            connection=connection,
            num_workers=concurrency,
            worker_class=SimpleWorker,
            serializer=JSONSerializer,
        )
        pool.start(burst=burst, logging_level=settings.log_level)
        return True
    worker = SimpleWorker(
        [Queue(name, connection=connection, serializer=JSONSerializer) for name in names],
        connection=connection,
        serializer=JSONSerializer,
    )
    return bool(worker.work(burst=burst, logging_level=settings.log_level, with_scheduler=True))
