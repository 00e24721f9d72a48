"""Taking the next job off the bridge's queues: the pop and the job's hash in one round trip.

RQ's worker, listening on several queues (as every bridge worker does), pops a job id (``BLPOP``) and then
reads the job's hash (``HGETALL``): two round trips per job. ``BridgeQueue.dequeue_any`` first runs one
script that pops from the first queue holding a job, in the worker's order, and returns that job's hash
with its id. Only when every queue is empty does it fall back to RQ's own blocking wait, where a second
round trip costs nothing. The pop is the same ``LPOP`` RQ's non-blocking dequeue sends, so a job leaves
its queue exactly as it did before.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from redis import Redis
from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.serializers import Serializer
from rq.timeouts import BaseDeathPenalty
from rq.utils import as_text

from bridge.stores import scripts

# The job's key is made in the script from the id popped: a key not named in KEYS, which a single Redis
# (the bridge's, Heroku's, a primary with replicas) allows; Redis Cluster does not, and RQ does not run on
# one either.
_POP_AND_READ = scripts.Lua(
    """
for _, queue_key in ipairs(KEYS) do
  local job_id = redis.call('LPOP', queue_key)
  if job_id then
    return {queue_key, job_id, redis.call('HGETALL', ARGV[1] .. job_id)}
  end
end
return false
"""
)


class BridgeQueue(Queue):
    """RQ's queue, whose ``dequeue_any`` takes a waiting job and its hash in one round trip."""

    @classmethod
    def dequeue_any(
        cls,
        queues: Iterable[Queue],
        timeout: int | None,
        connection: Redis,
        job_class: type[Job] | None = None,
        serializer: Serializer | str | None = None,
        death_penalty_class: type[BaseDeathPenalty] | None = None,
    ) -> tuple[Job, Queue] | None:
        """Return the job at the front of the first of ``queues`` that holds one, and its queue; when all
        are empty, wait as RQ does (``timeout`` s; ``rq.exceptions.DequeueTimeout`` after it, None when
        ``timeout`` is None).

        A job id whose hash is gone, or holds no job (no ``data``), is skipped, as RQ skips it; a hash that
        cannot be read otherwise raises with the job's id and queue attached, as RQ's dequeue does. One
        queue is left to RQ's own dequeue, which moves the job to the queue's intermediate list instead of
        popping it.
        """
        queues = list(queues)
        if len(queues) > 1:
            by_key = {queue.key: queue for queue in queues}
            prefix = (job_class or Job).redis_job_namespace_prefix
            while found := _POP_AND_READ(connection, list(by_key), [prefix]):
                queue_key, job_id, flat = as_text(found[0]), as_text(found[1]), found[2]
                restored = _restored(job_id, flat, by_key[queue_key], job_class, serializer, connection)
                if restored is not None:
                    return restored
        return super().dequeue_any(queues, timeout, connection, job_class, serializer, death_penalty_class)


def _restored(
    job_id: str,
    flat: list[Any],
    queue: Queue,
    job_class: type[Job] | None,
    serializer: Serializer | str | None,
    connection: Redis,
) -> tuple[Job, Queue] | None:
    """The job from its hash's ``HGETALL`` reply as the script returned it (names and values in turn), or
    None when there is no job in it (RQ's ``Job.fetch`` raises ``NoSuchJobError``, which its dequeue
    skips): the hash expired or was deleted while the job waited, or holds only what a late write left."""
    if not flat:
        return None
    job = (job_class or Job)(job_id, connection=connection, serializer=serializer)
    try:
        job.restore(dict(zip(flat[::2], flat[1::2], strict=True)))
    except NoSuchJobError:
        return None
    except Exception as error:
        # What RQ attaches for its worker's report of a job it could not read.
        error.job_id = job_id  # type: ignore[attr-defined]
        error.queue = queue  # type: ignore[attr-defined]
        raise
    return job, queue
