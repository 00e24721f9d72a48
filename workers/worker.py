"""The worker process: RQ workers on the bridge's queues, no fork per job, JSON serializer, pooled processes.

``run(settings)`` starts the process's state (``process.py``) from the settings it is given and works the
queues of ``bridge.job_queues``. ``BridgeWorker`` is RQ's non-forking worker with
- a keeper thread (``keeper.py``) that keeps the job in hand leased for ``BRIDGE_WORKER_LEASE_S`` and hands
  a dead worker's jobs to the living (RQ's own lease for a ``SimpleWorker`` is the job's whole timeout);
- no exit when Redis goes away: a failover or a restart is waited out, and the job in hand runs again
  once its lease lapses (every call in it is idempotent);
- a waiting job taken with its hash in one round trip (``dequeue.py``; RQ's takes two);
- a job's bookkeeping in two round trips, its start and its end (RQ's own worker makes seven: two before
  the job, a heartbeat after it, a watch and a read of dependent jobs, which the bridge never makes, and
  the worker's "idle" state, which the end's transaction writes);
- fewer heartbeats and suspension checks than RQ sends, and no scheduler of RQ's (a forked child that
  outlives a killed worker, holding its Redis connection; and a lock that outlives it for a minute): the
  keeper moves due retries.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import redis
from rq import Queue, SimpleWorker, worker_registration
from rq.executions import Execution
from rq.job import Job, JobStatus
from rq.rate_limit import release_slot
from rq.registry import StartedJobRegistry, clean_registries
from rq.serializers import JSONSerializer
from rq.utils import now as utcnow
from rq.worker import WorkerStatus
from rq.worker_pool import WorkerPool

from bridge import defaults, job_queues, keys, tracing
from bridge.connections import sync_client
from bridge.settings import Settings, redact_url
from workers import keeper, process
from workers.dequeue import BridgeQueue
from workers.keeper import Keeper

REDIS_DOWN = (redis.ConnectionError, redis.TimeoutError)
"""What Redis going away looks like to a worker (a failover, a restart, a network cut)."""

REDIS_WAIT_MAX_S = 5.0
"""Longest pause between two attempts to reach Redis again."""

log = logging.getLogger("bridge.worker")


class BridgeWorker(SimpleWorker):
    """RQ's non-forking worker, leased by its keeper thread, that waits out Redis going away."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Set once RQ has checked the queues given (a plain ``Queue`` is one too): RQ dequeues with this
        # class's ``dequeue_any``, a waiting job and its hash in one round trip (workers/dequeue.py).
        self.queue_class = BridgeQueue
        self._heartbeat_expires = 0.0  # monotonic time the worker's key lives to, as last sent
        self._suspension_checked = 0.0
        self._in_hand: tuple[Job, Execution] | None = None
        self._keeper: Keeper | None = None
        self._idle_written = False  # the end of the last job wrote "idle" (``handle_job_success``)

    def heartbeat(self, timeout: int | None = None, pipeline: Any = None) -> None:
        """Keep the worker's key alive, skipping beats that would not extend it (RQ sends ~5 per job).

        Each beat sent lives at least RQ's default (``worker_ttl`` + 60 s); a beat is skipped only when
        the last one sent already keeps the key alive as long as this one asks, within a second.
        """
        ttl = max(int(timeout or 0), self.worker_ttl + 60)
        now = time.monotonic()
        if self._heartbeat_expires - now >= ttl - defaults.HEARTBEAT_SLACK_S:
            return
        try:
            super().heartbeat(ttl, pipeline)
        except REDIS_DOWN:
            if pipeline is not None:
                raise
            self._wait_for_redis("sending a heartbeat")
            return
        self._heartbeat_expires = now + ttl

    def check_for_suspension(self, burst: bool) -> None:
        """Ask Redis whether workers are suspended (``bridge`` pause) at most once a second, not per job."""
        now = time.monotonic()
        if now - self._suspension_checked < defaults.SUSPENSION_CHECK_S:
            return
        try:
            super().check_for_suspension(burst)
        except REDIS_DOWN:
            self._wait_for_redis("checking for a pause")
        self._suspension_checked = time.monotonic()

    def run_maintenance_tasks(self) -> None:
        try:
            super().run_maintenance_tasks()  # type: ignore[no-untyped-call]
        except REDIS_DOWN:
            self._wait_for_redis("cleaning the registries")

    def execute_job(self, job: Job, queue: Queue) -> None:
        """Run the job here (RQ's ``SimpleWorker``), leased by the keeper while it runs.

        When Redis goes away mid-job, the job is left as it stands and the worker waits for Redis: the job
        is still leased to this worker, and runs again (here or elsewhere) once the lease lapses.
        """
        try:
            execution = self._start(job, queue)
            self._in_hand = (job, execution)
            try:
                self.perform_job(job, queue, execution)
            finally:
                self._in_hand = None
            # No "idle" here (RQ's SimpleWorker sets it): a job that ends well says so in its end's
            # transaction (``handle_job_success``), and the dequeue that follows any other says it.
        except REDIS_DOWN:
            self._wait_for_redis(f"running job {job.id}")

    def _start(self, job: Job, queue: Queue) -> Execution:
        """Write what RQ writes as a job starts — its execution and lease, the worker busy, the job
        started — in one transaction, where RQ sends two (``prepare_execution``, then
        ``prepare_job_execution`` from ``perform_job``, which this worker's version skips)."""
        lease_s = self.get_heartbeat_ttl(job)
        with self.connection.pipeline() as pipe:
            execution = Execution.create(job, lease_s, pipeline=pipe, worker_name=self.name)
            self.executions[execution.id] = execution
            self.set_state(WorkerStatus.BUSY, pipeline=pipe)
            self.heartbeat(lease_s, pipeline=pipe)
            job.prepare_for_execution(self.name, pipeline=pipe)
            pipe.persist(job.key)
            if len(self.queues) == 1:  # RQ's dequeue from one queue moves the job to an intermediate list
                pipe.lrem(queue.intermediate_queue_key, 1, job.id)
            pipe.execute()
        return execution

    def set_state(self, state: str, pipeline: Any = None) -> None:
        """Write the worker's state, but not the "idle" RQ writes before each dequeue when the end of the
        job before wrote it (``handle_job_success``): then only the state in memory changes, here, where
        RQ's own worker changes it.

        Redis gone away is waited out here: RQ writes "idle" first thing in its dequeue, outside the
        retries of the dequeue itself, and a worker that failed to write it would exit. (A job whose
        failure RQ could not record, Redis being away, ends without an error that would make the worker
        wait: its dequeue is the next to meet Redis.)
        """
        idle_written, self._idle_written = self._idle_written, False
        if pipeline is not None:
            super().set_state(state, pipeline)
            return
        if state == WorkerStatus.IDLE and idle_written:
            # RQ's stop signal handler reads the state in memory: "busy" until now makes a stop that
            # lands while a job ends a warm one (the job finishes, the worker stops before the next).
            self._state = WorkerStatus.IDLE
            return
        while True:
            try:
                super().set_state(state)
                return
            except REDIS_DOWN:
                self._wait_for_redis(f"writing its state ({state})")
                if self._stop_requested:
                    return

    def prepare_job_execution(self, job: Job, remove_from_intermediate_queue: bool = False) -> None:
        """Nothing left to write: ``_start`` wrote it with the execution."""

    def handle_execution_ended(self, job: Job, queue: Queue, heartbeat_ttl: int) -> None:
        """Note the end time only. RQ also writes a heartbeat here to cover the job's success or failure
        callback; the bridge's jobs have none, and the outcome's transaction follows at once."""
        job.ended_at = utcnow()

    def handle_job_success(
        self, job: Job, queue: Queue, started_job_registry: StartedJobRegistry, execution: Execution
    ) -> None:
        """Record the job finished in one transaction (RQ's, less its look for dependent jobs).

        RQ watches the job's dependents and reads them before the transaction (two round trips): the
        bridge enqueues no job that depends on another. A job that repeats (none of the bridge's) takes
        RQ's own path.
        """
        if job.repeats_left:
            super().handle_job_success(job, queue, started_job_registry, execution)
            return
        assert job.started_at is not None
        assert job.ended_at is not None
        result_ttl = job.get_result_ttl(self.default_result_ttl)
        with self.connection.pipeline() as pipe:
            self.increment_successful_job_count(pipeline=pipe)
            self.increment_total_working_time(job.ended_at - job.started_at, pipe)
            if result_ttl != 0:
                job._handle_success(
                    result_ttl,
                    pipeline=pipe,
                    worker_name=self.name,
                    execution_id=execution.id,
                    execution_started_at=execution.created_at,
                    execution_ended_at=job.ended_at,
                )
            job.cleanup(result_ttl, pipeline=pipe, remove_from_queue=False)
            job._status = JobStatus.FINISHED
            self.cleanup_execution(job, pipeline=pipe, execution=execution)
            # "idle" in Redis now, so that the dequeue that follows need not write it; in memory, only
            # when that dequeue asks for it (``set_state``).
            pipe.hset(self.key, "state", WorkerStatus.IDLE)
            pipe.execute()
        self._idle_written = True
        release_slot(job)
        self.log.info("Successfully completed job %s in %ss", job.id, job.ended_at - job.started_at)

    def extend_lease(self, lease_s: int) -> None:
        """Extend the lease of the job in hand by ``lease_s`` (the keeper thread calls this)."""
        in_hand = self._in_hand
        if in_hand is None:
            return
        job, execution = in_hand
        with self.connection.pipeline() as pipe:
            execution.heartbeat(job.started_job_registry, lease_s, pipeline=pipe)
            job.heartbeat(datetime.now(UTC), lease_s, pipeline=pipe, xx=True)
            pipe.execute()

    def get_heartbeat_ttl(self, job: Job, working_time: float = 0.0) -> int:
        """A started job's first lease: the keeper extends it while the job runs."""
        return process.current().settings.worker_lease_s

    def clean_registries(self) -> bool:
        """Clean every queue's registries (abandoned jobs queued again, expired entries dropped) unless
        another worker did this round; return whether this one did.

        RQ's own version takes a lock per queue for 899 s and releases it only when it gets to the end: a
        worker killed (or a Redis restart) in the middle leaves that queue uncleaned for 15 minutes, and the
        abandoned jobs in it untaken. The bridge's one lock is a round's (the keeper's interval, a quarter
        of ``BRIDGE_WORKER_LEASE_S``) and is never released: it lapses, whoever held it.
        """
        round_ms = int(keeper.round_s(process.current().settings) * 900)
        if not self.connection.set(keys.CLEANUP_LOCK_KEY, self.name, nx=True, px=round_ms):
            return False
        for queue in self.queues:
            clean_registries(queue, self._exc_handlers)
            worker_registration.clean_worker_registry(queue)
            queue.intermediate_queue.cleanup(self, queue)
        self.last_cleaned_at = utcnow()  # type: ignore[assignment]  # rq annotates it as None only
        return True

    def subscribe(self) -> None:
        """Listen on this worker's pub/sub channel (RQ's commands: stop a job, shut down) in a thread that
        looks at its stop flag every second.

        RQ polls with a 60 s wait and means to give up joining that thread after 1 s; since redis-py 8.2,
        ``PubSubWorkerThread.stop()`` itself joins the thread, so a worker asked to stop waited out the
        60 s poll before exiting (a SIGTERM took up to a minute).
        """
        log.info("worker %s: subscribing to channel %s", self.name, self.pubsub_channel_name)
        self.pubsub = self.connection.pubsub()
        self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})
        self.pubsub_thread = self.pubsub.run_in_thread(  # type: ignore[assignment]  # rq annotates it as None only
            sleep_time=defaults.WORKER_PUBSUB_POLL_S,
            daemon=True,
            exception_handler=self._pubsub_exception_handler,
        )

    def request_stop(self, signum: Any, frame: Any) -> None:
        # A drain job in hand finishes the event it is at, not the whole batch (RQ's warm shutdown).
        process.STOPPING.set()
        super().request_stop(signum, frame)  # type: ignore[no-untyped-call]

    def bootstrap(self, *args: Any, **kwargs: Any) -> None:
        super().bootstrap(*args, **kwargs)
        executor = process.current().executor
        self._keeper = Keeper(self, lambda: executor(self.connection), process.current().settings)
        self._keeper.start()

    def teardown(self) -> None:
        if self._keeper is not None:
            self._keeper.stop()
        try:
            super().teardown()  # type: ignore[no-untyped-call]
        except REDIS_DOWN:
            log.warning("worker %s: Redis is unreachable at exit; its key expires on its own", self.name)

    def work(self, *args: Any, **kwargs: Any) -> bool:
        """Work the queues (RQ's loop); then send the spans still batched (a pool's worker process ends
        with ``os._exit``, which runs no exit handler of the tracing SDK's)."""
        try:
            return bool(super().work(*args, **kwargs))
        finally:
            tracing.flush()

    def _wait_for_redis(self, doing: str) -> None:
        """Log once, then wait with backoff until Redis answers (or the worker is asked to stop)."""
        log.warning("worker %s: Redis is unreachable while %s; waiting for it", self.name, doing)
        pause = 0.5
        while not self._stop_requested:
            try:
                self.connection.ping()
            except REDIS_DOWN:
                time.sleep(pause)
                pause = min(pause * 2, REDIS_WAIT_MAX_S)
                continue
            log.warning("worker %s: Redis answers again", self.name)
            self._heartbeat_expires = 0.0
            return


def run(settings: Settings, *, burst: bool = False, concurrency: int = 1, queues: Sequence[str] = ()) -> bool:
    """Run workers until stopped (or, with ``burst``, until the queues are empty)."""
    # Rules, clients and configuration are checked now: a bad rules file stops the worker at start.
    process.start(settings)
    connection = sync_client(settings, socket_timeout=None)
    if burst:
        connection.ping()  # a one-off drain that cannot reach Redis says so (one line) and ends
    else:
        _wait_for_redis_at_start(connection, settings)
    names = list(queues) or job_queues.queue_names()
    if concurrency > 1:
        pool = WorkerPool(
            names,
            connection=connection,
            num_workers=concurrency,
            worker_class=BridgeWorker,
            queue_class=BridgeQueue,
            serializer=JSONSerializer,
        )
        pool.start(burst=burst, logging_level=settings.log_level)
        return True
    worker = BridgeWorker(
        [BridgeQueue(name, connection=connection, serializer=JSONSerializer) for name in names],
        connection=connection,
        serializer=JSONSerializer,
        # The keeper thread cleans the registries every quarter lease; RQ's own round is a fallback.
        maintenance_interval=600,
    )
    if burst:
        job_queues.enqueue_due(connection, names)  # retries already due are part of the burst
    # RQ's scheduler is not run: the keeper moves due retries (workers/keeper.py).
    return bool(worker.work(burst=burst, logging_level=settings.log_level))


def _wait_for_redis_at_start(connection: redis.Redis, settings: Settings) -> None:
    """Wait (with backoff, saying so once) until Redis answers: a worker started before Redis, or during a
    failover, waits it out as a running one does, instead of exiting. Returns True when it answers (a
    SIGTERM meanwhile ends the process, as before any job)."""
    pause = 0.5
    logged = False
    while True:
        try:
            connection.ping()
        except REDIS_DOWN as error:
            if not logged:
                url = redact_url(settings.effective_redis_url)
                log.warning("worker: Redis at %s is unreachable (%s); waiting for it", url, error)
                logged = True
        else:
            if logged:
                log.warning("worker: Redis answers; starting")
            return
        time.sleep(pause)
        pause = min(pause * 2, REDIS_WAIT_MAX_S)
