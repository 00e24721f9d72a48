"""Making one planned call with the contract's guarantees (CONTRACT.md, "Guarantees").

For each call, in this order:
1. **Done before?** A completed call's idempotency key is recorded (``bridge:idem:<key>``) and never made
   again: a retried job, a duplicate event or a job re-run after a crash re-makes only unfinished calls.
2. **Claim** the call's target (``bridge:claim:<target>``, SET NX with a TTL): calls writing one target run
   one at a time, and a dead worker's claim expires. A busy target reschedules the job; it never blocks.
3. **Stale?** The last applied sequence per target and subject (``bridge:seq:<target>|<subject>``): an
   older one is skipped. With the claim, a target's calls take effect in sequence order.
4. **Rate limit** of the destination, shared by every worker (``ratelimit.py``).
5. **Call**, then record the key and the sequence, and release the claim, in one step.
Steps 1-3 are one Lua script and so is the end of the claim: two Redis round trips per call besides the
operators' record of it.
Retryable failures raise ``RetryLater`` (with the upstream's ``Retry-After`` or a jittered exponential
backoff); permanent ones raise ``CallFailed``. The job (``jobs.py``) decides what to do with them.
"""

from __future__ import annotations

import random
import time
import uuid
from dataclasses import dataclass

import orjson
from redis import Redis

from bridge import constants, records
from bridge.errors import (
    CallFailed,
    NotConfigured,
    RateLimited,
    RequestRefused,
    RetryableUpstreamError,
    RetryLater,
    UpstreamError,
)
from bridge.rules.model import PlannedAction
from bridge.settings import Settings
from bridge.upstreams import Clients, actions
from workers import ratelimit

IDEMPOTENCY_KEY = constants.KEY_PREFIX + "idem:{key}"
CLAIM_KEY = constants.KEY_PREFIX + "claim:{target}"
SEQUENCE_KEY = constants.KEY_PREFIX + "seq:{target}|{subject}"
BUSY_RETRY_S = 1.0
"""How soon a call whose target another worker holds is tried again."""

# Steps 1-3 in one round trip: done before? claim the target; the target's last applied sequence.
_BEGIN = """
if redis.call('EXISTS', KEYS[1]) == 1 then return {'duplicate', false} end
if not redis.call('SET', KEYS[2], ARGV[1], 'NX', 'EX', ARGV[2]) then return {'busy', false} end
return {'claimed', redis.call('GET', KEYS[3])}
"""
# The end of a claimed call: record a completed call (its result under its key, and the target's
# sequence if it moved forward), then release the claim if it is still ours (it may have expired and
# been taken by another worker).
_END = """
if ARGV[2] == '1' then
  redis.call('SET', KEYS[1], ARGV[3], 'EX', ARGV[4])
  local last = tonumber(redis.call('GET', KEYS[3]) or '-1')
  if tonumber(ARGV[5]) > last then redis.call('SET', KEYS[3], ARGV[5], 'EX', ARGV[4]) end
end
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
return 1
"""


@dataclass
class _Claim:
    """The Redis keys of one call, and the token of its claim on the target."""

    idempotency_key: str
    claim_key: str
    sequence_key: str
    token: str
    released: bool = False


@dataclass
class Executor:
    """Makes planned calls for one worker process (its clients are pooled for the process's life)."""

    conn: Redis
    clients: Clients
    settings: Settings

    def __post_init__(self) -> None:
        self._begin = self.conn.register_script(_BEGIN)
        self._end = self.conn.register_script(_END)

    def perform(self, action: PlannedAction, job_id: str | None, attempt: int) -> records.CallRecord:
        """Make ``action``'s call once; return its record, or raise ``RetryLater`` / ``CallFailed``."""
        key = action.idempotency_key
        record: records.CallRecord = {
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
        claim = _Claim(
            idempotency_key=IDEMPOTENCY_KEY.format(key=key),
            claim_key=CLAIM_KEY.format(target=action.target),
            sequence_key=SEQUENCE_KEY.format(target=action.target, subject=action.subject),
            token=uuid.uuid4().hex,
        )
        state, last = self._begin(
            keys=[claim.idempotency_key, claim.claim_key, claim.sequence_key],
            args=[claim.token, self.settings.claim_ttl_s],
        )
        if state == b"duplicate":
            return self._finish(action, record, "skipped-duplicate")
        if state == b"busy":
            raise RetryLater(BUSY_RETRY_S, f"{action.target} is busy with another call", counts=False)
        try:
            return self._perform_claimed(action, record, claim, int(last) if last is not None else None)
        finally:
            if not claim.released:  # an unexpected error (or the job's timeout) ended the call
                self._end_claim(claim)

    def _perform_claimed(
        self, action: PlannedAction, record: records.CallRecord, claim: _Claim, last: int | None
    ) -> records.CallRecord:
        if last is not None and last > action.sequence:
            record["error"] = f"sequence {action.sequence} is older than {last}, already applied"
            self._end_claim(claim)
            return self._finish(action, record, "skipped-stale")
        limit = self.settings.rate_limits.get(action.destination)
        if limit:
            wait = ratelimit.reserve(self.conn, action.destination, limit)
            if wait > 0:
                self._end_claim(claim)
                records.note_backoff(self.conn, action.destination, time.time() + wait, rate_limited=True)
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
            records.note_backoff(self.conn, action.destination, time.time() + delay, rate_limited)
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

    def _end_claim(self, claim: _Claim, result: bytes | None = None, sequence: int = 0) -> None:
        """Release the claim; with a ``result``, record the call as done first (one round trip)."""
        ttl = self.settings.idempotency_ttl_s
        self._end(
            keys=[claim.idempotency_key, claim.claim_key, claim.sequence_key],
            args=[claim.token, "1" if result is not None else "0", result or b"", ttl, sequence],
        )
        claim.released = True

    def backoff(self, error: RetryableUpstreamError, attempt: int) -> tuple[float, bool]:
        """Return how long to wait before the next attempt, and whether a rate limit says so."""
        rate_limited = isinstance(error, RateLimited) or error.status == 503
        if error.retry_after is not None and error.status in (429, 503):
            return min(error.retry_after, self.settings.retry_max_s), rate_limited
        # Exponential backoff with full jitter (spreads retries of many workers over the window).
        ceiling = min(self.settings.retry_max_s, self.settings.retry_base_s * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling), rate_limited

    def _describe(self, record: records.CallRecord, error: Exception) -> None:
        record["error"] = str(error)[:1000]
        if isinstance(error, UpstreamError):
            record["upstream_status"] = error.status
            record["upstream_body"] = error.body

    def _finish(
        self, action: PlannedAction, record: records.CallRecord, outcome: records.CallOutcome
    ) -> records.CallRecord:
        record["outcome"] = outcome
        record["finished_at"] = time.time()
        records.record_call(self.conn, action.event_id, record, self.settings.record_retention_s)
        return record
