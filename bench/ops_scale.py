"""The operators' pages and API at scale: 100,000 failed jobs and 1,000,000 event records in Redis.

Fills a private ``redis-server`` (started here, on a free port, gone at the end) with pipelines: event
records as the workers write them (record, two calls, a try for one in ten, search terms, the received
list), failed calls jobs as the workers put them in RQ's failed registries (with the upstream's answer),
and a full audit log. Then serves ``bridge web`` on it and times, over HTTP with the dashboard login, the
overview, the failed list (first and deep pages), an event's page and search, as page and as API;
target p95 < 300 ms each. Last, ``bridge failed --requeue`` requeues every failed job, in batches, and
its time and peak memory are printed.

    python bench/ops_scale.py                 # full run: fills for a few minutes, ~3 GB of Redis memory
    python bench/ops_scale.py --smoke         # CI: 1,000 failed jobs, 10,000 events, a few requests
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry
from rq.serializers import JSONSerializer

from bench.stack import own_environ
from bridge import defaults, job_queues, keys, upstreams
from bridge.defaults import EVENT_VERSION
from bridge.embedded_redis import EmbeddedRedis, free_port
from bridge.stores import history

TARGET_P95_MS = 300.0
"""What each page and API answer must stay under, at the 95th percentile."""

USER, PASSWORD = "bench", "bench-dashboard-password"
BATCH = 2_000
"""Records written per pipeline round trip while filling."""

ANSWER = (
    '{"error":"RecordInvalid","description":"Record validation errors","details":{"issue_key":'
    '[{"description":"The Jira issue key does not exist in the linked Jira site","error":"InvalidValue"}]}}'
)


@dataclass(frozen=True)
class Scale:
    events: int
    failed: int
    audit: int
    requests: int


def _event(n: int, now_ms: int) -> dict[str, Any]:
    """Event ``n``: a Zendesk ticket (three in four) or a Jira issue, spread over 100,000 tickets."""
    ticket, key = str(100_000 + n % 100_000), f"SCALE-{n % 50_000 + 1}"
    received = now_ms - (1_000_000 - n) * 50  # one every 50 ms, the newest last
    event_id = f"{received:012x}{n:020x}"
    zendesk = n % 4 != 3
    return {
        "version": EVENT_VERSION,
        "id": event_id,
        "source": "zendesk" if zendesk else "jira",
        "type": "ticket.updated" if zendesk else "issue.updated",
        "delivery_id": f"invocation:{n}",
        "occurred_at": "2026-11-30T06:00:00.000Z",
        "sequence": received,
        "actor": {"id": "377001", "name": "Agent"},
        "subject": {"kind": "ticket", "id": ticket}
        if zendesk
        else {"kind": "issue", "id": str(n), "key": key},
        "refs": {
            "jira_issue_keys": [key] if zendesk else [],
            "zendesk_ticket_ids": [] if zendesk else [ticket],
            "salesforce_ids": [],
        },
        "data": {
            "subject": "Cannot check out with an EU card",
            "status": "open",
            "priority": "high",
            "url": f"https://example.zendesk.com/agent/tickets/{ticket}",
            "jira_keys_known": True,
        },
        "received_at": "2026-11-30T06:00:00.000Z",
    }


def _calls(event: dict[str, Any], failed: bool) -> list[dict[str, Any]]:
    key = (event["refs"]["jira_issue_keys"] or ["SCALE-1"])[0]
    ticket = (
        event["subject"]["id"] if event["source"] == "zendesk" else event["refs"]["zendesk_ticket_ids"][0]
    )
    now = time.time()
    base = {"attempts": 1, "job_id": "drain-zendesk-0", "started_at": now, "finished_at": now, "ms": 41.0}
    return [
        {
            **base,
            "idempotency_key": f"{event['id']}a",
            "kind": "jira.remote_link.upsert",
            "destination": "jira",
            "target": f"jira:{key}",
            "rule": "zendesk-ticket-links-jira-issues",
            "outcome": "done",
        },
        {
            **base,
            "idempotency_key": f"{event['id']}b",
            "kind": "zendesk.jira_link.create",
            "destination": "zendesk",
            "target": f"zendesk:{ticket}",
            "rule": "zendesk-ticket-links-jira-issues",
            "outcome": "failed" if failed else "done",
            "upstream_status": 422 if failed else None,
            "upstream_body": ANSWER if failed else None,
        },
    ]


def _tries(calls: list[dict[str, Any]]) -> list[bytes]:
    tries = []
    for call in calls:
        for attempt in (1, 2):
            tries.append(
                orjson.dumps(
                    {
                        "key": call["idempotency_key"],
                        "attempt": attempt,
                        "at": call["finished_at"] - 3 + attempt,
                        "outcome": "retrying" if attempt == 1 else call["outcome"],
                        "upstream_status": 503 if attempt == 1 else call.get("upstream_status"),
                        "upstream_body": '{"error":"busy"}' if attempt == 1 else call.get("upstream_body"),
                        "error": "POST answered 503" if attempt == 1 else None,
                        "ms": 40.0,
                        "retry_in_s": 1.7 if attempt == 1 else None,
                        "job_id": call["job_id"],
                    }
                )
            )
    return tries


def fill_events(conn: redis.Redis, count: int, failed_every: int) -> list[str]:
    """Write ``count`` event records as the workers do; return the ids of those whose calls failed."""
    now_ms = int(time.time() * 1000)
    retention = defaults.DEFAULT_RECORD_RETENTION_S
    failed_ids: list[str] = []
    for start in range(0, count, BATCH):
        with conn.pipeline(transaction=False) as pipe:
            for n in range(start, min(count, start + BATCH)):
                event = _event(n, now_ms)
                event_id, failed = event["id"], n % failed_every == 0
                record = keys.EVENT_KEY.format(event_id=event_id)
                pipe.hset(
                    record,
                    mapping={
                        "event": orjson.dumps(event),
                        "status": "failed" if failed else "done",
                        "reason": "zendesk.jira_link.create: 422 RecordInvalid" if failed else "",
                        "actions": 2,
                        "updated_at": time.time(),
                    },
                )
                pipe.expire(record, retention)
                calls = _calls(event, failed)
                pipe.hset(
                    keys.EVENT_CALLS_KEY.format(event_id=event_id),
                    mapping={call["idempotency_key"]: orjson.dumps(call) for call in calls},
                )
                if n % 10 == 0:  # one in ten had its calls retried: their tries, as record_call keeps them
                    pipe.rpush(keys.EVENT_ATTEMPTS_KEY.format(event_id=event_id), *_tries(calls))
                for term in history.search_terms(event):  # type: ignore[arg-type]
                    pipe.zadd(keys.FIND_KEY.format(term=term), {event_id: now_ms / 1000 - (count - n) * 0.05})
                if failed:
                    failed_ids.append(event_id)
            pipe.execute()
    with conn.pipeline(transaction=False) as pipe:
        newest = [_event(n, now_ms)["id"] for n in range(max(0, count - defaults.RECEIVED_LOG_MAX), count)]
        pipe.lpush(keys.RECEIVED_LOG_KEY, *newest)
        pipe.ltrim(keys.RECEIVED_LOG_KEY, 0, defaults.RECEIVED_LOG_MAX - 1)
        pipe.execute()
    return failed_ids


def fill_failed(conn: redis.Redis, event_ids: list[str], count: int) -> None:
    """Put ``count`` calls jobs in the destinations' failed registries, as ``workers.jobs`` does."""
    destinations = upstreams.DESTINATIONS
    for start in range(0, count, BATCH):
        with conn.pipeline(transaction=False) as pipe:
            for n in range(start, min(count, start + BATCH)):
                event_id, destination = event_ids[n % len(event_ids)], destinations[n % len(destinations)]
                queue = job_queues.DESTINATION_QUEUE.format(destination=destination)
                job = Job.create(
                    job_queues.CALLS_JOB_FUNC,
                    args=(event_id, destination, _calls({"id": event_id, **_event(0, 0)}, True)[1:], 1),
                    connection=conn,
                    serializer=JSONSerializer,
                    id=f"calls-{event_id}-{destination}-{n}",
                    timeout=120,
                    result_ttl=defaults.EVENT_JOB_RESULT_TTL_S,
                    failure_ttl=defaults.JOB_FAILURE_TTL_S,
                    description=f"{destination} calls of event {event_id}",
                    origin=queue,
                    meta={
                        "event_id": event_id,
                        "destination": destination,
                        "upstream_status": 422,
                        "upstream_body": ANSWER,
                        "error": f"zendesk.jira_link.create zendesk:1: 422 {ANSWER}",
                    },
                )
                job._status = JobStatus.FAILED
                pipe.hset(job.key, mapping=job.to_dict())
                score = time.time() + defaults.JOB_FAILURE_TTL_S - (count - n) * 0.01
                pipe.zadd(FailedJobRegistry.key_template.format(queue), {job.id: score})
            pipe.execute()


def fill_audit(conn: redis.Redis, count: int) -> None:
    """Fill the audit log to ``count`` entries."""
    for start in range(0, count, BATCH):
        with conn.pipeline(transaction=False) as pipe:
            for n in range(start, min(count, start + BATCH)):
                fields: dict[Any, Any] = {"at": time.time(), "actor": "ann", "via": "dashboard"}
                fields |= {"action": "requeue", "target": f"job-{n}", "ok": "1", "detail": "put back"}
                pipe.xadd(keys.AUDIT_KEY, fields)
            pipe.execute()


def _timed(client: httpx.Client, paths: list[str], count: int, baseline: bool) -> list[float]:
    for path in paths[:3]:  # warm up: first templates, first connections
        answer = client.get(path)
        if baseline and answer.status_code == 404:
            return []  # a page the baseline does not have
        answer.raise_for_status()
    took = []
    for n in range(count):
        started = time.perf_counter()
        answer = client.get(paths[n % len(paths)])
        took.append((time.perf_counter() - started) * 1000)
        answer.raise_for_status()
    return took


def _p95(took: list[float]) -> float:
    return statistics.quantiles(took, n=20, method="inclusive")[-1] if len(took) > 1 else took[0]


Scenarios = dict[str, list[str]]
"""Name of a page or API answer → the paths to ask, in turn."""


def serve_and_measure(
    env: dict[str, str], scenarios: Scenarios, requests: int, source: str | None = None
) -> list[tuple[str, list[float]]]:
    """Start ``bridge web`` (from ``source`` when given: a baseline checkout) and time ``scenarios``."""
    port = free_port()
    web_env = {**env, "PORT": str(port), **({"PYTHONPATH": source} if source else {})}
    # From the baseline's own directory: ``python -m`` puts the working directory first on the path.
    web = subprocess.Popen(
        [sys.executable, "-m", "bridge", "web", "--host", "127.0.0.1"], env=web_env, cwd=source or None
    )
    try:
        _wait_http(f"http://127.0.0.1:{port}/healthz")
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", auth=(USER, PASSWORD), timeout=60) as client:
            return [
                (name, _timed(client, paths, requests, source is not None))
                for name, paths in scenarios.items()
            ]
    finally:
        web.terminate()
        web.wait(30)


def failed_scenarios(event_ids: list[str], scale: Scale) -> Scenarios:
    """What is timed while the failed jobs are there: overview, failed lists, events, search, audit."""
    rng = random.Random(14)
    events = rng.sample(event_ids, min(50, len(event_ids)))
    tickets = [str(100_000 + rng.randrange(min(100_000, scale.events))) for _ in range(20)]
    deep = max(1, scale.failed // defaults.FAILED_PAGE_SIZE // 2)
    return {
        "overview (API)": ["/api/ops/overview"],
        "overview (page)": ["/dashboard"],
        "failed list, page 1 (page)": ["/dashboard/failed"],
        f"failed list, page {deep} (page)": [f"/dashboard/failed?page={deep}"],
        "failed list, zendesk page 50 (page)": ["/dashboard/failed?destination=zendesk&page=50"],
        "failed list, newest 200 (API)": ["/api/ops/failed"],
        "queue's failed registry, page 100 (page)": [
            "/dashboard/queues/bridge-calls-zendesk?registry=failed&page=100"
        ],
        "event (page)": [f"/dashboard/events/{event_id}" for event_id in events],
        "event (API)": [f"/api/ops/events/{event_id}" for event_id in events],
        "search by ticket (API)": [f"/api/ops/search?q={ticket}" for ticket in tickets],
        "search by ticket (page)": [f"/dashboard/search?q={ticket}" for ticket in tickets],
        "audit log (page)": ["/dashboard/audit"],
    }


QUEUED_SCENARIOS: Scenarios = {
    "queued list, page 1 (page)": ["/dashboard/queues/bridge-calls-jira"],
    "queued list, page 300 (page)": ["/dashboard/queues/bridge-calls-jira?registry=queued&page=300"],
}
"""What is timed once "requeue all" has put the failed jobs on their queues."""


def requeue_all(env: dict[str, str]) -> tuple[float, float, str]:
    """Run ``bridge failed --requeue``; return its seconds, its peak memory (MiB) and its output."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "bridge", "failed", "--requeue"], env=env, stdout=subprocess.PIPE, text=True
    )
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    output = process.stdout.read().strip() if process.stdout else ""
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise RuntimeError(f"bridge failed --requeue exited with {process.returncode}: {output}")
    return elapsed, usage.ru_maxrss / 1024, output


def _wait_http(url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")


def _machine(conn: redis.Redis) -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = int(conn.info("memory")["used_memory"]) / 2**30
    return (
        f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()},"
        f" Redis {conn.info('server')['redis_version']} using {memory:.1f} GiB"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--failed", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=100, help="timed requests per page (default 100)")
    parser.add_argument("--redis-server", default=shutil.which("redis-server"), help="redis-server binary")
    parser.add_argument(
        "--baseline",
        help="a checkout of an earlier version whose bridge web is measured on the same data too",
    )
    parser.add_argument("--smoke", action="store_true", help="a short run for CI")
    args = parser.parse_args()
    scale = (
        Scale(10_000, 1_000, 1_000, 5)
        if args.smoke
        else Scale(args.events, args.failed, defaults.AUDIT_LOG_MAX, args.requests)
    )
    if args.redis_server is None:
        print("ops_scale bench: no redis-server on the PATH (or --redis-server)", file=sys.stderr)
        return 1
    with EmbeddedRedis(args.redis_server) as server:
        conn = redis.Redis.from_url(server.url)
        started = time.perf_counter()
        failed_events = fill_events(conn, scale.events, max(1, scale.events // scale.failed))
        fill_failed(conn, failed_events, scale.failed)
        fill_audit(conn, scale.audit)
        filled = time.perf_counter() - started
        machine = _machine(conn)
        env = {
            **own_environ(),
            "REDIS_URL": server.url,
            "BRIDGE_DASHBOARD_USER": USER,
            "BRIDGE_DASHBOARD_PASSWORD": PASSWORD,
            "BRIDGE_LOG_LEVEL": "WARNING",
        }
        fewer = min(scale.requests, 20)  # for a baseline: its slow pages take seconds each
        scenarios = failed_scenarios(failed_events, scale)
        results = serve_and_measure(env, scenarios, scale.requests)
        baseline = serve_and_measure(env, scenarios, fewer, args.baseline) if args.baseline else []
        requeue_s, requeue_mib, requeue_output = requeue_all(env)
        still_failed = sum(
            int(conn.zcard(FailedJobRegistry.key_template.format(name))) for name in job_queues.queue_names()
        )
        queued = sum(
            int(conn.llen(keys.RQ_QUEUE_KEY.format(queue=name))) for name in job_queues.queue_names()
        )
        results += serve_and_measure(env, QUEUED_SCENARIOS, scale.requests)
        if args.baseline:
            baseline += serve_and_measure(env, QUEUED_SCENARIOS, fewer, args.baseline)
        conn.close()

    print(
        f"ops scale bench: {scale.events:,} event records, {scale.failed:,} failed jobs, {scale.audit:,} audit"
        f" entries (filled in {filled:.0f} s); {scale.requests} requests each, one client, keep-alive"
    )
    print(f"  machine: {machine}")
    before = {name: took for name, took in baseline}
    header = f"  {'':44} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}"
    print(header + (f"   {'baseline p95 ms':>15}" if baseline else ""))
    slow = []
    for name, took in results:
        p95 = _p95(took)
        compared = ""
        if baseline:
            compared = f"   {_p95(before[name]):15.1f}" if before.get(name) else f"   {'n/a':>15}"
        print(f"  {name:44} {statistics.median(took):8.1f} {p95:8.1f} {max(took):8.1f}{compared}")
        if p95 >= TARGET_P95_MS:
            slow.append(name)
    print(
        f"  requeue all ({requeue_output}): {requeue_s:.1f} s,"
        f" peak memory of the command {requeue_mib:.0f} MiB; {queued:,} queued, {still_failed:,} still failed"
    )
    ok = not slow and still_failed == 0 and queued == scale.failed
    if slow:
        print(f"ops scale bench: p95 over {TARGET_P95_MS:.0f} ms: {', '.join(slow)}", file=sys.stderr)
    if still_failed or queued != scale.failed:
        print("ops scale bench: FAILED: requeue all left jobs behind", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
