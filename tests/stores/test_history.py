"""An event's and a call's records, as the dashboard and the ops API read them back, each written in one
script: its parts all there, counted once, whether or not Redis still had the script."""

from __future__ import annotations

import time

import orjson
import pytest
import redis

from bridge import defaults, keys, samples
from bridge.stores import history
from tests.rules.events import zendesk_event


def _call(key: str, outcome: str, **fields: object) -> history.CallRecord:
    now = time.time()
    record: history.CallRecord = {
        "idempotency_key": key,
        "kind": "jira.remote_link.upsert",
        "destination": "jira",
        "target": "10001",
        "rule": "zendesk-ticket-to-jira",
        "job_id": "job-1",
        "attempts": 1,
        "outcome": outcome,  # type: ignore[typeddict-item]
        "upstream_status": None,
        "upstream_body": None,
        "error": None,
        "started_at": now,
        "finished_at": now,
        "ms": None,
    }
    record.update(fields)  # type: ignore[typeddict-item]
    return record


@pytest.mark.parametrize("flushed", [False, True], ids=["script-loaded", "script-lost"])
def test_an_event_is_stored_indexed_counted_and_logged(redis_client: redis.Redis, flushed: bool) -> None:
    event = zendesk_event(samples.zendesk_trigger("5001", "PROJ-7"))
    if flushed:
        redis_client.script_flush()

    history.save_event(redis_client, event, retention_s=3600)
    history.set_event_status(redis_client, event["id"], "planned", "a reason", actions=2)
    history.save_event(redis_client, event, retention_s=3600, status="received")  # taken in again

    record = history.load_event(redis_client, event["id"])
    assert record is not None
    assert record.event == event
    # Saved again: its status is the new save's; the reason and the count of actions stay.
    assert (record.status, record.reason, record.actions) == ("received", "a reason", 2)
    assert [found.event_id for found in history.search(redis_client, "PROJ-7")] == [event["id"]]
    assert [found.event_id for found in history.search(redis_client, "5001")] == [event["id"]]
    assert [found.event_id for found in history.recent(redis_client)] == [event["id"]]
    assert sum(events for _, events, _ in history.minute_counts(redis_client, 2)) == 2
    for key in (keys.EVENT_KEY.format(event_id=event["id"]), keys.FIND_KEY.format(term="jira:PROJ-7")):
        assert 3500 < redis_client.ttl(key) <= 3600
    assert redis_client.llen(keys.RECEIVED_LOG_KEY) == 2
    assert 0 < redis_client.ttl(_this_minute()) <= defaults.MINUTE_TTL_S


def _this_minute() -> str:
    return keys.MINUTE_KEY.format(minute=int(time.time() // 60))


def test_the_received_log_is_bounded(redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(defaults, "RECEIVED_LOG_MAX", 3)
    events = [zendesk_event(samples.zendesk_trigger(str(5000 + n), "PROJ-7")) for n in range(5)]
    for event in events:
        history.save_event(redis_client, event, retention_s=3600)

    assert [found.event_id for found in history.recent(redis_client)] == [e["id"] for e in events[:1:-1]]


@pytest.mark.parametrize("flushed", [False, True], ids=["script-loaded", "script-lost"])
def test_a_call_is_recorded_with_its_try_and_counted_once(redis_client: redis.Redis, flushed: bool) -> None:
    event = zendesk_event(samples.zendesk_trigger("5001", "PROJ-7"))
    history.save_event(redis_client, event, retention_s=3600)
    redis_client.delete(_this_minute())  # its count and TTL are the calls' alone below
    if flushed:
        redis_client.script_flush()

    history.record_call(redis_client, event["id"], _call("made", "done", ms=4.0, upstream_status=201), 3600)
    history.record_call(redis_client, event["id"], _call("made-too", "done", ms=2.0), 3600)
    failed = _call(
        "refused", "failed", upstream_status=400, upstream_body='{"errorMessages":["no"]}', error="bad"
    )
    history.record_call(redis_client, event["id"], failed, 3600)
    history.record_call(redis_client, event["id"], _call("again", "skipped-duplicate"), 3600)
    history.record_call(redis_client, event["id"], _call("later", "retrying", error="503"), 3600)
    history.record_call(redis_client, event["id"], _call("older", "skipped-stale"), 3600)

    record = history.load_event(redis_client, event["id"])
    assert record is not None
    outcomes = {call["idempotency_key"]: call["outcome"] for call in record.calls}
    assert outcomes == {
        "made": "done",
        "made-too": "done",
        "refused": "failed",
        "again": "skipped-duplicate",
        "later": "retrying",
        "older": "skipped-stale",
    }
    # The upstream was asked four times (a skip asks nobody): four tries, each on its call.
    tries = redis_client.lrange(keys.EVENT_ATTEMPTS_KEY.format(event_id=event["id"]), 0, -1)
    assert [orjson.loads(entry)["key"] for entry in tries] == ["made", "made-too", "refused", "later"]
    stats = history.destination_stats(redis_client, ("jira",))["jira"]
    assert (stats.ok, stats.failed, stats.duplicate, stats.retries, stats.stale) == (2, 1, 1, 1, 1)
    assert stats.latency_ms_avg == pytest.approx(3.0)
    # The last error is the newest failed or retried call's.
    assert stats.last_error is not None
    assert (stats.last_error["error"], stats.last_error["target"]) == ("503", "10001")
    assert stats.last_error_at is not None
    assert abs(stats.last_error_at - time.time()) < 60
    assert sum(calls for _, _, calls in history.minute_counts(redis_client, 2)) == 2  # made ones only
    assert 0 < redis_client.ttl(_this_minute()) <= defaults.MINUTE_TTL_S
    for key in (keys.EVENT_CALLS_KEY, keys.EVENT_ATTEMPTS_KEY):
        assert 3500 < redis_client.ttl(key.format(event_id=event["id"])) <= 3600


def test_an_event_keeps_its_newest_tries_only(
    redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(defaults, "ATTEMPTS_PER_EVENT_MAX", 3)
    for attempt in range(1, 6):
        history.record_call(redis_client, "e1", _call("k", "retrying", attempts=attempt, error="503"), 3600)

    kept = redis_client.lrange(keys.EVENT_ATTEMPTS_KEY.format(event_id="e1"), 0, -1)
    assert [orjson.loads(entry)["attempt"] for entry in kept] == [3, 4, 5]
