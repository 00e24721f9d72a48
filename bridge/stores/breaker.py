"""Each destination's gate, shared by every worker: a pause after a 429, and a circuit breaker.

**Pause.** A 429 tells the bridge to slow down, not one worker: its ``Retry-After`` (or
``PAUSE_DEFAULT_S``) holds every request to that destination, from every worker, until then.

**Circuit breaker** (Nygard, *Release It!*; the states as in pybreaker and resilience4j). *Closed*: requests
go, and their outcomes are counted in a sliding window (``BREAKER_WINDOW_S`` in ``BREAKER_BUCKET_S``
buckets). When at least ``BREAKER_MIN_REQUESTS`` were made in the window and at least
``BREAKER_FAILURE_RATIO`` of them failed (5xx, 408, no answer), the circuit *opens*: for
``BREAKER_OPEN_S`` no request goes, and calls wait (nothing is dropped; events keep being accepted). Then
it is *half-open*: one request (the probe, chosen by ``SET NX``) goes; an answer closes the circuit and
clears the window, a failure opens it again.

Failures are counted and judged in one Lua step as they happen; requests that got an answer are counted by
each process and added every ``BREAKER_FLUSH_S`` (a round trip a second, not one per request).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from redis import Redis

from bridge import defaults
from bridge.connections import text
from bridge.keys import BREAKER_WINDOW_KEY, GATE_KEY, PROBE_KEY

# KEYS[1] the gate, KEYS[2..] the window's buckets (newest first); ARGV: now, bucket TTL (s), min
# requests, failure ratio, seconds open, reason. Counts one failure in the newest bucket; opens the circuit
# when the window says so (and it is not open already). Returns 1 when this failure opened it.
_FAILED = """
redis.call('HINCRBY', KEYS[2], 'failed', 1)
redis.call('EXPIRE', KEYS[2], ARGV[2])
if redis.call('HEXISTS', KEYS[1], 'open_until') == 1 then return 0 end
local ok, failed = 0, 0
for i = 2, #KEYS do
  local counts = redis.call('HMGET', KEYS[i], 'ok', 'failed')
  ok = ok + tonumber(counts[1] or '0')
  failed = failed + tonumber(counts[2] or '0')
end
local total = ok + failed
if total < tonumber(ARGV[3]) or failed < tonumber(ARGV[4]) * total then return 0 end
local now = tonumber(ARGV[1])
redis.call('HSET', KEYS[1], 'open_until', now + tonumber(ARGV[5]), 'opened_at', now,
  'reason', failed .. ' of ' .. total .. ' requests failed; ' .. ARGV[6])
redis.call('HINCRBY', KEYS[1], 'trips', 1)
return 1
"""

# KEYS[1] the gate; ARGV: until. A pause only ever grows.
_PAUSE = """
local current = tonumber(redis.call('HGET', KEYS[1], 'paused_until') or '0')
if tonumber(ARGV[1]) > current then redis.call('HSET', KEYS[1], 'paused_until', ARGV[1]) end
return 1
"""


@dataclass(frozen=True)
class Gate:
    """What a destination's gate says at ``read_at``: paused until, circuit open until (0: closed), and
    whether a probe of the half-open circuit is out."""

    paused_until: float = 0.0
    open_until: float = 0.0
    opened_at: float = 0.0
    reason: str = ""
    trips: int = 0
    probing: bool = False
    read_at: float = 0.0

    @property
    def circuit(self) -> str:
        """``closed``, ``open`` or ``half-open`` (open's time is up: one probe may go), as of ``read_at``."""
        if not self.open_until:
            return "closed"
        return "open" if self.open_until > self.read_at else "half-open"


def read(conn: Redis, destinations: Iterable[str]) -> dict[str, Gate]:
    """Return the gate of each destination (one round trip)."""
    names = list(destinations)
    with conn.pipeline(transaction=False) as pipe:
        for destination in names:
            pipe.hgetall(GATE_KEY.format(destination=destination))
            pipe.exists(PROBE_KEY.format(destination=destination))
        found = pipe.execute()
    now = time.time()
    return {
        destination: _gate(found[2 * n], bool(found[2 * n + 1]), now) for n, destination in enumerate(names)
    }


def pause(conn: Redis, destination: str, until: float) -> None:
    """Hold every request to ``destination`` until ``until`` (epoch seconds): the upstream said 429."""
    conn.register_script(_PAUSE)(keys=[GATE_KEY.format(destination=destination)], args=[until])


def failed(conn: Redis, destination: str, what: str, now: float | None = None) -> bool:
    """Count one failed request (``what``: e.g. ``"503 from POST …"``); return True when it opened the circuit."""
    now = time.time() if now is None else now
    opened = conn.register_script(_FAILED)(
        keys=[GATE_KEY.format(destination=destination), *_window(destination, now)],
        args=[
            now,
            defaults.BREAKER_WINDOW_S + defaults.BREAKER_BUCKET_S,
            defaults.BREAKER_MIN_REQUESTS,
            defaults.BREAKER_FAILURE_RATIO,
            defaults.BREAKER_OPEN_S,
            what[:200],
        ],
    )
    return bool(opened)


def answered(conn: Redis, counts: Mapping[str, int], now: float | None = None) -> None:
    """Add requests that got an answer (``{destination: how many}``) to the current buckets."""
    now = time.time() if now is None else now
    with conn.pipeline(transaction=False) as pipe:
        for destination, count in counts.items():
            bucket = _window(destination, now)[0]
            pipe.hincrby(bucket, "ok", count)
            pipe.expire(bucket, defaults.BREAKER_WINDOW_S + defaults.BREAKER_BUCKET_S)
        pipe.execute()


def try_probe(conn: Redis, destination: str, token: str, lease_s: float) -> bool:
    """Become the one request that probes ``destination``'s half-open circuit; False when another is."""
    return bool(conn.set(PROBE_KEY.format(destination=destination), token, nx=True, px=int(lease_s * 1000)))


def release_probe(conn: Redis, destination: str) -> None:
    """Give up the probe without a request sent (its rate-limit slot was too far): another may probe."""
    conn.delete(PROBE_KEY.format(destination=destination))


def probed(conn: Redis, destination: str, answered_: bool, now: float | None = None) -> None:
    """End a probe: an answer closes the circuit (and clears its window); a failure opens it again."""
    now = time.time() if now is None else now
    gate = GATE_KEY.format(destination=destination)
    with conn.pipeline(transaction=True) as pipe:
        if answered_:
            pipe.hdel(gate, "open_until", "opened_at", "reason")
            pipe.delete(*_window(destination, now))
        else:
            pipe.hset(gate, mapping={"open_until": now + defaults.BREAKER_OPEN_S, "opened_at": now})
        pipe.delete(PROBE_KEY.format(destination=destination))
        pipe.execute()


def _window(destination: str, now: float) -> list[str]:
    """The bucket keys of the window ending at ``now``, newest first."""
    size = defaults.BREAKER_BUCKET_S
    newest = int(now // size)
    count = -(-defaults.BREAKER_WINDOW_S // size)
    return [BREAKER_WINDOW_KEY.format(destination=destination, bucket=newest - n) for n in range(count)]


def _gate(values: Mapping[bytes, bytes], probing: bool, now: float) -> Gate:
    fields = {text(name): text(value) for name, value in values.items()}
    return Gate(
        paused_until=float(fields.get("paused_until") or 0),
        open_until=float(fields.get("open_until") or 0),
        opened_at=float(fields.get("opened_at") or 0),
        reason=fields.get("reason", ""),
        trips=int(fields.get("trips") or 0),
        probing=probing,
        read_at=now,
    )
