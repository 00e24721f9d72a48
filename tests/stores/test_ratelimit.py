"""The destinations' rate limit: request slots paced evenly, shared by every worker through Redis."""

from __future__ import annotations

import itertools
import time

import pytest
import redis

from bridge.stores import ratelimit


def test_slots_are_spaced_evenly_across_workers(redis_client: redis.Redis) -> None:
    other_worker = redis.Redis(connection_pool=redis_client.connection_pool)
    # Two workers share 5 requests a second: each slot is a fifth of a second after the one before.
    slots = [
        ratelimit.reserve(redis_client if n % 2 else other_worker, "zendesk", 5, max_wait_s=10)
        for n in range(6)
    ]
    assert all(slot.taken for slot in slots)
    waits = [slot.wait_s for slot in slots]
    assert waits[0] == pytest.approx(0, abs=0.05)
    for before, after in itertools.pairwise(waits):
        assert after - before == pytest.approx(0.2, abs=0.05)


def test_a_slot_too_far_away_is_not_taken(redis_client: redis.Redis) -> None:
    first = ratelimit.reserve(redis_client, "jira", 2, max_wait_s=0.2)
    second = ratelimit.reserve(redis_client, "jira", 2, max_wait_s=0.2)  # half a second away: too far
    assert first.taken
    assert not second.taken
    assert second.wait_s == pytest.approx(0.5, abs=0.05)
    # Nothing was taken: the next caller that waits long enough gets that same slot.
    third = ratelimit.reserve(redis_client, "jira", 2, max_wait_s=1)
    assert third.taken
    assert third.wait_s == pytest.approx(0.5, abs=0.05)


def test_requests_that_wait_for_their_slots_go_at_the_limit(redis_client: redis.Redis) -> None:
    started = time.monotonic()
    for _ in range(11):
        slot = ratelimit.reserve(redis_client, "salesforce", 20, max_wait_s=1)
        assert slot.taken
        time.sleep(slot.wait_s)
    assert time.monotonic() - started == pytest.approx(0.5, abs=0.1)  # 10 intervals of 50 ms
    # An idle destination starts again at once: slots left unused are not saved up into a burst.
    time.sleep(0.3)
    assert ratelimit.reserve(redis_client, "salesforce", 20, max_wait_s=1).wait_s == pytest.approx(
        0, abs=0.01
    )
    assert ratelimit.reserve(redis_client, "salesforce", 20, max_wait_s=1).wait_s == pytest.approx(
        0.05, abs=0.01
    )


def test_a_limit_must_be_positive(redis_client: redis.Redis) -> None:
    with pytest.raises(ValueError, match="positive"):
        ratelimit.reserve(redis_client, "jsm", 0, max_wait_s=1)
