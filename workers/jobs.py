"""RQ jobs: module-level functions taking JSON-safe arguments (enqueued with the JSON serializer).

``process_event`` (queue ``bridge-events``): record the event, plan its calls with the rules, and put each
destination's share on that destination's waiting list (``bridge/stores/batches.py``), so a slow or failing upstream
holds up only its own queue while an event's dependent calls to one destination stay in order.

``drain_calls`` (queue ``bridge-calls-<destination>``): make the waiting events' calls, many events per job.
``run_calls``: make one event's calls to one destination: a retry, a requeued failure, a reconcile.
Both make calls with ``make_calls`` (``bridge/executor.py`` per call): a retryable failure schedules a
``run_calls`` job with the calls not yet done (``enqueue_at``: the worker never sleeps); a permanent one
ends in RQ's failed registry with the upstream's status and answer in the job's meta, after the other
calls have been made.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from redis import Redis
from rq import get_current_job
from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry
from rq.serializers import JSONSerializer

from bridge import defaults, job_queues, keys
from bridge.errors import CallFailed, EventFailed, RetryLater, RuleError
from bridge.event import Event
from bridge.job_queues import ABANDONED_RETRY, destination_queue
from bridge.rules.model import PlannedAction
from bridge.stores import batches, history, links
from workers import process

log = logging.getLogger("bridge.worker")


def _current_job() -> Job:
    job = get_current_job()
    assert job is not None, "runs inside an RQ job"
    return job


def process_event(event: Event) -> dict[str, Any]:
    """Take in one normalized event: record it, plan its calls and fan them out by destination."""
    job = _current_job()
    conn: Redis = job.connection
    worker = process.current()
    settings = worker.settings
    history.save_event(conn, event, settings.record_retention_s)
    try:
        planned = worker.rules.plan(event, settings, links.linked_for(conn, event))
    except RuleError as error:
        history.set_event_status(conn, event["id"], "failed", f"rules: {error}")
        _fail_job(job, {"error": f"rules: {error}"})
        raise
    planned = _configured(conn, worker, planned)
    if not planned:
        history.set_event_status(conn, event["id"], "skipped", _nothing_planned(worker, event), actions=0)
        links.remember_references(conn, event, settings.record_retention_s)
        _log(event, "skipped")
        return {"outcome": "skipped", "actions": 0}
    by_destination: dict[str, list[dict[str, Any]]] = {}
    for action in planned:
        by_destination.setdefault(action.destination, []).append(action.to_dict())
    event_key = keys.EVENT_KEY.format(event_id=event["id"])
    # One transaction: the waiting calls, the status and the ticket's keys (for rule 2's next comparison).
    with conn.pipeline(transaction=True) as pipe:
        for destination, actions in by_destination.items():
            batches.add(pipe, event["id"], destination, actions)
        pipe.hset(event_key, history.PENDING_FIELD, len(by_destination))
        history.set_event_status(pipe, event["id"], "planned", actions=len(planned))
        links.remember_references(pipe, event, settings.record_retention_s)
        pipe.execute()
    # A crash here leaves the units waiting: the workers' maintenance arms their destinations.
    job_queues.arm(conn, by_destination, settings)
    _log(event, "planned", actions=len(planned))
    return {"outcome": "planned", "actions": len(planned)}


def _nothing_planned(worker: process.WorkerProcess, event: Event) -> str:
    """Say why an event planned no call: which rules looked at it (their conditions left nothing to do)."""
    looked = [rule.name for rule in worker.rules.rules if rule.when.matches(event["source"], event["type"])]
    if not looked:
        return "no rule planned a call: no rule looks at this event's type"
    return (
        f"no rule planned a call: {', '.join(looked)} looked at it and found nothing to do"
        " (e.g. its links exist already)"
    )


def _configured(
    conn: Redis, worker: process.WorkerProcess, planned: list[PlannedAction]
) -> list[PlannedAction]:
    """Keep the actions whose upstream is configured; record the others as skipped, with the reason."""
    kept = []
    for action in planned:
        if action.destination in worker.clients:
            kept.append(action)
            continue
        now = time.time()
        record: history.CallRecord = {
            "idempotency_key": action.idempotency_key,
            "kind": action.kind,
            "destination": action.destination,
            "target": action.target,
            "rule": action.rule,
            "attempts": 0,
            "outcome": "skipped-not-configured",
            "error": f"{action.destination} is not configured (its variables are unset)",
            "started_at": now,
            "finished_at": now,
        }
        history.record_call(conn, action.event_id, record, worker.settings.record_retention_s)
    return kept


def drain_calls(destination: str) -> dict[str, Any]:
    """Make the calls of the events waiting for ``destination``, within half the job's timeout."""
    job = _current_job()
    conn: Redis = job.connection
    settings = process.current().settings
    batches.disarm(conn, destination)
    deadline = time.monotonic() + settings.calls_job_timeout_s / 2
    in_hand = b""
    units = failed = 0
    while True:
        stop = process.STOPPING.is_set() or units >= defaults.DRAIN_MAX_UNITS or time.monotonic() > deadline
        if in_hand and stop:
            batches.put_down(conn, destination, job.id, in_hand)
            break
        raw = batches.take(conn, destination, job.id, in_hand)
        if raw is None:
            break
        unit = orjson.loads(raw)
        description = f"{destination} calls of event {unit['event_id']}"
        meta = {"event_id": unit["event_id"], "destination": destination}
        outcome = make_calls(
            conn, unit["event_id"], destination, unit["actions"], 1, job.id, description, meta
        )
        if outcome.failed_meta is not None:
            failed_calls_job(conn, unit["event_id"], destination, outcome, description, meta)
            failed += 1
        in_hand = raw
        units += 1
    if conn.llen(keys.WAITING_KEY.format(destination=destination)):
        job_queues.arm(conn, [destination], settings)  # the rest goes to a new job, after other queues
    return {"units": units, "failed": failed}


@dataclass(frozen=True)
class CallsOutcome:
    """What became of one event's calls to one destination: the job's result, and failures if any."""

    result: dict[str, Any]
    failed_meta: dict[str, Any] | None = None
    failed_actions: list[dict[str, Any]] = field(default_factory=list)


def run_calls(
    event_id: str, destination: str, actions: list[dict[str, Any]], attempt: int = 1
) -> dict[str, Any]:
    """Make one event's calls to one destination, in order (a retry, a requeue, a reconcile's calls)."""
    job = _current_job()
    outcome = make_calls(
        job.connection, event_id, destination, actions, attempt, job.id, job.description, job.meta
    )
    if outcome.failed_meta is not None:
        _fail_job(job, outcome.failed_meta)
        raise EventFailed(outcome.failed_meta["error"])
    return outcome.result


def make_calls(
    conn: Redis,
    event_id: str,
    destination: str,
    actions: list[dict[str, Any]],
    attempt: int,
    job_id: str,
    description: str | None,
    meta: dict[str, Any],
) -> CallsOutcome:
    """Make the calls in order; schedule the rest on a retryable failure; say which failed for good."""
    executor = process.current().executor(conn)
    failures: list[history.CallRecord] = []
    failed_actions: list[dict[str, Any]] = []
    outcomes: list[str] = []
    for index, action in enumerate(actions):
        try:
            record = executor.perform(PlannedAction.from_dict(action), job_id, attempt)
        except RetryLater as later:
            result = _reschedule(
                conn, event_id, destination, actions[index:], attempt, later, description, meta
            )
            if result is None:
                reason = f"gave up after {attempt} attempts: {later.reason}"
                history.set_event_status(conn, event_id, "failed", reason)
                return CallsOutcome({"outcome": "failed"}, {"error": reason}, actions[index:])
            failed = _settle(conn, event_id, failures, [], finished=False)
            return CallsOutcome(result, failed, failed_actions)
        except CallFailed as failed_call:
            failures.append(failed_call.record)
            failed_actions.append(action)
            continue
        outcomes.append(str(record.get("outcome")))
    failed = _settle(conn, event_id, failures, outcomes)
    return CallsOutcome(
        {"outcome": "failed" if failed else "done", "calls": outcomes}, failed, failed_actions
    )


def _reschedule(
    conn: Redis,
    event_id: str,
    destination: str,
    remaining: list[dict[str, Any]],
    attempt: int,
    later: RetryLater,
    description: str | None,
    meta: dict[str, Any],
) -> dict[str, Any] | None:
    """Schedule the calls not made yet; None when the attempts are used up."""
    settings = process.current().settings
    next_attempt = attempt + 1 if later.counts else attempt
    if later.counts and attempt >= settings.retry_max_attempts:
        return None
    # RQ schedules by whole seconds (rounding down); round up so a Retry-After is never cut short.
    due = datetime.fromtimestamp(math.ceil(time.time() + later.delay_s), UTC)
    destination_queue(conn, destination).enqueue_at(
        due,
        job_queues.CALLS_JOB_FUNC,
        args=(event_id, destination, remaining, next_attempt),
        timeout=settings.calls_job_timeout_s,
        result_ttl=defaults.EVENT_JOB_RESULT_TTL_S,
        failure_ttl=defaults.JOB_FAILURE_TTL_S,
        description=description,
        meta={**meta, "attempt": next_attempt, "retry_reason": later.reason},
        retry=ABANDONED_RETRY,
    )
    return {"outcome": "rescheduled", "in_s": round(later.delay_s, 3), "reason": later.reason}


def _settle(
    conn: Redis,
    event_id: str,
    failures: list[history.CallRecord],
    outcomes: list[str],
    finished: bool = True,
) -> dict[str, Any] | None:
    """Record where the event stands after a job's calls; return the failed job's meta, if any failed."""
    event_key = keys.EVENT_KEY.format(event_id=event_id)
    if failures:
        reasons = "; ".join(
            f"{call.get('kind')} {call.get('target')}: {call.get('upstream_status') or ''} {call.get('error')}"
            for call in failures
        )
        history.set_event_status(conn, event_id, "failed", reasons[:2000])
        conn.hincrby(event_key, history.PENDING_FIELD, -1 if finished else 0)
        first = failures[0]
        return {
            "error": reasons[:2000],
            "upstream_status": first.get("upstream_status"),
            "upstream_body": first.get("upstream_body"),
            "destination": first.get("destination"),
        }
    if finished and conn.hincrby(event_key, history.PENDING_FIELD, -1) <= 0:
        status = conn.hget(event_key, "status")
        if status != b"failed":
            done = any(outcome == "done" for outcome in outcomes)
            history.set_event_status(conn, event_id, "done", "" if done else "every call was already made")
    return None


def failed_calls_job(
    conn: Redis,
    event_id: str,
    destination: str,
    outcome: CallsOutcome,
    description: str | None,
    meta: dict[str, Any],
) -> str:
    """Put calls that failed for good in a drain into RQ's failed registry, as a job of their own.

    It is the ``run_calls`` job that would have failed had the calls had one: operators see the
    upstream's answer on it and requeue it like any other.
    """
    assert outcome.failed_meta is not None
    settings = process.current().settings
    queue = destination_queue(conn, destination)
    job = Job.create(
        job_queues.CALLS_JOB_FUNC,
        args=(event_id, destination, outcome.failed_actions, 1),
        connection=conn,
        serializer=JSONSerializer,
        id=f"calls-{event_id}-{destination}",
        timeout=settings.calls_job_timeout_s,
        result_ttl=defaults.EVENT_JOB_RESULT_TTL_S,
        failure_ttl=defaults.JOB_FAILURE_TTL_S,
        description=description,
        origin=queue.name,
        meta={**meta, **outcome.failed_meta},
    )
    job.retries_left = 0
    with conn.pipeline() as pipe:
        job.set_status(JobStatus.FAILED, pipeline=pipe)
        job.save(pipeline=pipe)  # with its meta, which the registry's own save leaves out
        FailedJobRegistry(queue=queue).add(
            job, ttl=defaults.JOB_FAILURE_TTL_S, exc_string=outcome.failed_meta["error"], pipeline=pipe
        )
        pipe.execute()
    return str(job.id)


def _fail_job(job: Job, meta: dict[str, Any]) -> None:
    # The failed registry shows the upstream's answer; the job is not retried by RQ itself.
    job.meta.update(meta)
    job.save_meta()  # type: ignore[no-untyped-call]  # rq leaves save_meta unannotated
    job.retries_left = 0


def _log(event: Event, outcome: str, **extra: Any) -> None:
    log.info(
        "event %s",
        outcome,
        extra={
            "event_id": event["id"],
            "source": event["source"],
            "type": event["type"],
            "outcome": outcome,
            **extra,
        },
    )
