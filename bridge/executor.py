"""Making one planned action's upstream call with the bridge's guarantees (docs/operations.md).

For each call, in this order:
1. **Gate** of the destination (``bridge/guard.py``, read at most every ``GATE_CACHE_S``): a 429's pause or
   an open circuit holds the call; it waits, as a retry that costs no attempt.
2. **Done before?** A completed call's idempotency key is recorded and never made again: a retried job,
   a re-run plan or a job re-run after a crash re-makes only unfinished calls.
3. **Claim** the call's target (SET NX with a short TTL that the worker renews while it lives): calls
   writing one target (a Jira issue, a ticket) run one at a time, and a dead worker's claim lapses within
   ``BRIDGE_WORKER_LEASE_S``. A busy target reschedules the job; it never blocks.
4. **Superseded?** The plan version last applied to the record the call writes (a remote link, a Zendesk
   link…): a call of an older plan is skipped, so a late retry never undoes a newer plan's effect.
5. **Call** (the action's function in its upstream's ``actions.py``, told whether an earlier attempt of
   this very call began, so that it looks before it creates; each request passes the gate again and takes
   a slot of the rate limit), then record the key and move the record's version forward, and release the
   claim, in one step.
Steps 2-4 are one Lua script, sent with the reads the action's function will make of the bridge's own
records (``Action.read_ahead``: the Zendesk link index); the end of the claim is one too
(``stores/idempotency.py``), sent with the operators' record of the call (``stores/history.py``) and the
action's own records (``Call.then``: the Zendesk link index): two Redis round trips per call.
Retryable failures raise ``RetryLater`` (with the upstream's ``Retry-After`` or a jittered exponential
backoff); permanent ones raise ``CallFailed``, both decided by the error's type. A library function: the
RQ jobs (``workers/jobs.py``) decide what to do with them.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
from redis import Redis
from redis.client import Pipeline

from bridge import defaults, tracing
from bridge.errors import (
    BridgeError,
    CallFailed,
    DestinationHeld,
    NotConfigured,
    RateLimited,
    RequestRefused,
    RetryableUpstreamError,
    RetryLater,
    UpstreamError,
    UpstreamUnavailable,
)
from bridge.guard import DestinationGuard
from bridge.rules.model import PlannedAction
from bridge.settings import Settings
from bridge.stores import history
from bridge.stores.idempotency import CallMarks, Claim
from bridge.upstreams import Call, Clients, actions


def _call_attributes(action: PlannedAction, attempt: int) -> dict[str, str | int | None]:
    return {
        "bridge.call.kind": action.kind,
        "bridge.destination": action.destination,
        "bridge.target": action.target,
        "bridge.rule": action.rule,
        "bridge.event_id": action.event_id,
        "bridge.idempotency_key": action.idempotency_key,
        "bridge.plan_version": action.version,
        "bridge.attempt": attempt,
        "bridge.override.by": action.override["by"] if action.override else None,
    }


@dataclass
class HeldClaims:
    """The claims a worker process holds right now, which its keeper thread renews (thread-safe)."""

    _by_id: dict[int, Claim] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @contextmanager
    def holding(self, claim: Claim) -> Iterator[None]:
        with self._lock:
            self._by_id[id(claim)] = claim
        try:
            yield
        finally:
            with self._lock:
                self._by_id.pop(id(claim), None)

    def snapshot(self) -> list[Claim]:
        with self._lock:
            return list(self._by_id.values())


@dataclass(frozen=True)
class _Finished:
    """A call as it ends: its record, its outcome, its claim (with the result when done)."""

    action: PlannedAction
    record: history.CallRecord
    outcome: history.CallOutcome
    claim: Claim | None = None
    result: bytes | None = None
    then: Sequence[Callable[[Pipeline], object]] = ()
    """The action's own writes that go with its end (``Call.then``)."""


@dataclass
class Executor:
    """Makes planned calls for one worker process (its clients are pooled for the process's life)."""

    conn: Redis
    clients: Clients
    settings: Settings
    held: HeldClaims = field(default_factory=HeldClaims)
    guards: Mapping[str, DestinationGuard] = field(default_factory=dict)
    """The destinations' gates (rate limit, pause, circuit) that the clients' requests pass, by destination."""

    def __post_init__(self) -> None:
        self._marks = CallMarks(self.conn)

    def perform(self, action: PlannedAction, job_id: str | None, attempt: int) -> history.CallRecord:
        """Make ``action``'s call once; return its record, or raise ``RetryLater`` / ``CallFailed``.

        Traced as ``call <kind>``, with the upstream's HTTP requests (``bridge/upstreams/transport.py``)
        as its children.
        """
        with tracing.span(f"call {action.kind}", attributes=_call_attributes(action, attempt)) as span:
            record = self._perform(action, job_id, attempt)
            span.set({"bridge.outcome": record["outcome"]})
            return record

    def perform_many(self, batch: list[PlannedAction], job_id: str | None) -> dict[str, history.CallRecord]:
        """Make calls of one kind whose API takes them in bulk (``Action.perform_many``), for different
        records, in one request; return the record of each call this settled, by idempotency key.

        Each call keeps its own guarantees: made before (skipped), its target claimed, a newer plan's
        already applied (skipped-stale), its own answer recorded (done, or failed for good when the bulk
        answer refuses that one). A call not settled here — its target busy, the destination's gate
        holding, or the request as a whole failing — is left to ``perform`` (its retries are its own).
        """
        if not batch:
            return {}
        perform_many = actions()[batch[0].kind].perform_many
        guard = self.guards.get(batch[0].destination)
        if perform_many is None or (guard is not None and guard.held() is not None):
            return {}
        claims = [Claim.of(a.idempotency_key, a.target, a.object or a.target) for a in batch]
        begun = self._marks.begin_many(claims, self.settings.worker_lease_s)
        claimed: list[tuple[PlannedAction, history.CallRecord, Claim, bool]] = []
        finished: list[_Finished] = []
        for action, claim, started in zip(batch, claims, begun, strict=True):
            record = self._record(action, job_id, 1)
            if started.state == "duplicate":
                finished.append(_Finished(action, record, "skipped-duplicate"))
            elif (
                started.state == "claimed"
                and started.applied is not None
                and started.applied > action.version
            ):
                record["error"] = (
                    f"superseded: a newer plan ({started.applied}) already wrote {action.object}"
                )
                finished.append(_Finished(action, record, "skipped-stale", claim))
            elif started.state == "claimed":
                claimed.append((action, record, claim, started.again or action.override is not None))
        # The calls skipped are recorded, and their claims released, before the request: a stale call's
        # claim is not held while the request is out (a newer call on its target would find it busy).
        settled = self._finish_many(finished)
        if not claimed:
            return settled
        began = time.perf_counter()
        try:
            with ExitStack() as holding:
                for _, _, claim, _ in claimed:
                    holding.enter_context(self.held.holding(claim))
                calls = [
                    Call(action.idempotency_key, action.version, again) for action, _, _, again in claimed
                ]
                answers = perform_many(
                    self.clients,
                    self.conn,
                    [(action.params, call) for (action, _, _, _), call in zip(claimed, calls, strict=True)],
                )
        except (BridgeError, httpx.HTTPError):
            # The request as a whole failed: each call is made on its own (with its own retries).
            self._finish_many([], release=[claim for _, _, claim, _ in claimed])
            return settled
        ms = (time.perf_counter() - began) * 1000
        finished = []
        for (action, record, claim, _), call, answer in zip(claimed, calls, answers, strict=True):
            record["ms"] = ms
            record["merged"] = len(claimed)  # the calls that went in the same request
            if isinstance(answer, UpstreamError):
                self._describe(record, answer)
                finished.append(_Finished(action, record, "failed", claim))
            else:
                finished.append(_Finished(action, record, "done", claim, orjson.dumps(answer), call.then))
        return {**settled, **self._finish_many(finished)}

    def _record(self, action: PlannedAction, job_id: str | None, attempt: int) -> history.CallRecord:
        record: history.CallRecord = {
            "idempotency_key": action.idempotency_key,
            "kind": action.kind,
            "destination": action.destination,
            "target": action.target,
            "rule": action.rule,
            "job_id": job_id,
            "attempts": attempt,
            "outcome": "pending",
            "upstream_status": None,
            "upstream_body": None,
            "error": None,
            "started_at": time.time(),
            "finished_at": None,
            "ms": None,
        }
        if action.override is not None:
            record["override"] = action.override
        return record

    def _perform(self, action: PlannedAction, job_id: str | None, attempt: int) -> history.CallRecord:
        key = action.idempotency_key
        record = self._record(action, job_id, attempt)
        guard = self.guards.get(action.destination)
        hold = guard.held() if guard is not None else None
        if hold is not None:
            record["error"] = f"waiting: {action.destination}: {hold.reason}"
            self._finish(action, record, "pending")
            raise RetryLater(max(0.0, hold.until - time.time()), hold.reason, True, counts=False)
        claim = Claim.of(key, action.target, action.object or action.target)
        read_ahead, read = actions()[action.kind].read_ahead, None
        if read_ahead is None:
            started = self._marks.begin(claim, self.settings.worker_lease_s)
        else:
            params = action.params
            started, replies = self._marks.begin_and_read(
                claim, self.settings.worker_lease_s, lambda pipe: read_ahead(pipe, params)
            )
            read = tuple(replies)
        if started.state == "duplicate":
            return self._finish(action, record, "skipped-duplicate")
        if started.state == "busy":
            raise RetryLater(
                defaults.BUSY_RETRY_S, f"{action.target} is busy with another call", counts=False
            )
        try:
            with self.held.holding(claim):
                # An operator's override looks upstream before it creates, as after a lost answer: the
                # bridge's own records say "made", which is what the operator doubts.
                again = started.again or action.override is not None
                for reply in read or ():
                    if isinstance(reply, Exception):  # a read ahead failed: the claim ends (below)
                        raise reply
                return self._perform_claimed(action, record, claim, started.applied, again, read)
        finally:
            if not claim.released:  # an unexpected error (or the job's timeout) ended the call
                self._end_claim(claim)

    def renew_claims(self) -> int:
        """Extend the claims this process holds (its keeper thread calls this); return how many."""
        return self._marks.renew(self.held.snapshot(), self.settings.worker_lease_s)

    def _perform_claimed(
        self,
        action: PlannedAction,
        record: history.CallRecord,
        claim: Claim,
        applied: int | None,
        again: bool,
        read: tuple[Any, ...] | None = None,
    ) -> history.CallRecord:
        if applied is not None and applied > action.version:
            record["error"] = f"superseded: a newer plan ({applied}) already wrote {action.object}"
            return self._finish(action, record, "skipped-stale", claim)
        started = time.perf_counter()
        call = Call(action.idempotency_key, action.version, again, read)
        try:
            result = actions()[action.kind].perform(self.clients, self.conn, action.params, call)
        except DestinationHeld as held:  # not sent: the destination's gate holds its requests
            record["error"] = f"waiting: {held}"
            self._finish(action, record, "pending", claim)
            raise RetryLater(max(0.0, held.until - time.time()), str(held), True, counts=False) from held
        except RetryableUpstreamError as error:
            record["ms"] = (time.perf_counter() - started) * 1000
            self._describe(record, error)
            delay, rate_limited = self.backoff(error, int(record.get("attempts") or 1))
            record["retry_in_s"] = round(delay, 3)  # shown with the try on the event's page
            history.note_backoff(self.conn, action.destination, time.time() + delay, rate_limited)
            self._finish(action, record, "retrying", claim)
            raise RetryLater(delay, str(error), rate_limited) from error
        except (UpstreamError, RequestRefused, NotConfigured) as error:
            record["ms"] = (time.perf_counter() - started) * 1000
            self._describe(record, error)
            raise CallFailed(self._finish(action, record, "failed", claim)) from error
        record["ms"] = (time.perf_counter() - started) * 1000
        if action.override is not None:
            result = {**result, "override": action.override}  # the idempotency record says who made it again
        return self._finish(action, record, "done", claim, orjson.dumps(result), call.then)

    def _end_claim(self, claim: Claim, result: bytes | None = None, version: int = 0) -> None:
        """Release the claim; with a ``result``, record the call as done first (one round trip)."""
        self._marks.end(claim, self.settings.idempotency_ttl_s, result, version)

    def backoff(self, error: RetryableUpstreamError, attempt: int) -> tuple[float, bool]:
        """Return how long to wait before the next attempt, and whether a rate limit says so."""
        rate_limited = isinstance(error, RateLimited | UpstreamUnavailable)
        if error.retry_after is not None and rate_limited:
            return min(error.retry_after, self.settings.retry_max_s), rate_limited
        # Exponential backoff with full jitter (spreads retries of many workers over the window).
        ceiling = min(self.settings.retry_max_s, self.settings.retry_base_s * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling), rate_limited

    def _describe(self, record: history.CallRecord, error: Exception) -> None:
        record["error"] = str(error)[:1000]
        if isinstance(error, UpstreamError):
            record["upstream_status"] = error.status
            record["upstream_body"] = error.body

    def _finish(
        self,
        action: PlannedAction,
        record: history.CallRecord,
        outcome: history.CallOutcome,
        claim: Claim | None = None,
        result: bytes | None = None,
        then: Sequence[Callable[[Pipeline], object]] = (),
    ) -> history.CallRecord:
        """Record the call's outcome; with its ``claim``, end the claim (and with a ``result``, mark the call
        done, after the action's own writes ``then``) in the same round trip."""
        finished = _Finished(action, record, outcome, claim, result, then)
        return self._finish_many([finished])[action.idempotency_key]

    def _finish_many(
        self, finished: list[_Finished], release: list[Claim] | None = None
    ) -> dict[str, history.CallRecord]:
        """Record the calls' outcomes and end their claims (with a result, marking the call done), and
        release the claims in ``release`` (a bulk request's calls left to ``perform``), in one round trip;
        return the records of the finished calls by idempotency key."""
        if not finished and not release:
            return {}
        now = time.time()
        ttl = self.settings.idempotency_ttl_s
        with self.conn.pipeline(transaction=False) as pipe:
            ends: list[tuple[Claim, bytes | None, int]] = []
            for call in finished:
                for write in call.then:  # before the end that marks the call done
                    write(pipe)
                call.record["outcome"] = call.outcome
                call.record["finished_at"] = now
                history.add_call(pipe, call.action.event_id, call.record, self.settings.record_retention_s)
                if call.claim is not None:
                    version = call.action.version if call.result is not None else 0
                    ends.append((call.claim, call.result, version))
            ends += [(claim, None, 0) for claim in release or ()]
            self._marks.end_many(ends, ttl, then=pipe)
        return {call.action.idempotency_key: call.record for call in finished}
