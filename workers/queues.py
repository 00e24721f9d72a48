"""The destinations' calls queues, as every job that puts work on them opens them."""

from __future__ import annotations

from redis import Redis
from rq import Queue, Retry
from rq.serializers import JSONSerializer

from bridge import constants

ABANDONED_RETRY = Retry(max=3)
"""RQ re-queues a job abandoned by a dead worker while it has retries left; failures the bridge raises on
purpose set ``retries_left`` to 0 first (upstream retries are the bridge's own, with ``Retry-After``)."""


def calls_queue(conn: Redis, destination: str) -> Queue:
    """Return the queue of ``destination``'s calls."""
    return Queue(
        constants.CALLS_QUEUE.format(destination=destination), connection=conn, serializer=JSONSerializer
    )
