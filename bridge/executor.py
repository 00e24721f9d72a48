"""Making one planned action's upstream call with the bridge's guarantees (docs/operations.md).

For each call, in this order:
1. **Done before?** A completed call's idempotency key is recorded and never made again: a retried job,
   a duplicate event or a job re-run after a crash re-makes only unfinished calls.
2. **Claim** the call's target (SET NX with a TTL): calls writing one target run one at a time, and a
   dead worker's claim expires. A busy target reschedules the job; it never blocks.
3. **Stale?** The last applied sequence per target and subject: an older one is skipped. With the claim,
   a target's calls take effect in sequence order.
4. **Rate limit** of the destination, shared by every worker (``stores/ratelimit.py``).
5. **Call** (the action's function in its upstream's ``actions.py``), then record the key and the
   sequence, and release the claim, in one step.
Steps 1-3 are one Lua script and so is the end of the claim (``stores/idempotency.py``): two Redis round
trips per call besides the operators' record of it (``stores/history.py``).
Retryable failures raise ``RetryLater`` (with the upstream's ``Retry-After`` or a jittered exponential
backoff); permanent ones raise ``CallFailed``, both decided by the error's type. A library function: the
RQ jobs (``workers/jobs.py``) decide what to do with them.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

import orjson
from redis import Redis

from bridge import defaults
from bridge.errors import (
    CallFailed,
    NotConfigured,
    RateLimited,
    RequestRefused,
    RetryableUpstreamError,
    RetryLater,
    UpstreamError,
    UpstreamUnavailable,
)
from bridge.rules.model import PlannedAction
from bridge.settings import Settings
from bridge.stores import history, ratelimit
from bridge.stores.idempotency import CallMarks, Claim
from bridge.upstreams import Clients, actions


@dataclass
class Executor:
    """Makes planned calls for one worker process (its clients are pooled for the process's life)."""

    conn: Redis
    clients: Clients
    settings: Settings

    def __post_init__(self) -> None:
        self._marks = CallMarks(self.conn)

    def perform(self, action: PlannedAction, job_id: str | None, attempt: int) -> history.CallRecord:
        """Make ``action``'s call once; return its record, or raise ``RetryLater`` / ``CallFailed``."""
        key = action.idempotency_key
        record: history.CallRecord = {
            "idempotency_key": key,
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
        claim = Claim.of(key, action.target, action.subject)
        state, last = self._marks.begin(claim, self.settings.claim_ttl_s)
        if state == "duplicate":
            return self._finish(action, record, "skipped-duplicate")
        if state == "busy":
            raise RetryLater(
                defaults.BUSY_RETRY_S, f"{action.target} is busy with another call", counts=False
            )
        try:
            return self._perform_claimed(action, record, claim, last)
        finally:
            if not claim.released:  # an unexpected error (or the job's timeout) ended the call
                self._end_claim(claim)

    def _perform_claimed(
        self, action: PlannedAction, record: history.CallRecord, claim: Claim, last: int | None
    ) -> history.CallRecord:
        if last is not None and last > action.sequence:
            record["error"] = f"sequence {action.sequence} is older than {last}, already applied"
            self._end_claim(claim)
            return self._finish(action, record, "skipped-stale")
        limit = self.settings.rate_limits.get(action.destination)
        if limit:
            wait = ratelimit.reserve(self.conn, action.destination, limit)
            if wait > 0:
                self._end_claim(claim)
                history.note_backoff(self.conn, action.destination, time.time() + wait, rate_limited=True)
                raise RetryLater(wait, f"{action.destination} rate limit ({limit:g}/s)", True, counts=False)
        started = time.perf_counter()
        try:
            perform = actions()[action.kind].perform
            result = perform(self.clients, self.conn, action.params, action.idempotency_key)
        except RetryableUpstreamError as error:
            record["ms"] = (time.perf_counter() - started) * 1000
            self._end_claim(claim)
            self._describe(record, error)
            delay, rate_limited = self.backoff(error, int(record.get("attempts") or 1))
            record["retry_in_s"] = round(delay, 3)  # shown with the try on the event's page
            history.note_backoff(self.conn, action.destination, time.time() + delay, rate_limited)
            self._finish(action, record, "retrying")
            raise RetryLater(delay, str(error), rate_limited) from error
        except (UpstreamError, RequestRefused, NotConfigured) as error:
            record["ms"] = (time.perf_counter() - started) * 1000
            self._end_claim(claim)
            self._describe(record, error)
            raise CallFailed(self._finish(action, record, "failed")) from error
        record["ms"] = (time.perf_counter() - started) * 1000
        self._end_claim(claim, result=orjson.dumps(result), sequence=action.sequence)
        return self._finish(action, record, "done")

    def _end_claim(self, claim: Claim, result: bytes | None = None, sequence: int = 0) -> None:
        """Release the claim; with a ``result``, record the call as done first (one round trip)."""
        self._marks.end(claim, self.settings.idempotency_ttl_s, result, sequence)

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
        self, action: PlannedAction, record: history.CallRecord, outcome: history.CallOutcome
    ) -> history.CallRecord:
        record["outcome"] = outcome
        record["finished_at"] = time.time()
        history.record_call(self.conn, action.event_id, record, self.settings.record_retention_s)
        return record
