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

import functools
import logging
import math
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from redis import Redis
from redis.client import Pipeline
from rq import get_current_job
from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry
from rq.serializers import JSONSerializer

from bridge import defaults, job_queues, keys, tracing, upstreams
from bridge.errors import CallFailed, EventFailed, RetryLater, RuleError
from bridge.event import Event
from bridge.job_queues import ABANDONED_RETRY, REPLAY_OF_TRACE, destination_queue
from bridge.planner import Plan
from bridge.resync import runner
from bridge.rules.model import PlannedAction
from bridge.stores import audit, batches, history
from bridge.tracing import TRACEPARENT
from workers import process

log = logging.getLogger("bridge.worker")


def _current_job() -> Job:
    job = get_current_job()
    assert job is not None, "runs inside an RQ job"
    return job


def _job_span(job: Job, name: str, **attributes: str | int | None) -> AbstractContextManager[tracing.Span]:
    """The span of a job's run: it continues the trace its meta names (the delivery's, for an event's
    work), and links to the trace of the event a replay replays."""
    return tracing.span(
        name,
        "consumer",
        {
            "messaging.system": "rq",
            "messaging.destination.name": job.origin,
            "messaging.message.id": job.id,
            **attributes,
        },
        parent=job.meta.get(TRACEPARENT),
        links=[job.meta.get(REPLAY_OF_TRACE)],
    )


def process_event(event: Event, attempt: int = 1) -> dict[str, Any]:
    """Take in one normalized event: record it, plan it against its subject's newest state, fan the calls
    out by destination (bridge/planner.py)."""
    job = _current_job()
    with _job_span(job, "process_event", **_event_attributes(event), **{"bridge.attempt": attempt}):
        conn: Redis = job.connection
        worker = process.current()
        rerun = _is_rerun(job)

        def record(pipe: Pipeline) -> None:  # sent with the plan's first reads (one round trip)
            history.save_event(pipe, event, worker.settings.record_retention_s)

        if rerun:
            # Its worker died under it: the units it had in hand are finished first, in order.
            for destination, holder in batches.holders(conn):
                if holder == job.id:
                    _drain(conn, job.id, destination, time.monotonic() + defaults.INLINE_CALLS_BUDGET_S, 1)
        # Recorded already by an earlier run: a later attempt, a re-run, or a run again on the same attempt
        # (``_retry_job``: a wait that costs no attempt, such as the source's gate holding).
        recorded = attempt > 1 or rerun or "retry_reason" in job.meta
        first = None if recorded else record
        return _settle_plan(job, event, attempt, lambda: worker.planner(conn).plan(event, None, first), rerun)


_READ_WHY = {
    "tie": "a tie",
    "partial": "it tells part of the ticket's state",
    "restored": "a restore that tells no field",
    "again": "a read met a newer state",
}


def _why_read(read: Event) -> str:
    """Why the planner read the subject from its source (``delivery_id`` ``source:<reason>:<event>``)."""
    reason = read["delivery_id"].split(":")[1] if read["delivery_id"].startswith("source:") else ""
    return _READ_WHY.get(reason, "read from its source")


def _event_attributes(event: Event) -> dict[str, str | int | None]:
    subject = event["subject"]
    return {
        "bridge.event_id": event["id"],
        "bridge.source": event["source"],
        "bridge.event_type": event["type"],
        "bridge.subject": f"{subject['kind']} {subject.get('key') or subject['id']}",
    }


def _is_rerun(job: Job) -> bool:
    """Whether RQ runs ``job`` again because its worker died under it (each such run uses a retry)."""
    return job.retries_left is not None and job.retries_left < defaults.ABANDONED_JOB_RETRIES


def replan_subject(kind: str, subject_id: str, cause: str, attempt: int = 1) -> dict[str, Any]:
    """Plan a ticket or issue again from its newest state: another subject it is linked with changed."""
    job = _current_job()
    worker = process.current()
    with _job_span(
        job, "replan_subject", **{"bridge.subject": f"{kind} {subject_id}", "bridge.cause": cause}
    ):
        return _settle_plan(
            job, None, attempt, lambda: worker.planner(job.connection).replan(kind, subject_id, cause)
        )


def _settle_plan(
    job: Job, delivered: Event | None, attempt: int, plan_it: Callable[[], Plan], rerun: bool = False
) -> dict[str, Any]:
    conn: Redis = job.connection
    worker = process.current()
    settings = worker.settings
    try:
        plan = plan_it()
    except RuleError as error:
        if delivered is not None:
            history.set_event_status(conn, delivered["id"], "failed", f"rules: {error}")
        _fail_job(job, {"error": f"rules: {error}"})
        raise
    except RetryLater as later:
        return _retry_job(job, attempt, later, settings.retry_max_attempts)
    for action in plan.not_configured:
        _record_not_configured(conn, action, settings.record_retention_s)
    if delivered is not None and plan.event["id"] != delivered["id"]:
        history.set_event_status(
            conn,
            delivered["id"],
            "skipped",
            f"{_why_read(plan.event)}, settled by the source's state (event {plan.event['id']})",
        )
    elif (
        delivered is not None
        and plan.outcome in ("superseded", "unchanged")
        # A re-run that finds its own plan in force leaves the event to its calls (done, failed, waiting).
        and not (rerun and plan.in_force == delivered["id"])
    ):
        history.set_event_status(conn, delivered["id"], "skipped", plan.reason)
    if plan.actions:
        # Its calls go out now, from this job; what waits behind others' goes to drain jobs. A crash here
        # leaves the units waiting (or in this job's hands, for its re-run): the keeper arms their drains.
        _make_now(conn, job.id, plan.destinations)
    _log(plan.event, plan.outcome, actions=len(plan.actions), cascades=len(plan.cascades))
    return {
        "outcome": plan.outcome,
        "actions": len(plan.actions),
        "reason": plan.reason,
        "event_id": plan.event["id"],
    }


def make_again(event_id: str, override: dict[str, str], attempt: int = 1) -> dict[str, Any]:
    """Make the calls of a recorded event's subject's newest state again, though their records say they
    were made (an operator's override, ``bridge replay EVENT --again``); note it on the event and record
    the outcome in the audit log as the operator's."""
    job = _current_job()
    conn: Redis = job.connection
    worker = process.current()
    with _job_span(job, "make_again", **{"bridge.event_id": event_id, "bridge.override.by": override["by"]}):
        record = history.load_event(conn, event_id)
        if record is None:
            reason = f"no event {event_id} (older than the retention?)"
            audit.record(
                conn, **_who(override), action="replay-again", target=event_id, ok=False, detail=reason
            )
            _fail_job(job, {"error": reason})
            raise EventFailed(reason)
        event: Event = record.event  # type: ignore[assignment]  # stored as the event shape
        try:
            result = _settle_plan(job, None, attempt, lambda: worker.planner(conn).again(event, override))
        except RuleError as error:
            detail = f"rules: {error}"
            audit.record(
                conn, **_who(override), action="replay-again", target=event_id, ok=False, detail=detail
            )
            raise
        if result["outcome"] != "rescheduled":  # a retry of this job records it
            history.note_made_again(conn, event_id, override, result["event_id"])
            ok, detail = _again_outcome(conn, result)
            audit.record(conn, **_who(override), action="replay-again", target=event_id, ok=ok, detail=detail)
        return result


def run_resync(
    run_id: str, kind: str, since: str = "", subject: str = "", by: str = "bridge", via: str = "schedule"
) -> dict[str, Any]:
    """Make a catch-up or link-audit run for ``RUN_JOB_BUDGET_S`` (bridge/resync/); queue its next job on
    the resync lane while it is not over, so live events waiting meanwhile go first."""
    job = _current_job()
    conn: Redis = job.connection
    worker = process.current()
    with _job_span(job, "run_resync", **{"bridge.run_id": run_id, "bridge.run_kind": kind}):
        try:
            run = runner.execute(
                conn,
                worker.clients,
                worker.settings,
                worker.rules,
                kind,
                since=datetime.fromisoformat(since) if since else None,
                subject=subject,
                by=by,
                via=via,
                run_id=run_id,
                budget_s=defaults.RUN_JOB_BUDGET_S,
            )
        except runner.RunBusy as busy:
            return {"outcome": "busy", "reason": str(busy)}
        if run.status == "running":
            job_queues.enqueue_run(
                conn, run_id, kind, since, subject, by, via, part=_part(job) + 1, at=run.resume_at
            )
        return {"outcome": run.status, **run.as_json()}


def _part(job: Job) -> int:
    return int(job.meta.get("part") or 1)


def _who(override: dict[str, str]) -> dict[str, str]:
    return {"actor": override["by"], "via": override["via"]}


def _again_outcome(conn: Redis, result: dict[str, Any]) -> tuple[bool, str]:
    """Say how an override ended, in one line: the event that made the calls and what became of each."""
    made = history.load_event(conn, result["event_id"])
    if made is None or not result["actions"]:
        return True, f"nothing to make: {result['reason'] or 'the rules plan no call'}"
    calls = ", ".join(
        f"{call.get('kind')} {call.get('target')}: {call.get('outcome')}" for call in made.calls
    )
    waiting = result["actions"] - len(made.calls)
    tail = f"; {waiting} waiting for their destination's queue" if waiting > 0 else ""
    return (
        made.status != "failed",
        f"event {result['event_id']} ({made.status}): {calls or 'no call yet'}{tail}",
    )


def _record_not_configured(conn: Redis, action: PlannedAction, retention_s: int) -> None:
    """Record an action whose upstream is not configured as skipped, with the reason."""
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
    history.record_call(conn, action.event_id, record, retention_s)


def _retry_job(job: Job, attempt: int, later: RetryLater, max_attempts: int) -> dict[str, Any]:
    """Run the same job again after ``later.delay_s`` (its source could not be read, say)."""
    if later.counts and attempt >= max_attempts:
        _fail_job(job, {"error": f"gave up after {attempt} attempts: {later.reason}"})
        raise EventFailed(f"gave up after {attempt} attempts: {later.reason}")
    next_attempt = attempt + 1 if later.counts else attempt
    due = datetime.fromtimestamp(math.ceil(time.time() + later.delay_s), UTC)
    position = _ATTEMPT_POSITION[str(job.func_name)]
    args = [*job.args[:position], next_attempt]
    job_queues.events_queue(job.connection).enqueue_at(
        due,
        job.func_name,
        args=tuple(args),
        timeout=job.timeout,
        result_ttl=defaults.EVENT_JOB_RESULT_TTL_S,
        failure_ttl=defaults.JOB_FAILURE_TTL_S,
        description=job.description,
        meta={**job.meta, "attempt": next_attempt, "retry_reason": later.reason},
        retry=ABANDONED_RETRY,
    )
    return {"outcome": "rescheduled", "in_s": round(later.delay_s, 3), "reason": later.reason}


_ATTEMPT_POSITION = {
    job_queues.EVENT_JOB_FUNC: 1,
    job_queues.REPLAN_JOB_FUNC: 3,
    job_queues.AGAIN_JOB_FUNC: 2,
}
"""Where each job function takes its ``attempt`` argument."""


def drain_calls(destination: str) -> dict[str, Any]:
    """Make the calls of the events waiting for ``destination``, within half the job's timeout."""
    job = _current_job()
    conn: Redis = job.connection
    settings = process.current().settings
    # Its own trace, linked to the trace of each event whose calls it makes (and each back to it).
    with _job_span(job, "drain_calls", **{"bridge.destination": destination}) as span:
        batches.disarm(conn, destination)
        deadline = time.monotonic() + settings.calls_job_timeout_s / 2
        drained = _drain(conn, job.id, destination, deadline, defaults.DRAIN_MAX_UNITS, span)
        span.set(
            {
                "bridge.units": drained.units,
                "bridge.units_failed": drained.failed,
                "bridge.units_left": drained.left,
            }
        )
        if drained.held_until is not None:
            # Held (429 pause, open circuit): the units wait, in order, for a drain job then.
            job_queues.arm(conn, [destination], settings, at=drained.held_until)
        elif drained.left:
            job_queues.arm(conn, [destination], settings)  # the rest goes to a new job, after other queues
        return {"units": drained.units, "failed": drained.failed, "held_until": drained.held_until}


@dataclass(frozen=True)
class Held:
    """Units a drain kept in its job's hands, their calls made (``_drain``'s ``keep``): the next take of
    the job lets them go (or ``put_down``), with their events' count-down, in its transaction."""

    destination: str
    units: list[bytes]
    counted: list[tuple[str, str]]

    def count_down(self, pipe: Pipeline) -> None:
        for event_id, reason in self.counted:
            history.unit_finished(pipe, event_id, reason)


@dataclass(frozen=True)
class Drained:
    """What a drain did: units made, units failed for good, units left waiting, and until when the
    destination's gate holds its requests when that is why it stopped (epoch seconds)."""

    units: int
    failed: int
    left: int
    held_until: float | None = None
    armed: bool | None = None
    """For units left by a take that arms (``gather``): True when it raised the destination's drain flag
    (a drain job is to be queued), False when the flag was up (one is queued); None when not looked at."""
    kept: Held | None = None
    """With ``keep``: the units still in the job's hands, their calls made."""


def _drain(
    conn: Redis,
    job_id: str,
    destination: str,
    deadline: float,
    max_units: int,
    drain_span: tracing.Span = tracing.OFF,
    gather: bool = False,
    held: Held | None = None,
    keep: bool = False,
) -> Drained:
    """Take waiting units of ``destination`` one at a time into job ``job_id``'s in-flight list and make
    their calls, until none waits, ``max_units`` are made, ``deadline`` passes or the destination's gate
    holds its requests (the job's own in-flight unit, left by an earlier run of it, comes first). With
    ``gather``, a bulk API's units are left waiting until a whole batch waits, while ``BULK_BEHIND_EVENTS``
    events are queued. Each unit's calls continue its event's trace; a drain job's ``drain_span`` and
    they link to each other.

    ``held``: units of another destination the job kept in hand (an earlier drain's ``keep``), let go by
    this drain's first take, in its transaction (one round trip less than a put-down of their own). With
    ``keep``, the units in hand when the drain stops are kept (``Drained.kept``, ``left`` as the last take
    counted) for the caller to let go."""
    guard = process.current().guards.get(destination)
    # An API that takes calls in bulk gets the waiting units in batches, their calls merged.
    count = defaults.BULK_UNITS_MAX if bulk_kinds(destination) else 1
    at_least, while_queued = 1, None
    if gather and count > 1:
        at_least, while_queued = count, (job_queues.EVENTS_QUEUE, defaults.BULK_BEHIND_EVENTS)
    in_hand: list[bytes] = []
    # The units in hand whose calls are all made, counted down on their events with the next take or the
    # put-down: in one transaction with their leaving the job's hands, so a re-run counts none twice.
    counted: list[tuple[str, str]] = []

    def count_down(pipe: Pipeline) -> None:
        for event_id, reason in counted:
            history.unit_finished(pipe, event_id, reason)

    def let_go(pipe: Pipeline) -> None:
        assert held is not None
        held.count_down(pipe)
        batches.let_go(pipe, held.destination, job_id)

    units = failed = left = 0
    held_until = None
    armed = None
    while True:
        hold = guard.held() if guard is not None else None
        if hold is not None:
            held_until = hold.until
        if hold is not None or process.STOPPING.is_set() or units >= max_units or time.monotonic() > deadline:
            if in_hand and keep:
                return Drained(
                    units,
                    failed,
                    left,
                    held_until if left else None,
                    armed,
                    kept=Held(destination, in_hand, counted),
                )
            if held is not None:
                batches.put_down(conn, held.destination, job_id, held.units, held.count_down)
            if in_hand:
                left = batches.put_down(conn, destination, job_id, in_hand, count_down)
            else:
                left = int(conn.llen(keys.WAITING_KEY.format(destination=destination)))
            break
        with_it: batches.Writes | None
        if held is not None:
            finished, with_it = held.units, let_go  # another destination's, let go by this take
        else:
            finished, with_it = in_hand, count_down if counted else None  # nothing to count: no transaction
        taken = batches.take(
            conn,
            destination,
            job_id,
            finished,
            min(count, max_units - units),
            with_it,
            at_least,
            while_queued,
            arm=gather,
        )
        held = None
        counted = []
        left = taken.waiting
        if not taken.units:
            armed = taken.armed if gather and left else None
            break
        batch = [orjson.loads(raw) for raw in taken.units]
        made = _merged(conn, job_id, batch) if len(batch) > 1 else {}
        for unit in batch:
            description = f"{destination} calls of event {unit['event_id']}"
            meta = {"event_id": unit["event_id"], "destination": destination}
            if unit.get(TRACEPARENT):
                meta[TRACEPARENT] = unit[TRACEPARENT]  # its retries and failures continue the event's trace
            drain_span.link(unit.get(TRACEPARENT))
            with _calls_span(unit, destination, drain_span):
                outcome = make_calls(
                    conn,
                    unit["event_id"],
                    destination,
                    unit["actions"],
                    1,
                    job_id,
                    description,
                    meta,
                    made,
                    count_later=True,
                )
            if outcome.finished is not None:
                counted.append((unit["event_id"], outcome.finished))
            if outcome.failed_meta is not None:
                failed_calls_job(conn, unit["event_id"], destination, outcome, description, meta)
                failed += 1
        in_hand = taken.units
        units += len(taken.units)
    return Drained(units, failed, left, held_until if left else None, armed)


@functools.cache
def bulk_kinds(destination: str) -> frozenset[str]:
    """The action kinds of ``destination`` that its API takes many at a time (asked by every drain, the
    inline ones of each event included: the registry does not change while a worker runs)."""
    return frozenset(
        kind
        for kind, action in upstreams.actions().items()
        if action.spec.destination == destination and action.perform_many
    )


def _merged(conn: Redis, job_id: str, batch: list[dict[str, Any]]) -> dict[str, history.CallRecord]:
    """Make the bulk-capable calls of a batch of units in one request per kind; return their records by
    idempotency key (``make_calls`` takes them as made). A call is merged only when no call before it in
    the batch writes its target, so each target's calls keep their order."""
    seen: set[str] = set()
    merged: dict[str, list[PlannedAction]] = {}
    for unit in batch:
        for raw in unit["actions"]:
            action = PlannedAction.from_dict(raw)
            if action.target not in seen and upstreams.actions()[action.kind].perform_many is not None:
                merged.setdefault(action.kind, []).append(action)
            seen.add(action.target)
    made: dict[str, history.CallRecord] = {}
    executor = process.current().executor(conn)
    for kind_batch in merged.values():
        if len(kind_batch) > 1:
            made.update(executor.perform_many(kind_batch, job_id))
    return made


def _calls_span(
    unit: dict[str, Any], destination: str, drain_span: tracing.Span
) -> AbstractContextManager[tracing.Span]:
    return tracing.span(
        f"calls {destination}",
        attributes={
            "bridge.event_id": unit["event_id"],
            "bridge.destination": destination,
            "bridge.calls": len(unit["actions"]),
        },
        parent=unit.get(TRACEPARENT),
        links=[drain_span.traceparent],
    )


def _make_now(conn: Redis, job_id: str, destinations: list[str]) -> None:
    """Make a just-planned event's calls in its own job, one unit per destination (the oldest waiting: the
    lists are first in, first out), so that a delivery's first call goes out without waiting for a drain
    job. A rate-limited destination whose next slot is not free now is left to its drain job (which
    waits for slots); one whose gate holds its requests, or whose list still holds units, gets a drain job
    (then, or when the gate opens).

    An API that takes calls in bulk gets every unit waiting for it (up to ``BULK_UNITS_MAX``), their calls
    merged into one request. While ``BULK_BEHIND_EVENTS`` or more events are queued (the workers are
    behind), its units are left waiting until ``BULK_UNITS_MAX`` of them wait: the event job that finds
    them makes them in one request, and the one that finds the queue shorter makes what is left."""
    worker = process.current()
    deadline = time.monotonic() + defaults.INLINE_CALLS_BUDGET_S
    later = []
    # The units of one destination stay in hand until the next destination's take lets them go.
    held: Held | None = None
    for destination in destinations:
        guard = worker.guards.get(destination)
        if guard is not None and not guard.free_now():
            later.append(destination)
            continue
        units = defaults.BULK_UNITS_MAX if bulk_kinds(destination) else 1
        drained = _drain(conn, job_id, destination, deadline, units, gather=True, held=held, keep=True)
        held = drained.kept
        if drained.held_until is not None:
            job_queues.arm(conn, [destination], worker.settings, at=drained.held_until)
        elif drained.armed:  # the take raised the flag for the units it left waiting
            job_queues.queue_drains(conn, [destination], worker.settings)
        elif drained.left and drained.armed is None:
            later.append(destination)
    # The last destination's units are put down; units that came after its take get a drain job.
    if held is not None and batches.put_down(conn, held.destination, job_id, held.units, held.count_down):
        later.append(held.destination)
    if later:
        job_queues.arm(conn, sorted(set(later)), worker.settings)


@dataclass(frozen=True)
class CallsOutcome:
    """What became of one event's calls to one destination: the job's result, and failures if any."""

    result: dict[str, Any]
    failed_meta: dict[str, Any] | None = None
    failed_actions: list[dict[str, Any]] = field(default_factory=list)
    finished: str | None = None
    """With ``count_later``: every call is made, and the event's destination is to be counted done with
    this reason (``history.unit_finished``) by the caller."""


def run_calls(
    event_id: str, destination: str, actions: list[dict[str, Any]], attempt: int = 1
) -> dict[str, Any]:
    """Make one event's calls to one destination, in order (a retry, a requeue, a reconcile's calls)."""
    job = _current_job()
    attributes: dict[str, str | int | None] = {
        "bridge.event_id": event_id,
        "bridge.destination": destination,
        "bridge.attempt": attempt,
    }
    with _job_span(job, "run_calls", **attributes):
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
    made: Mapping[str, history.CallRecord] | None = None,
    count_later: bool = False,
) -> CallsOutcome:
    """Make the calls in order; schedule the rest on a retryable failure; say which failed for good.

    ``made``: calls already made in a merged request (``_merged``), by idempotency key: their records
    stand for them. ``count_later``: the event's destination is not counted done here but said so in
    ``CallsOutcome.finished`` (a drain counts it with its next take)."""
    executor = process.current().executor(conn)
    failures: list[history.CallRecord] = []
    failed_actions: list[dict[str, Any]] = []
    outcomes: list[str] = []
    for index, action in enumerate(actions):
        planned = PlannedAction.from_dict(action)
        record = made.get(planned.idempotency_key) if made else None
        if record is not None:
            if record["outcome"] == "failed":
                failures.append(record)
                failed_actions.append(action)
            else:
                outcomes.append(str(record["outcome"]))
            continue
        try:
            record = executor.perform(planned, job_id, attempt)
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
    if count_later and not failures:
        return CallsOutcome({"outcome": "done", "calls": outcomes}, finished=_finished_reason(outcomes))
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
    if failures:
        reasons = "; ".join(
            f"{call.get('kind')} {call.get('target')}: {call.get('upstream_status') or ''} {call.get('error')}"
            for call in failures
        )
        history.unit_failed(conn, event_id, reasons[:2000], finished)
        first = failures[0]
        return {
            "error": reasons[:2000],
            "upstream_status": first.get("upstream_status"),
            "upstream_body": first.get("upstream_body"),
            "destination": first.get("destination"),
        }
    if finished:
        history.unit_finished(conn, event_id, _finished_reason(outcomes))
    return None


def _finished_reason(outcomes: list[str]) -> str:
    """The reason an event's destination is counted done with: none when a call was made now."""
    return "" if any(outcome == "done" for outcome in outcomes) else "every call was already made"


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
