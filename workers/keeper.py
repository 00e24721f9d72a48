"""The keeper: a thread of each worker process that keeps its work its own while it lives, and gives a
dead worker's work to the living.

Every quarter of ``BRIDGE_WORKER_LEASE_S`` (8 s by default) it
- extends the lease of the job in hand: the job's execution in RQ's started registry, whose score is the
  time it counts as abandoned (RQ's own heartbeat, which a non-forking worker never sends mid-job);
- extends the claims on targets the process holds (bridge/stores/idempotency.py);
- when it holds the cleanup lock, runs RQ's registry cleanup of every queue — a job whose lease lapsed is
  abandoned and RQ queues it again (it has retries left: ``job_queues.ABANDONED_RETRY``) — then returns the
  in-flight calls of drain jobs that will not run again and queues drains for calls left waiting.
And every ``SCHEDULE_TICK_S``, when it holds the scheduling lock, it moves due retries onto their queues
(RQ's scheduler holds its lock for a minute, and a killed worker's scheduler would hold up every retry).
So a worker killed outright gives up its job and claims within one lease, and another worker runs the job
within a quarter lease more. A worker that is merely slow keeps both: renewals come from this thread, not
from the job's code. Redis going away stops nothing here: the thread waits and tries again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from redis import Redis
from redis.exceptions import RedisError

from bridge import job_queues, keys
from bridge.executor import Executor
from bridge.resync import runner
from bridge.settings import Settings
from bridge.stores import runs

if TYPE_CHECKING:
    from workers.worker import BridgeWorker

log = logging.getLogger("bridge.worker")

SCHEDULE_TICK_S = 0.5
"""How often due retries are moved onto their queues (a Retry-After is kept to within this)."""


def round_s(settings: Settings) -> float:
    """The keeper's round: a quarter of the lease (at least a quarter second)."""
    return max(0.25, settings.worker_lease_s / 4)


class Keeper(threading.Thread):
    """Renews this worker's job lease and claims; cleans RQ's registries for everyone, one worker at a time."""

    def __init__(
        self, worker: BridgeWorker, executor: Callable[[], Executor | None], settings: Settings
    ) -> None:
        super().__init__(name="bridge-keeper", daemon=True)
        self.worker = worker
        self.executor = executor
        self.settings = settings
        self.conn: Redis = worker.connection
        self.interval = round_s(settings)
        self.stopped = threading.Event()
        self._failing = False

    def run(self) -> None:
        next_round = time.monotonic()
        while not self.stopped.wait(SCHEDULE_TICK_S):
            try:
                self.schedule()
                if time.monotonic() >= next_round:
                    next_round = time.monotonic() + self.interval
                    self.beat()
                    self.clean()
            except RedisError as error:
                if not self._failing:  # one line per outage, not one per beat
                    log.warning(
                        "keeper: Redis is unreachable (%s); retrying every %.1f s", error, self.interval
                    )
                self._failing = True
                continue
            except Exception:
                log.exception("keeper: a round failed; the next one tries again")
                continue
            if self._failing:
                log.warning("keeper: Redis answers again")
                self._failing = False

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=self.interval + 5)

    def beat(self) -> None:
        """Extend the lease of the job in hand, and the claims held."""
        lease = self.settings.worker_lease_s
        self.worker.extend_lease(lease)
        executor = self.executor()
        if executor is not None:
            executor.renew_claims()

    def schedule(self) -> None:
        """Move due retries onto their queues, when no other worker did it this tick."""
        if self.conn.set(keys.SCHEDULE_LOCK_KEY, self.worker.name, nx=True, px=int(SCHEDULE_TICK_S * 900)):
            job_queues.enqueue_due(self.conn)

    def start_due_runs(self) -> None:
        """Queue a catch-up and a link audit once every BRIDGE_RESYNC_EVERY_S / BRIDGE_RECONCILE_EVERY_S
        (whichever worker's keeper sees it due first; none while a run of its kind is under way)."""
        for kind, every in (
            ("resync", self.settings.resync_every_s),
            ("reconcile", self.settings.reconcile_every_s),
        ):
            if not every or runs.holder(self.conn, kind) is not None:
                continue
            if self.conn.set(keys.RUN_DUE_KEY.format(kind=kind), self.worker.name, nx=True, ex=every):
                since = runner.scheduled_since(self.conn, every).isoformat() if kind == "resync" else ""
                run_id = runs.new_run_id(kind)
                job_queues.enqueue_run(self.conn, run_id, kind, since)
                log.info("keeper: queued a scheduled %s run %s", kind, run_id)

    def clean(self) -> None:
        """Run the registries' cleanup when no other worker is running it, start the runs that are due,
        then arm idle waiting lists."""
        if not self.worker.clean_registries():
            return
        self.start_due_runs()
        armed = job_queues.arm_idle(self.conn, self.settings)
        if armed:
            log.warning("queued drain jobs for calls left waiting: %s", ", ".join(armed))
