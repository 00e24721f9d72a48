"""Calls made for many events in one drain job, on real Redis and the real sandbox."""

from __future__ import annotations

from typing import Any

import orjson
import redis
from rq import Queue
from rq.job import JobStatus
from rq.registry import FailedJobRegistry, FinishedJobRegistry
from rq.serializers import JSONSerializer

from bridge import defaults, job_queues, keys
from bridge.rules.model import PlannedAction
from bridge.stores import batches
from bridge.upstreams.sandbox import RunningSandbox, SandboxControl
from workers import jobs, process
from workers.worker import BridgeWorker

JIRA_QUEUE = job_queues.DESTINATION_QUEUE.format(destination="jira")


def _unit_actions(issue: str, event_id: str) -> list[dict[str, Any]]:
    action = PlannedAction(
        kind="jira.remote_link.upsert",
        destination="jira",
        target=f"jira:{issue}",
        params={"issue": issue, "global_id": f"system=zd&id={issue}", "url": "https://zd/1", "title": "T"},
        rule="test",
        event_id=event_id,
        sequence=1,
        subject=f"zendesk:ticket:{issue}",
    )
    return [action.to_dict()]


def _add(conn: redis.Redis, issue: str) -> str:
    event_id = f"event-{issue}"
    with conn.pipeline() as pipe:
        batches.add(pipe, event_id, "jira", _unit_actions(issue, event_id))
        pipe.execute()
    return event_id


def _work(conn: redis.Redis) -> None:
    queue = Queue(JIRA_QUEUE, connection=conn, serializer=JSONSerializer)
    BridgeWorker([queue], connection=conn, serializer=JSONSerializer).work(burst=True)


def _link_posts(sandbox: RunningSandbox) -> list[str]:
    with SandboxControl(sandbox.url) as control:
        return [call["path"] for call in control.calls("jira") if call["method"] == "POST"]


def test_many_events_calls_are_made_by_one_job(conn: redis.Redis, sandbox: RunningSandbox) -> None:
    for number in range(30):
        _add(conn, f"BA-{number}")
        job_queues.arm(conn, ["jira"], process.current().settings)  # as each event job does

    _work(conn)

    assert len(_link_posts(sandbox)) == 30
    finished = FinishedJobRegistry(JIRA_QUEUE, connection=conn, serializer=JSONSerializer).get_job_ids()
    assert len(finished) == 1  # the other 29 arms found the first drain queued
    assert batches.waiting(conn)["jira"] == 0
    assert list(conn.scan_iter(keys.IN_FLIGHT_KEY.format(job_id="*"))) == []


def test_a_unit_in_flight_when_the_worker_died_is_finished_by_the_jobs_rerun(
    conn: redis.Redis, sandbox: RunningSandbox
) -> None:
    # The drain job's worker died after taking the unit: the unit sits in the job's in-flight list, and
    # RQ runs the job (same id) again.
    event_id = "event-BA-99"
    unit = {"event_id": event_id, "destination": "jira", "actions": _unit_actions("BA-99", event_id)}
    job_id = "drain-jira-rerun"
    conn.rpush(keys.IN_FLIGHT_KEY.format(job_id=job_id), orjson.dumps(unit))
    Queue(JIRA_QUEUE, connection=conn, serializer=JSONSerializer).enqueue_call(
        job_queues.DRAIN_JOB_FUNC, args=("jira",), job_id=job_id
    )

    _work(conn)

    assert _link_posts(sandbox) == ["/rest/api/2/issue/BA-99/remotelink"]
    assert conn.exists(keys.IN_FLIGHT_KEY.format(job_id=job_id)) == 0


def test_units_left_without_a_drain_are_found_by_the_maintenance(
    conn: redis.Redis, sandbox: RunningSandbox
) -> None:
    _add(conn, "BA-50")  # the event job died before it queued the drain

    settings = process.current().settings
    assert job_queues.arm_idle(conn, settings) == ["jira"]
    assert job_queues.arm_idle(conn, settings) == []  # armed once, not per maintenance round
    _work(conn)

    assert len(_link_posts(sandbox)) == 1


def test_a_call_refused_in_a_drain_becomes_a_failed_job_of_its_own(
    conn: redis.Redis, sandbox: RunningSandbox
) -> None:
    with SandboxControl(sandbox.url) as control:
        control.add_fault(api="jira", method="POST", path="/issue/BA-61/remotelink", status=400)
    for issue in ("BA-60", "BA-61", "BA-62"):
        _add(conn, issue)
    job_queues.arm(conn, ["jira"], process.current().settings)

    _work(conn)

    # The drain went on past the refused call; the refused one waits in the failed registry.
    assert len([path for path in _link_posts(sandbox) if "BA-6" in path]) == 3
    failed = FailedJobRegistry(JIRA_QUEUE, connection=conn, serializer=JSONSerializer)
    assert failed.get_job_ids() == ["calls-event-BA-61-jira"]
    job = Queue(JIRA_QUEUE, connection=conn, serializer=JSONSerializer).fetch_job("calls-event-BA-61-jira")
    assert job is not None
    assert job.meta["upstream_status"] == 400
    assert job.meta["event_id"] == "event-BA-61"
    assert job.args[2] == _unit_actions("BA-61", "event-BA-61")  # a requeue makes only the refused call


def test_a_unit_in_flight_of_a_drain_that_failed_for_good_goes_back_to_waiting(
    conn: redis.Redis, sandbox: RunningSandbox
) -> None:
    # A drain job took the unit, then failed for good (its retries used up): it will not run again.
    event_id = "event-BA-70"
    unit = {"event_id": event_id, "destination": "jira", "actions": _unit_actions("BA-70", event_id)}
    queue = Queue(JIRA_QUEUE, connection=conn, serializer=JSONSerializer)
    dead = queue.enqueue_call(job_queues.DRAIN_JOB_FUNC, args=("jira",), job_id="drain-jira-dead")
    queue.remove(dead)
    dead.set_status(JobStatus.FAILED)
    FailedJobRegistry(queue=queue).add(dead, ttl=600, exc_string="killed three times")
    conn.rpush(keys.IN_FLIGHT_KEY.format(job_id=dead.id), orjson.dumps(unit))
    conn.sadd(keys.IN_FLIGHT_JOBS_KEY, f"jira|{dead.id}")
    # A drain job that may still run keeps its unit.
    alive = queue.enqueue_call(job_queues.DRAIN_JOB_FUNC, args=("jira",), job_id="drain-jira-alive")
    conn.rpush(keys.IN_FLIGHT_KEY.format(job_id=alive.id), orjson.dumps({**unit, "event_id": "kept"}))
    conn.sadd(keys.IN_FLIGHT_JOBS_KEY, f"jira|{alive.id}")

    assert job_queues.arm_idle(conn, process.current().settings) == ["jira"]

    assert conn.exists(keys.IN_FLIGHT_KEY.format(job_id=dead.id)) == 0
    assert conn.smembers(keys.IN_FLIGHT_JOBS_KEY) == {f"jira|{alive.id}".encode()}
    assert batches.waiting(conn)["jira"] == 1
    assert conn.llen(keys.IN_FLIGHT_KEY.format(job_id=alive.id)) == 1


def test_a_take_asking_for_at_least_n_units_takes_none_until_n_wait(conn: redis.Redis) -> None:
    for issue in ("AL-1", "AL-2"):
        _add(conn, issue)
    assert batches.take(conn, "jira", "job-at-least", count=50, at_least=3) == ([], 2, False)
    _add(conn, "AL-3")
    taken, waiting, _ = batches.take(conn, "jira", "job-at-least", count=50, at_least=3)
    assert [orjson.loads(unit)["event_id"] for unit in taken] == ["event-AL-1", "event-AL-2", "event-AL-3"]
    assert waiting == 0
    assert batches.holders(conn) == [("jira", "job-at-least")]
    # A job that holds units (its re-run) gets them back whatever waits.
    assert batches.take(conn, "jira", "job-at-least", count=50, at_least=10).units == taken


def test_the_floor_of_a_take_holds_only_while_the_queue_named_is_long_enough(conn: redis.Redis) -> None:
    queue = "bridge-test-floor"
    _add(conn, "FL-1")
    conn.rpush(keys.RQ_QUEUE_KEY.format(queue=queue), "job-1", "job-2")
    assert batches.take(conn, "jira", "job-floor", count=50, at_least=5, while_queued=(queue, 2)) == (
        [],
        1,
        False,
    )
    conn.lpop(keys.RQ_QUEUE_KEY.format(queue=queue))
    taken, waiting, _ = batches.take(conn, "jira", "job-floor", count=50, at_least=5, while_queued=(queue, 2))
    assert [orjson.loads(unit)["event_id"] for unit in taken] == ["event-FL-1"]
    assert waiting == 0


def test_a_take_that_arms_raises_the_drain_flag_once_for_the_units_it_leaves(conn: redis.Redis) -> None:
    # The event job that leaves its bulk unit waiting learns in the same step whether a drain job is to
    # be queued for it (it raised the flag) or one is already (the flag was up): no round trip of its own.
    armed = keys.ARMED_KEY.format(destination="jira")
    for issue in ("AR-1", "AR-2"):
        _add(conn, issue)
    first = batches.take(conn, "jira", "job-arm-1", count=50, at_least=5, arm=True)
    assert first == ([], 2, True)
    assert 0 < conn.ttl(armed) <= defaults.ARMED_TTL_S
    assert batches.take(conn, "jira", "job-arm-2", count=50, at_least=5, arm=True) == ([], 2, False)
    # Without ``arm``, or with nothing left waiting, the flag is not touched.
    conn.delete(armed)
    assert batches.take(conn, "jira", "job-arm-3", count=50, at_least=5) == ([], 2, False)
    assert batches.take(conn, "jira", "job-arm-4", count=50, arm=True).waiting == 0
    assert conn.exists(armed) == 0


def test_an_event_job_that_leaves_its_bulk_unit_waiting_queues_one_drain_job(conn: redis.Redis) -> None:
    # Behind (BULK_BEHIND_EVENTS events queued), each event job leaves its Jira Software unit waiting for
    # a whole batch; the first raises the drain flag in its take and queues the drain job, the next finds
    # the flag up and queues none: a unit left waiting always has a drain job queued, and only one.
    destination = "jira_software"
    events = keys.RQ_QUEUE_KEY.format(queue=job_queues.EVENTS_QUEUE)
    behind = [f"behind-{n}" for n in range(defaults.BULK_BEHIND_EVENTS)]
    drains = job_queues.destination_queue(conn, destination)
    conn.rpush(events, *behind)
    try:
        for n in range(2):
            with conn.pipeline() as pipe:
                batches.add(
                    pipe, f"event-left-{n}", destination, _unit_actions(f"LEFT-{n}", f"event-left-{n}")
                )
                pipe.execute()
            jobs._make_now(conn, f"job-left-{n}", [destination])
            assert drains.count == 1
        assert batches.waiting(conn)[destination] == 2
        assert conn.exists(keys.ARMED_KEY.format(destination=destination)) == 1
    finally:
        for job_id in behind:
            conn.lrem(events, 1, job_id)
        drains.empty()  # type: ignore[no-untyped-call]
        conn.delete(
            keys.WAITING_KEY.format(destination=destination), keys.ARMED_KEY.format(destination=destination)
        )


def test_units_returned_from_a_dead_job_wait_in_the_order_they_were_taken(conn: redis.Redis) -> None:
    for issue in ("RO-1", "RO-2", "RO-3", "RO-4"):
        _add(conn, issue)
    taken = batches.take(conn, "jira", "job-dead", count=3).units
    assert len(taken) == 3
    assert batches.return_units(conn, "jira", "job-dead") == 3
    waiting = conn.lrange(keys.WAITING_KEY.format(destination="jira"), 0, -1)
    assert [orjson.loads(unit)["event_id"] for unit in waiting] == [
        "event-RO-1",
        "event-RO-2",
        "event-RO-3",
        "event-RO-4",
    ]


def _link_actions(ticket: str, event_id: str) -> list[dict[str, Any]]:
    action = PlannedAction(
        kind="zendesk.jira_link.create",
        destination="zendesk",
        target=f"zendesk:{ticket}",
        params={"ticket_id": ticket, "issue_key": f"LK-{ticket}", "issue_id": f"90{ticket}"},
        rule="test",
        event_id=event_id,
        sequence=1,
        subject=f"zendesk:ticket:{ticket}",
    )
    return [action.to_dict()]


def test_an_event_job_lets_go_of_each_destination_s_units_and_counts_its_event_done(
    conn: redis.Redis, sandbox: RunningSandbox
) -> None:
    # An event job keeps one destination's unit in hand until its take of the next lets it go (one round
    # trip for both): at the end it holds nothing, and the event is counted done for both destinations.
    event_id = "event-two-destinations"
    conn.hset(keys.EVENT_KEY.format(event_id=event_id), mapping={"status": "planned", "pending": 2})
    with conn.pipeline() as pipe:
        batches.add(pipe, event_id, "jira", _unit_actions("TWO-1", event_id))
        batches.add(pipe, event_id, "zendesk", _link_actions("4401", event_id))
        pipe.execute()

    jobs._make_now(conn, "job-two", ["jira", "zendesk"])

    assert batches.holders(conn) == []
    assert conn.llen(keys.IN_FLIGHT_KEY.format(job_id="job-two")) == 0
    assert batches.waiting(conn) == dict.fromkeys(batches.waiting(conn), 0)
    record = conn.hgetall(keys.EVENT_KEY.format(event_id=event_id))
    assert (record[b"status"], record[b"pending"]) == (b"done", b"0")
    with SandboxControl(sandbox.url) as control:
        state = control.state()
    assert [link["ticket_id"] for link in state["zendesk"]["links"]] == ["4401"]
    assert [link["globalId"] for link in state["jira"]["remote_links"]["TWO-1"]] == ["system=zd&id=TWO-1"]
