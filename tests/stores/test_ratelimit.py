"""The destinations' rate limit, shared by every worker through Redis."""

from __future__ import annotations

import time

import redis

from bridge.stores import ratelimit


def test_the_rate_limit_is_shared_through_redis(redis_client: redis.Redis) -> None:
    other_worker = redis.Redis(connection_pool=redis_client.connection_pool)
    # Two workers share 5 calls per second: the sixth call in the same second has to wait.
    while time.time() % 1 > 0.5:  # start early in a second, so the window does not roll over mid-test
        time.sleep(0.05)
    waits = [ratelimit.reserve(redis_client if n % 2 else other_worker, "zendesk", 5) for n in range(6)]
    assert waits[:5] == [0.0] * 5
    assert 0 < waits[5] <= 1.0
