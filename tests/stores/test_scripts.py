"""Lua scripts by SHA in pipelines: one run each, whether Redis had the script or lost it."""

from __future__ import annotations

import pytest
import redis

from bridge.stores import scripts

_COUNT = scripts.Lua("return redis.call('INCR', KEYS[1])")
_APPEND = scripts.Lua("return redis.call('APPEND', KEYS[1], ARGV[1])")


def test_a_script_in_a_pipeline_runs_once_when_redis_has_it_and_when_it_lost_it(
    redis_client: redis.Redis,
) -> None:
    for flushed in (False, True):
        if flushed:
            redis_client.script_flush()
        with redis_client.pipeline(transaction=False) as pipe:
            pipe.set("before", "x")
            _COUNT.queue(pipe, ["counted"], [])
            pipe.get("before")
            replies = scripts.execute(pipe)

        # The replies stay in the pipeline's order, the script's where it was queued.
        assert replies[1] == int(redis_client.get("counted") or 0)
        assert replies[0] is True
        assert replies[2] == b"x"
    assert redis_client.get("counted") == b"2"  # two pipelines, two runs: none twice, none lost
    assert redis_client.script_exists(_COUNT.sha) == [True]


def test_a_script_on_its_own_runs_once_after_redis_lost_it(redis_client: redis.Redis) -> None:
    redis_client.script_flush()

    assert _COUNT(redis_client, ["alone"], []) == 1
    assert _COUNT(redis_client, ["alone"], []) == 2


def test_another_command_s_error_is_raised_once_the_scripts_ran(redis_client: redis.Redis) -> None:
    redis_client.set("a-string", "x")
    redis_client.script_flush()
    with redis_client.pipeline(transaction=False) as pipe:
        pipe.lpush("a-string", "y")  # WRONGTYPE
        _COUNT.queue(pipe, ["counted"], [])
        with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
            scripts.execute(pipe)

    assert redis_client.get("counted") == b"1"


def test_one_script_lost_loads_them_all_so_a_pipeline_s_scripts_run_in_their_order(
    redis_client: redis.Redis,
) -> None:
    redis_client.script_flush()

    assert _COUNT(redis_client, ["counted"], []) == 1
    assert redis_client.script_exists(_COUNT.sha, _APPEND.sha) == [True, True]
    redis_client.script_flush()
    with redis_client.pipeline(transaction=False) as pipe:
        for part in "abc":
            _APPEND.queue(pipe, ["order"], [part])
        assert scripts.execute(pipe) == [1, 2, 3]
    assert redis_client.get("order") == b"abc"


def test_a_noscript_of_a_script_it_does_not_know_is_raised(redis_client: redis.Redis) -> None:
    with redis_client.pipeline(transaction=False) as pipe:
        pipe.evalsha("0" * 40, 0)
        with pytest.raises(redis.exceptions.NoScriptError):
            scripts.execute(pipe)
