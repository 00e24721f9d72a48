"""The executor's guarantees call by call, on real Redis and the real sandbox."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import replace
from typing import Any, cast

import orjson
import pytest
import redis
import redis.connection
from redis.client import Pipeline

from bridge import keys
from bridge.errors import CallFailed, RetryLater
from bridge.executor import Executor
from bridge.keys import CLAIM_KEY
from bridge.rules.model import PlannedAction
from bridge.stores import history, links
from bridge.stores.idempotency import CallMarks, Claim
from bridge.upstreams import Clients, actions, clients_from_settings
from bridge.upstreams.sandbox import RunningSandbox, SandboxConfig, SandboxControl, serve_in_thread
from tests.redis_requests import sent_to_redis


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningSandbox]:
    with serve_in_thread(SandboxConfig()) as running:
        yield running


@pytest.fixture
def executor(sandbox: RunningSandbox, redis_client: redis.Redis) -> Iterator[Executor]:
    with SandboxControl(sandbox.url) as control:
        control.reset()
    settings = sandbox.config.settings_for(sandbox.url)
    clients: Clients = clients_from_settings(settings)
    yield Executor(redis_client, clients, settings)
    clients.close()


def _upsert(issue: str, version: int, title: str = "Zendesk #1", ticket: str = "1") -> PlannedAction:
    global_id = f"system=zd&id={ticket}"
    return PlannedAction(
        kind="jira.remote_link.upsert",
        destination="jira",
        target=f"jira:{issue}",
        params={"issue": issue, "global_id": global_id, "url": f"https://zd/{ticket}", "title": title},
        rule="test",
        event_id=f"event-{version}",
        sequence=version,
        subject=f"zendesk:ticket:{ticket}",
        object=f"jira.remote_link:{issue}:{global_id}",
        version=version,
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


def test_a_call_of_an_older_plan_after_a_newer_one_is_superseded(
    executor: Executor, sandbox: RunningSandbox
) -> None:
    assert executor.perform(_upsert("EX-4", 20, "newer"), "job-1", 1)["outcome"] == "done"
    older = executor.perform(_upsert("EX-4", 10, "older"), "job-2", 1)
    assert older["outcome"] == "skipped-stale"
    assert "superseded" in str(older["error"])
    with SandboxControl(sandbox.url) as control:
        (link,) = control.state()["jira"]["remote_links"]["EX-4"]
    assert link["object"]["title"] == "newer"


def test_versions_order_calls_per_record_not_per_target(executor: Executor, sandbox: RunningSandbox) -> None:
    # Two tickets' remote links on one issue are two records: a newer plan of one does not stop the other.
    assert executor.perform(_upsert("EX-7", 30, ticket="7"), "job-1", 1)["outcome"] == "done"
    assert executor.perform(_upsert("EX-7", 10, ticket="8"), "job-2", 1)["outcome"] == "done"
    with SandboxControl(sandbox.url) as control:
        titles = {link["globalId"] for link in control.state()["jira"]["remote_links"]["EX-7"]}
    assert titles == {"system=zd&id=7", "system=zd&id=8"}


def test_claims_are_short_and_renewed_while_held(executor: Executor, redis_client: redis.Redis) -> None:
    lease_ms = executor.settings.worker_lease_s * 1000
    claim = Claim.of("key-1", "jira:EX-9", "jira.remote_link:EX-9:g")
    marks = CallMarks(redis_client)
    assert marks.begin(claim, executor.settings.worker_lease_s).state == "claimed"
    assert 0 < redis_client.pttl(claim.claim_key) <= lease_ms
    redis_client.pexpire(claim.claim_key, 500)
    with executor.held.holding(claim):
        assert executor.renew_claims() == 1
    assert redis_client.pttl(claim.claim_key) > lease_ms - 1000
    assert executor.renew_claims() == 0  # no longer held: nothing renewed
    marks.end(claim, 60)
    assert redis_client.get(claim.claim_key) is None


def test_a_call_on_a_record_a_call_began_on_and_never_finished_is_told_so(redis_client: redis.Redis) -> None:
    marks = CallMarks(redis_client)
    first = Claim.of("key-2", "zendesk:1", "zendesk.jira_link:1:10000")
    assert marks.begin(first, 8).again is False
    marks.end(first, 60)  # no answer: released, not recorded as done
    # The same call again, or a newer plan's call on the same record: either looks before it creates.
    for key in ("key-2", "key-3"):
        again = Claim.of(key, "zendesk:1", "zendesk.jira_link:1:10000")
        started = marks.begin(again, 8)
        assert (started.state, started.again) == ("claimed", True)
        marks.end(again, 60)
    done = Claim.of("key-4", "zendesk:1", "zendesk.jira_link:1:10000")
    assert marks.begin(done, 8).again is True
    marks.end(done, 60, result=b"{}", version=1)
    # A finished call leaves nothing unfinished on the record.
    assert marks.begin(Claim.of("key-5", "zendesk:1", "zendesk.jira_link:1:10000"), 8).again is False


def test_a_call_ends_in_one_round_trip_even_on_a_redis_that_lost_its_scripts(
    executor: Executor, redis_client: redis.Redis
) -> None:
    # A Redis that restarted (or a new one) knows no script: the end still releases the claim and
    # records the call, and the operators' writes sent with it land too.
    for attempt, flush in enumerate((True, False), start=1):
        claim = Claim.of(
            f"key-end-{attempt}", f"jira:EX-{20 + attempt}", f"jira.remote_link:EX-{20 + attempt}:g"
        )
        marks = CallMarks(redis_client)
        assert marks.begin(claim, 8).state == "claimed"
        if flush:
            redis_client.script_flush()
        with redis_client.pipeline(transaction=False) as pipe:
            pipe.set(f"note-{attempt}", "written")
            marks.end(claim, 60, result=b"{}", version=5, then=pipe)
        assert redis_client.get(claim.claim_key) is None
        assert redis_client.get(claim.idempotency_key) == b"{}"
        assert redis_client.get(f"note-{attempt}") == b"written"
        assert marks.begin(claim, 8).state == "duplicate"


def _read_claim(claim: Claim, pipe: Pipeline) -> None:
    pipe.get(claim.claim_key)


def test_reads_sent_with_a_claim_see_it_taken_even_on_a_redis_that_lost_its_scripts(
    redis_client: redis.Redis,
) -> None:
    # The reads go after the claim's script in one round trip. A Redis without the script answers
    # NOSCRIPT to it and runs the reads anyway, before any claim: they are read again after it.
    marks = CallMarks(redis_client)
    for attempt, flush in enumerate((False, True, False), start=1):
        claim = Claim.of(f"key-read-{attempt}", "zendesk:31", f"zendesk.jira_link:31:{attempt}")
        if flush:
            redis_client.script_flush()
        started, replies = marks.begin_and_read(claim, 8, functools.partial(_read_claim, claim))
        assert started.state == "claimed"
        assert replies == [claim.token.encode()]
        marks.end(claim, 60)


def test_a_read_ahead_that_fails_ends_the_claim_it_was_sent_with(
    executor: Executor, redis_client: redis.Redis
) -> None:
    # The index's hash of the ticket is not a hash: its read fails, after the claim was taken.
    redis_client.set(keys.TICKET_LINKS_KEY.format(ticket_id="32"), "not a hash")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        executor.perform(_link("32", "10032", "EX-32", 1), "job-1", 1)
    assert redis_client.exists(CLAIM_KEY.format(target="zendesk:32")) == 0
    redis_client.delete(keys.TICKET_LINKS_KEY.format(ticket_id="32"))
    assert executor.perform(_link("32", "10032", "EX-32", 1), "job-1", 2)["outcome"] == "done"


def _link(ticket: str, issue_id: str, key: str, version: int) -> PlannedAction:
    return PlannedAction(
        kind="zendesk.jira_link.create",
        destination="zendesk",
        target=f"zendesk:{ticket}",
        params={"ticket_id": ticket, "issue_key": key, "issue_id": issue_id},
        rule="test",
        event_id=f"event-link-{version}",
        sequence=version,
        subject=f"zendesk:ticket:{ticket}",
        object=f"zendesk.jira_link:{ticket}:{issue_id}",
        version=version,
    )


def test_a_zendesk_link_is_in_the_index_when_its_call_is_done_and_a_new_plan_finds_it_there(
    executor: Executor, sandbox: RunningSandbox, redis_client: redis.Redis
) -> None:
    # A connection in the pool and the scripts loaded: neither is the call's.
    assert executor.perform(_upsert("EX-76", 1), "job-0", 1)["outcome"] == "done"
    with sent_to_redis() as sent:
        first = executor.perform(_link("77", "10077", "EX-77", 1), "job-1", 1)
    # The index is read with the claim and written with the call's end: two round trips and the request.
    assert len(sent) == 2
    assert first["outcome"] == "done"
    indexed = links.get(redis_client, "77", "10077")
    assert indexed is not None
    assert indexed.issue_key == "EX-77"
    made_before = Claim.of(str(first["idempotency_key"]), "zendesk:77", "zendesk.jira_link:77:10077")
    assert orjson.loads(redis_client.get(made_before.idempotency_key) or b"{}")["id"] == indexed.link_id
    # A later plan's create (another idempotency key) is answered by the index, as read with its claim:
    # no request to Zendesk, and no round trip besides the claim and the end.
    with sent_to_redis() as sent:
        again = executor.perform(_link("77", "10077", "EX-77", 2), "job-2", 1)
    assert len(sent) == 2
    assert again["outcome"] == "done"
    with SandboxControl(sandbox.url) as control:
        made = [link for link in control.state()["zendesk"]["links"] if link["ticket_id"] == "77"]
        posts = [call for call in control.calls("zendesk") if call["method"] == "POST"]
    assert [link["id"] for link in made] == [indexed.link_id]
    assert len(posts) == 1


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


def _submit(link_id: str, version: int, keys: list[str]) -> PlannedAction:
    return PlannedAction(
        kind="jira_software.remote_link.submit",
        destination="jira_software",
        target=f"jira_software:{link_id}",
        params={
            "id": link_id,
            "issue_keys": keys,
            "display_name": f"Zendesk #{link_id}",
            "url": f"https://zd/{link_id}",
            "type": "document",
        },
        rule="test",
        event_id=f"event-{link_id}-{version}",
        sequence=version,
        subject=f"zendesk:ticket:{link_id}",
        object=f"jira_software.remote_link:{link_id}",
        version=version,
    )


def _bulk_posts(sandbox: RunningSandbox) -> list[dict[str, Any]]:
    with SandboxControl(sandbox.url) as control:
        return [call for call in control.calls("jira_software") if call["method"] == "POST"]


def test_calls_an_api_takes_in_bulk_go_in_one_request_each_with_its_own_outcome(
    executor: Executor, sandbox: RunningSandbox
) -> None:
    made_before = _submit("zd-1", 5, ["BULK-1"])
    assert executor.perform(made_before, "job-0", 1)["outcome"] == "done"
    newer_elsewhere = _submit("zd-4", 50, ["BULK-4"])
    assert executor.perform(newer_elsewhere, "job-0", 1)["outcome"] == "done"
    batch = [
        made_before,  # made already: skipped, not sent again
        _submit("zd-2", 6, ["BULK-2"]),
        _submit("zd-3", 7, ["not a key"]),  # refused by Jira: fails alone
        _submit("zd-4", 8, ["BULK-4"]),  # an older plan than the one applied: stale
        _submit("zd-5", 9, ["BULK-5"]),
    ]

    records = executor.perform_many(batch, "job-1")

    assert {key: record["outcome"] for key, record in records.items()} == {
        batch[0].idempotency_key: "skipped-duplicate",
        batch[1].idempotency_key: "done",
        batch[2].idempotency_key: "failed",
        batch[3].idempotency_key: "skipped-stale",
        batch[4].idempotency_key: "done",
    }
    assert "associations" in str(records[batch[2].idempotency_key]["upstream_body"])
    assert records[batch[1].idempotency_key]["merged"] == 3
    assert len(_bulk_posts(sandbox)) == 3  # the two made one by one before, then one for the batch
    with SandboxControl(sandbox.url) as control:
        stored = {link["link"]["id"] for link in control.state()["jira_software"]["remote_links"]}
    assert stored == {"zd-1", "zd-2", "zd-4", "zd-5"}
    # Each call is recorded as made: made again, one by one, it is skipped.
    assert executor.perform(batch[4], "job-2", 1)["outcome"] == "skipped-duplicate"


def test_a_bulk_request_costs_the_same_redis_round_trips_for_one_call_or_many(
    executor: Executor, sandbox: RunningSandbox, redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each call still begins and ends with its own script (claim, applied version, record), but the
    # calls of one request go to Redis together: two round trips around the request, not two per call.
    sent = [0]
    send = redis.connection.Connection.send_packed_command

    def counted(self: redis.connection.Connection, command: Any, check_health: bool = True) -> None:
        sent[0] += 1
        send(self, command, check_health)  # type: ignore[no-untyped-call]

    executor.perform_many([_submit("zd-20", 1, ["BULK-20"]), _submit("zd-21", 1, ["BULK-21"])], "job-0")
    monkeypatch.setattr(redis.connection.Connection, "send_packed_command", counted)
    one = executor.perform_many([_submit("zd-30", 1, ["BULK-30"])], "job-1")
    for_one, sent[0] = sent[0], 0
    many = executor.perform_many([_submit(f"zd-4{n}", 1, [f"BULK-4{n}"]) for n in range(8)], "job-2")
    assert [record["outcome"] for record in one.values()] == ["done"]
    assert [record["outcome"] for record in many.values()] == ["done"] * 8
    assert sent[0] == for_one

    # Scripts lost meanwhile (a Redis restart): each call's script is loaded again and runs once.
    redis_client.script_flush()
    again = executor.perform_many([_submit(f"zd-4{n}", 1, [f"BULK-4{n}"]) for n in range(8)], "job-3")
    assert [record["outcome"] for record in again.values()] == ["skipped-duplicate"] * 8
    fresh = executor.perform_many([_submit("zd-50", 1, ["BULK-50"])], "job-4")
    assert [record["outcome"] for record in fresh.values()] == ["done"]
    assert redis_client.get(CLAIM_KEY.format(target="jira_software:zd-50")) is None


def test_a_stale_call_s_claim_is_released_before_the_bulk_request_goes_out(
    executor: Executor, sandbox: RunningSandbox, redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A call skipped as stale must not hold its target while the others' request is out: a newer call on
    # that target, from another worker, would find it busy and wait.
    assert executor.perform(_submit("zd-74", 50, ["BULK-74"]), "job-0", 1)["outcome"] == "done"
    stale, fresh = _submit("zd-74", 8, ["BULK-74"]), _submit("zd-75", 9, ["BULK-75"])
    submit = actions()[fresh.kind]
    assert submit.perform_many is not None
    real = submit.perform_many
    held_during: list[object] = []

    def watching(clients: Clients, conn: redis.Redis, calls: Any) -> Any:
        held_during.append(redis_client.get(CLAIM_KEY.format(target=stale.target)))
        return real(clients, conn, calls)

    monkeypatch.setitem(cast(dict[str, Any], actions()), fresh.kind, replace(submit, perform_many=watching))
    records = executor.perform_many([stale, fresh], "job-1")

    assert held_during == [None]
    assert {key: record["outcome"] for key, record in records.items()} == {
        stale.idempotency_key: "skipped-stale",
        fresh.idempotency_key: "done",
    }
    assert redis_client.get(CLAIM_KEY.format(target=fresh.target)) is None


def test_a_bulk_request_that_fails_as_a_whole_leaves_each_call_to_be_made_on_its_own(
    executor: Executor, sandbox: RunningSandbox, redis_client: redis.Redis
) -> None:
    with SandboxControl(sandbox.url) as control:
        control.add_fault(api="jira_software", status=503, times=1)
    batch = [_submit("zd-7", 1, ["BULK-7"]), _submit("zd-8", 1, ["BULK-8"])]

    assert executor.perform_many(batch, "job-1") == {}
    assert all(redis_client.get(CLAIM_KEY.format(target=action.target)) is None for action in batch)
    assert [executor.perform(action, "job-2", 1)["outcome"] for action in batch] == ["done", "done"]
