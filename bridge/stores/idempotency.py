"""What makes each planned call take effect once and in order: done-call records, target claims and the
last applied sequence per target and subject (``keys.IDEMPOTENCY_KEY``, ``CLAIM_KEY``, ``SEQUENCE_KEY``).

The three are one memory on purpose: a call begins with one Lua script (done before? claim the target;
read its last sequence) and ends with another (record it done and move the sequence forward; release the
claim if it is still ours), so a call costs two Redis round trips, not six. The executor
(``bridge/executor.py``) decides what each answer means.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal

from redis import Redis

from bridge import keys

# Begin: done before? claim the target; the target's last applied sequence.
_BEGIN = """
if redis.call('EXISTS', KEYS[1]) == 1 then return {'duplicate', false} end
if not redis.call('SET', KEYS[2], ARGV[1], 'NX', 'EX', ARGV[2]) then return {'busy', false} end
return {'claimed', redis.call('GET', KEYS[3])}
"""
# End of a claimed call: record a completed call (its result under its key, and the target's sequence if
# it moved forward), then release the claim if it is still ours (it may have expired and been taken by
# another worker).
_END = """
if ARGV[2] == '1' then
  redis.call('SET', KEYS[1], ARGV[3], 'EX', ARGV[4])
  local last = tonumber(redis.call('GET', KEYS[3]) or '-1')
  if tonumber(ARGV[5]) > last then redis.call('SET', KEYS[3], ARGV[5], 'EX', ARGV[4]) end
end
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
return 1
"""

Begun = Literal["duplicate", "busy", "claimed"]


@dataclass
class Claim:
    """The Redis keys of one call, and the token of its claim on the target."""

    idempotency_key: str
    claim_key: str
    sequence_key: str
    token: str
    released: bool = False

    @classmethod
    def of(cls, key: str, target: str, subject: str) -> Claim:
        """Return the claim a call with idempotency ``key`` on ``target`` (for ``subject``) would take."""
        return cls(
            idempotency_key=keys.IDEMPOTENCY_KEY.format(key=key),
            claim_key=keys.CLAIM_KEY.format(target=target),
            sequence_key=keys.SEQUENCE_KEY.format(target=target, subject=subject),
            token=uuid.uuid4().hex,
        )


class CallMarks:
    """The two scripts, registered once per connection."""

    def __init__(self, conn: Redis) -> None:
        self._begin = conn.register_script(_BEGIN)
        self._end = conn.register_script(_END)

    def begin(self, claim: Claim, claim_ttl_s: int) -> tuple[Begun, int | None]:
        """Return ``duplicate`` (made before), ``busy`` (claimed by another) or ``claimed`` and the last sequence."""
        state, last = self._begin(
            keys=[claim.idempotency_key, claim.claim_key, claim.sequence_key], args=[claim.token, claim_ttl_s]
        )
        begun: Begun = state.decode()
        return begun, int(last) if last is not None else None

    def end(self, claim: Claim, ttl_s: int, result: bytes | None = None, sequence: int = 0) -> None:
        """Release the claim; with a ``result``, record the call as done first (one round trip)."""
        self._end(
            keys=[claim.idempotency_key, claim.claim_key, claim.sequence_key],
            args=[claim.token, "1" if result is not None else "0", result or b"", ttl_s, sequence],
        )
        claim.released = True
