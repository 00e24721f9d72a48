"""What makes each planned call take effect once and in order: done-call records, target claims, the plan
version last applied to each record, and calls begun (``keys.IDEMPOTENCY_KEY``, ``CLAIM_KEY``,
``APPLIED_KEY``, ``BEGUN_KEY``).

They are one memory on purpose: a call begins with one Lua script (done before? claim the target; the
record's applied version; was it begun before, and now it is) and ends with another (record it done and
move the record's version forward; release the claim if it is still ours), so a call costs two Redis
round trips. The executor (``bridge/executor.py``) decides what each answer means; a worker renews the
claims it holds (``renew``) so that a claim outlives no dead worker by more than its short TTL.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal, cast

from redis import Redis
from redis.client import Pipeline
from redis.exceptions import NoScriptError

from bridge import keys
from bridge.defaults import BEGUN_TTL_S
from bridge.stores import scripts

# Begin: done before? claim the target; the record's applied version; whether a call on the record began
# and never finished (its answer may be lost: the record may hold its effect), and mark this one begun.
_BEGIN = scripts.Lua("""
if redis.call('EXISTS', KEYS[1]) == 1 then return {'duplicate', false, 0} end
if not redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return {'busy', false, 0} end
local begun = redis.call('SET', KEYS[4], '1', 'NX', 'EX', ARGV[3]) and 0 or 1
return {'claimed', redis.call('GET', KEYS[3]), begun}
""")
# End of a claimed call: record a completed call (its result under its key, the record's version if it
# moved forward, and nothing left unfinished on the record), then release the claim if it is still ours
# (it may have expired and been taken). A call that ended without an answer leaves its record marked begun.
_END = scripts.Lua("""
if ARGV[2] == '1' then
  redis.call('SET', KEYS[1], ARGV[3], 'EX', ARGV[4])
  local last = tonumber(redis.call('GET', KEYS[3]) or '-1')
  if tonumber(ARGV[5]) > last then redis.call('SET', KEYS[3], ARGV[5], 'EX', ARGV[4]) end
  redis.call('DEL', KEYS[4])
end
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
return 1
""")
# Extend the claims this worker still holds (each KEYS[i] with its token ARGV[i + 1]).
_RENEW = scripts.Lua("""
local renewed = 0
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[i + 1] then
    redis.call('PEXPIRE', key, ARGV[1])
    renewed = renewed + 1
  end
end
return renewed
""")

Begun = Literal["duplicate", "busy", "claimed"]


@dataclass
class Claim:
    """The Redis keys of one call, and the token of its claim on the target."""

    idempotency_key: str
    claim_key: str
    applied_key: str
    begun_key: str
    token: str
    released: bool = False

    @classmethod
    def of(cls, key: str, target: str, obj: str) -> Claim:
        """Return the claim a call with idempotency ``key`` on ``target`` (writing record ``obj``) takes."""
        return cls(
            idempotency_key=keys.IDEMPOTENCY_KEY.format(key=key),
            claim_key=keys.CLAIM_KEY.format(target=target),
            applied_key=keys.APPLIED_KEY.format(object=obj),
            begun_key=keys.BEGUN_KEY.format(object=obj),
            token=uuid.uuid4().hex,
        )


@dataclass(frozen=True)
class Started:
    """How a call began: ``state``, the record's applied version, and whether it was begun before."""

    state: Begun
    applied: int | None
    again: bool


class CallMarks:
    """A call's marks (begin, end, renew its claim) on one connection."""

    def __init__(self, conn: Redis) -> None:
        self._conn = conn

    def begin(self, claim: Claim, claim_ttl_s: float) -> Started:
        """Return ``duplicate`` (made before), ``busy`` (claimed by another) or ``claimed``, with the record's
        applied version and whether a call on the record began before and never finished (an earlier
        attempt of this call, or of an older plan's, whose answer may be lost)."""
        state, applied, again = _BEGIN(self._conn, _keys(claim), self._begin_args(claim, claim_ttl_s))
        return _started(state, applied, again)

    def begin_and_read(
        self, claim: Claim, claim_ttl_s: float, reads: Callable[[Pipeline], object]
    ) -> tuple[Started, list[Any]]:
        """``begin``, and the reads that ``reads`` queues on a pipeline, sent after the script in its round
        trip; return how the call began and the reads' replies, read after the claim was taken (when it
        was). A read that failed is its error in its place, for the caller to raise while it holds the
        claim (and so ends it).

        When Redis has lost its scripts (a restart, a failover: ``NOSCRIPT``), the script did nothing and
        the reads ran before any claim: the claim is taken again (``begin``) and the reads are sent after
        it (two round trips, only then).
        """
        args = self._begin_args(claim, claim_ttl_s)
        with self._conn.pipeline(transaction=False) as pipe:
            _BEGIN.queue(pipe, _keys(claim), args)
            reads(pipe)
            begun, *replies = pipe.execute(raise_on_error=False)
        if isinstance(begun, NoScriptError):
            started = self.begin(claim, claim_ttl_s)
            with self._conn.pipeline(transaction=False) as pipe:
                reads(pipe)
                return started, pipe.execute(raise_on_error=False)
        if isinstance(begun, Exception):
            raise begun
        return _started(*begun), replies

    def begin_many(self, claims: list[Claim], claim_ttl_s: float) -> list[Started]:
        """``begin`` each call of a bulk request, in order, in one round trip (each its own script)."""
        with self._conn.pipeline(transaction=False) as pipe:
            for claim in claims:
                _BEGIN.queue(pipe, _keys(claim), self._begin_args(claim, claim_ttl_s))
            return [_started(*answer) for answer in scripts.execute(pipe)]

    @staticmethod
    def _begin_args(claim: Claim, claim_ttl_s: float) -> list[str | int]:
        return [claim.token, int(claim_ttl_s * 1000), BEGUN_TTL_S]

    def end(
        self,
        claim: Claim,
        ttl_s: int,
        result: bytes | None = None,
        version: int = 0,
        then: Pipeline | None = None,
    ) -> None:
        """Release the claim; with a ``result``, record the call as done first.

        With ``then``, a pipeline holding more writes (the operators' record of the call), the script joins
        them and all of it is one round trip.
        """
        if then is None:
            _END(self._conn, _keys(claim), _end_args(claim, ttl_s, result, version))
            claim.released = True
        else:
            self.end_many([(claim, result, version)], ttl_s, then)

    def end_many(self, ends: list[tuple[Claim, bytes | None, int]], ttl_s: int, then: Pipeline) -> None:
        """``end`` each ``(claim, result, version)``, joining the writes in the pipeline ``then`` (not a
        transaction), which this sends: one round trip for the calls of a bulk request and their records."""
        for claim, result, version in ends:
            _END.queue(then, _keys(claim), _end_args(claim, ttl_s, result, version))
        scripts.execute(then)
        for claim, _, _ in ends:
            claim.released = True

    def renew(self, claims: Iterable[Claim], claim_ttl_s: float) -> int:
        """Extend the claims still held (one round trip); return how many were."""
        held = [claim for claim in claims if not claim.released]
        if not held:
            return 0
        return int(
            _RENEW(
                self._conn,
                [claim.claim_key for claim in held],
                [int(claim_ttl_s * 1000), *(claim.token for claim in held)],
            )
        )


def _keys(claim: Claim) -> list[str]:
    return [claim.idempotency_key, claim.claim_key, claim.applied_key, claim.begun_key]


def _end_args(claim: Claim, ttl_s: int, result: bytes | None, version: int) -> list[str | bytes | int]:
    return [claim.token, "1" if result is not None else "0", result or b"", ttl_s, version]


def _started(state: bytes, applied: bytes | None, again: int) -> Started:
    return Started(cast(Begun, state.decode()), int(applied) if applied is not None else None, bool(again))
