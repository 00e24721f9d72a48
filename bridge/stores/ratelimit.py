"""A rate limit per destination shared by every worker: requests paced evenly, one slot each.

``BRIDGE_RATE_LIMIT_<DESTINATION>`` requests per second (e.g. ``11`` for Zendesk's 700 requests/min).
The pace is a *generic cell rate algorithm* (GCRA, as in ATM traffic shaping and redis-cell): Redis
keeps one time per destination, the earliest moment the next request may go (its "theoretical arrival
time"); each request takes the next free slot and moves that time on by ``1 / rate``. So requests leave
evenly spaced, never in a burst that an upstream counting per second (Jira) or per minute (Zendesk)
would answer with 429, and a backlog drains in the time the limit allows, not longer.

Slots are handed out by Redis's own clock (``TIME`` inside the script), so workers on machines whose
clocks differ still share one pace. A caller takes a slot only when it is at most ``max_wait_s`` away
(then it sleeps until it); a farther one is not taken, and the caller hands the work over for later.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from redis import Redis

from bridge.keys import PACE_KEY

# KEYS[1] the destination's next free slot (seconds, as a string); ARGV: seconds per request, most
# seconds the caller will wait. Returns {1, wait} when a slot was taken, {0, wait} when the next one is
# farther than the caller waits (nothing taken).
_RESERVE = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) + tonumber(now_parts[2]) / 1000000
local interval = tonumber(ARGV[1])
local slot = tonumber(redis.call('GET', KEYS[1]) or '0')
if slot < now then slot = now end
local wait = slot - now
if wait > tonumber(ARGV[2]) then return {0, tostring(wait)} end
redis.call('SET', KEYS[1], tostring(slot + interval), 'PX', math.ceil((wait + interval) * 1000) + 1000)
return {1, tostring(wait)}
"""


# KEYS[1] the destination's next free slot. Returns the seconds until it (0: free now), as a string.
_NEXT_IN = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) + tonumber(now_parts[2]) / 1000000
local slot = tonumber(redis.call('GET', KEYS[1]) or '0')
if slot < now then return '0' end
return tostring(slot - now)
"""


@dataclass(frozen=True)
class Slot:
    """The answer to a request for a slot: taken or not, and the seconds until it (or until the next)."""

    taken: bool
    wait_s: float


def reserve(conn: Redis, destination: str, per_second: float, max_wait_s: float) -> Slot:
    """Take the next request slot of ``destination`` if it is at most ``max_wait_s`` seconds away.

    ``per_second`` is the destination's limit (> 0). Returns the slot: when ``taken``, the caller waits
    ``wait_s`` seconds and then sends its request; when not, nothing was taken and the next slot is
    ``wait_s`` seconds away. One round trip.
    """
    if per_second <= 0:
        raise ValueError("a rate limit is a positive number of requests per second")
    taken, wait = conn.register_script(_RESERVE)(
        keys=[PACE_KEY.format(destination=destination)], args=[1.0 / per_second, max_wait_s]
    )
    wait_s = float(wait)
    return Slot(bool(int(taken)), wait_s if math.isfinite(wait_s) else 0.0)


def next_slot_in(conn: Redis, destination: str) -> float:
    """Return the seconds until ``destination``'s next free slot (0: free now), taking nothing."""
    wait = float(conn.register_script(_NEXT_IN)(keys=[PACE_KEY.format(destination=destination)]))
    return wait if math.isfinite(wait) else 0.0
