"""A rate limit per destination shared by every worker: a one-second window counted in Redis.

``BRIDGE_RATE_LIMIT_<DESTINATION>`` calls per second (e.g. Zendesk's 700 requests/min ≈ 11/s). A call
over the limit is not made: the job is rescheduled for the next window, so no worker sleeps.
"""

from __future__ import annotations

import math
import time

from redis import Redis

from bridge import defaults
from bridge.keys import RATE_WINDOW_KEY


def reserve(conn: Redis, destination: str, per_second: float) -> float:
    """Take one call of this second's allowance; return 0, or the seconds to wait when it is spent."""
    now = time.time()
    second = int(now)
    key = RATE_WINDOW_KEY.format(destination=destination, second=second)
    with conn.pipeline(transaction=True) as pipe:
        pipe.incr(key)
        pipe.expire(key, defaults.RATE_WINDOW_TTL_S)
        taken, _ = pipe.execute()
    if int(taken) <= max(1, math.floor(per_second)):
        return 0.0
    return (second + 1) - now
