"""The executor's guarantees call by call, on real Redis and the real sandbox."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from bridge import keys
from bridge.errors import CallFailed, RetryLater
from bridge.executor import Executor
from bridge.keys import CLAIM_KEY
from bridge.rules.model import PlannedAction
from bridge.stores import history
from bridge.upstreams import Clients, clients_from_settings
from bridge.upstreams.sandbox import RunningSandbox, SandboxConfig, SandboxControl, serve_in_thread


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningSandbox]:
    with serve_in_thread(SandboxConfig()) as running:
        yield running


@pytest.fixture
def executor(sandbox: RunningSandbox, redis_client: redis.Redis) -> Iterator[Executor]:
    with SandboxControl(sandbox.url) as control:
        control.reset()
    settings = sandbox.config.settings_for(sandbox.url).replace(claim_ttl_s=1)
    clients: Clients = clients_from_settings(settings)
    yield Executor(redis_client, clients, settings)
    clients.close()


def _upsert(issue: str, sequence: int, title: str = "Zendesk #1") -> PlannedAction:
    return PlannedAction(
        kind="jira.remote_link.upsert",
        destination="jira",
        target=f"jira:{issue}",
        params={"issue": issue, "global_id": "system=zd&id=1", "url": "https://zd/1", "title": title},
        rule="test",
        event_id=f"event-{sequence}",
        sequence=sequence,
        subject="zendesk:ticket:1",
    )


def _posts(sandbox: RunningSandbox) -> int:
    with SandboxControl(sandbox.url) as control:
        return len([call for call in control.calls("jira") if call["method"] == "POST"])


def test_a_completed_call_is_never_made_again(executor: Executor, sandbox: RunningSandbox) -> None:
    action = _upsert("EX-1", 1)
    assert executor.perform(action, "job-1", 1)["outcome"] == "done"
    assert executor.perform(action, "job-2", 1)["outcome"] == "skipped-duplicate"
    assert _posts(sandbox) == 1


def test_a_claimed_target_waits_and_a_dead_workers_claim_expires(
    executor: Executor, sandbox: RunningSandbox, redis_client: redis.Redis
) -> None:
    # Another worker holds EX-2 (it died: its claim was never released, it only expires).
    redis_client.set(CLAIM_KEY.format(target="jira:EX-2"), "other-worker", ex=1)
    with pytest.raises(RetryLater) as busy:
        executor.perform(_upsert("EX-2", 1), "job-1", 1)
    assert not busy.value.counts
    assert _posts(sandbox) == 0
    # A different target is not held up by it.
    assert executor.perform(_upsert("EX-3", 1), "job-2", 1)["outcome"] == "done"
    redis_client.delete(CLAIM_KEY.format(target="jira:EX-2"))  # what its expiry does
    assert executor.perform(_upsert("EX-2", 1), "job-1", 2)["outcome"] == "done"
    assert redis_client.get(CLAIM_KEY.format(target="jira:EX-2")) is None  # released after the call


def test_an_older_sequence_after_a_newer_one_is_stale(executor: Executor, sandbox: RunningSandbox) -> None:
    assert executor.perform(_upsert("EX-4", 20, "newer"), "job-1", 1)["outcome"] == "done"
    assert executor.perform(_upsert("EX-4", 10, "older"), "job-2", 1)["outcome"] == "skipped-stale"
    with SandboxControl(sandbox.url) as control:
        (link,) = control.state()["jira"]["remote_links"]["EX-4"]
    assert link["object"]["title"] == "newer"


def test_retryable_and_permanent_failures(executor: Executor, sandbox: RunningSandbox) -> None:
    with SandboxControl(sandbox.url) as control:
        control.add_fault(api="jira", status=429, retry_after=7, times=1)
        control.add_fault(api="jira", path="EX-6", status=400, body='{"errorMessages": ["no"]}')
    with pytest.raises(RetryLater) as later:
        executor.perform(_upsert("EX-5", 1), "job-1", 1)
    assert later.value.delay_s == 7.0
    assert later.value.rate_limited
    with pytest.raises(CallFailed) as failed:
        executor.perform(_upsert("EX-6", 1), "job-2", 1)
    assert failed.value.record["upstream_status"] == 400
    assert failed.value.record["outcome"] == "failed"


def test_every_try_is_recorded_with_its_answer_and_the_delay_chosen(
    executor: Executor, sandbox: RunningSandbox, redis_client: redis.Redis
) -> None:
    with SandboxControl(sandbox.url) as control:
        control.add_fault(api="jira", status=503, body='{"message": "down for a moment"}', times=2)
    action = _upsert("EX-7", 1)
    for attempt in (1, 2):
        with pytest.raises(RetryLater):
            executor.perform(action, "job-1", attempt)
    executor.perform(action, "job-1", 3)

    # The event page reads the tries with the event's record (history.load_event).
    record = _saved(redis_client, action)
    (call,) = record.calls
    tries = call["tries"]
    assert [(t["attempt"], t["outcome"], t["upstream_status"]) for t in tries] == [
        (1, "retrying", 503),
        (2, "retrying", 503),
        (3, "done", None),
    ]
    assert all("down for a moment" in (t["upstream_body"] or "") for t in tries[:2])
    assert [t["retry_in_s"] is not None and t["retry_in_s"] >= 0 for t in tries] == [True, True, False]
    times = [t["at"] or 0.0 for t in tries]
    assert times == sorted(times)
    assert times[0] > 0
    assert call["outcome"] == "done"


def _saved(conn: redis.Redis, action: PlannedAction) -> history.EventRecord:
    """The record of an event these tests never saved (they call the executor directly): calls only."""
    conn.hset(keys.EVENT_KEY.format(event_id=action.event_id), mapping={"event": "{}", "status": "planned"})
    record = history.load_event(conn, action.event_id)
    assert record is not None
    return record
