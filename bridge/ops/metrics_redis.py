"""The workers' side of ``/metrics``, read from Redis when Prometheus scrapes the web process.

The workers keep their figures in Redis: each call's outcome counted per destination (``records``), the
events' calls waiting for a destination's drain job (``bridge/stores/batches.py``), and RQ's own queues,
failed registries and workers. At each scrape ``/metrics`` reads them in one pipelined round trip with
the app's async client, then renders them after the receiver's counters. When Redis does not answer,
``/metrics`` still answers, with the receiver's counters and ``bridge_redis_up 0``.

- ``bridge_upstream_calls_total{destination,outcome}``  calls by outcome (done, failed, retrying,
  skipped-stale, skipped-duplicate), from ``bridge:dest:<destination>``
- ``bridge_waiting_events{destination}``  events whose calls wait for the destination's next drain job
- ``bridge_oldest_waiting_seconds{queue}``  age of the oldest event still waiting: on ``bridge-events``
  for its event job, on ``bridge-calls-<destination>`` for its calls (the destination's waiting list)
- ``bridge_queued_jobs{queue}``  jobs on each RQ queue
- ``bridge_failed_jobs{queue}``  jobs in each queue's failed registry (not yet expired)
- ``bridge_circuit_state{destination}``  the destination's circuit breaker: 0 closed, 1 open, 2 half-open
- ``bridge_circuit_trips_total{destination}``  times its circuit opened
- ``bridge_paused_seconds{destination}``  how long a 429 still holds its requests (0: not paused)
- ``bridge_workers``  RQ workers alive: registered, with a heartbeat key that has not expired
- ``bridge_run_started_timestamp_seconds{kind}``, ``bridge_run_finished_timestamp_seconds{kind}``  the
  newest catch-up (``resync``) and link audit (``reconcile``) of everything (not a dry or one-subject run)
- ``bridge_run_count{kind,count}``  its read, planned, repaired and errors
- ``bridge_run_failed{kind}``  1 when it failed; ``bridge_run_running{kind}`` 1 while it runs
- ``bridge_redis_up``  1 when the read succeeded, else 0 (and none of the above)

Every web replica reads the same Redis, so these figures are alike on each: aggregate them with
``max``, not ``sum`` (the chart's alert rules and dashboard do).
"""

from __future__ import annotations

import asyncio
import string
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
from prometheus_client import generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector
from redis.asyncio import Redis
from redis.exceptions import RedisError
from rq.registry import FailedJobRegistry
from rq.worker_registration import REDIS_WORKER_KEYS
from starlette.requests import Request
from starlette.responses import Response

from bridge import defaults, job_queues, keys, upstreams
from bridge.keys import DESTINATION_KEY, GATE_KEY, RQ_QUEUE_KEY
from bridge.stores import runs

CALL_OUTCOMES = {
    "ok": "done",
    "failed": "failed",
    "retries": "retrying",
    "stale": "skipped-stale",
    "duplicate": "skipped-duplicate",
}
"""Field of ``bridge:dest:<destination>`` (``bridge.stores.history``) → the call outcome it counts."""

QUEUES = (
    job_queues.EVENTS_QUEUE,
    *(job_queues.DESTINATION_QUEUE.format(destination=destination) for destination in upstreams.DESTINATIONS),
    job_queues.RESYNC_QUEUE,
)
"""The RQ queues the workers read."""

HEAD_SCAN = 10
"""Job ids read from the head of the events queue for the oldest event: a replay's job (an RQ uuid,
no time in its id) may stand before the event jobs."""

EVENT_ID_TIME_DIGITS = 12
"""An event id begins with the receive time in milliseconds, in 12 hex digits (``event.new_event_id``)."""

RQ_FAILED_KEY = FailedJobRegistry.key_template
"""RQ's failed registry of a queue: a sorted set of job ids scored by their expiry time."""

# RQ's workers set holds each worker's key; the key expires when the worker stops heartbeating, but a
# worker killed outright stays in the set until another worker's maintenance cleans it. Counted here:
# the members whose key still exists (one server-side step, inside the same round trip).
_ALIVE_WORKERS = """
local alive = 0
for _, key in ipairs(redis.call('SMEMBERS', KEYS[1])) do
    if redis.call('EXISTS', key) == 1 then alive = alive + 1 end
end
return alive
"""


# The newest runs' records (bridge/stores/runs.py), read in the same round trip.
_RECENT_RUNS = """
local out = {}
for _, id in ipairs(redis.call('ZREVRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)) do
    out[#out + 1] = redis.call('HMGET', ARGV[2] .. id, 'kind', 'status', 'subject', 'dry_run', 'started_at',
        'finished_at', 'read', 'planned', 'repaired', 'errors')
end
return out
"""

RUNS_SCANNED = 50
"""Newest runs read at a scrape to find the newest run of everything of each kind."""


@dataclass(frozen=True)
class Figures:
    """What Redis said at one scrape."""

    calls: dict[str, dict[str, int]]
    waiting: dict[str, int]
    oldest_waiting_s: dict[str, float]
    queued: dict[str, int]
    failed: dict[str, int]
    workers: int
    gates: dict[str, dict[str, float]] = field(default_factory=dict)
    """Per destination: ``circuit`` (0 closed, 1 open, 2 half-open), ``trips``, ``paused_s``."""
    runs: dict[str, dict[str, float]] = field(default_factory=dict)
    """Per kind of run, its newest run of everything: ``started``, ``finished``, ``running``, ``failed`` and
    the counts."""


def received_at(event_id: bytes | str) -> float | None:
    """Return the receive time (epoch seconds) an event id begins with, or None for another id."""
    head = (event_id.decode() if isinstance(event_id, bytes) else event_id)[:EVENT_ID_TIME_DIGITS]
    if len(head) < EVENT_ID_TIME_DIGITS or not set(head) <= set(string.hexdigits):
        return None
    return int(head, 16) / 1000


def _unit_received_at(unit: bytes | None) -> float | None:
    if unit is None:
        return None
    try:
        event_id = orjson.loads(unit)["event_id"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return None
    return received_at(event_id) if isinstance(event_id, str) else None


def _age(times: Iterable[float | None], now: float) -> float:
    known = [moment for moment in times if moment is not None]
    return max(0.0, now - min(known)) if known else 0.0


async def read(redis: Redis, now: float | None = None) -> Figures | None:
    """Read the figures in one round trip; None when Redis does not answer in time."""
    destinations = upstreams.DESTINATIONS
    try:
        async with asyncio.timeout(defaults.REDIS_SOCKET_TIMEOUT_S):
            async with redis.pipeline(transaction=False) as pipe:
                for destination in destinations:
                    pipe.hmget(DESTINATION_KEY.format(destination=destination), list(CALL_OUTCOMES))
                for destination in destinations:
                    waiting = keys.WAITING_KEY.format(destination=destination)
                    pipe.llen(waiting)
                    pipe.lindex(waiting, 0)
                pipe.lrange(RQ_QUEUE_KEY.format(queue=job_queues.EVENTS_QUEUE), 0, HEAD_SCAN - 1)
                for queue in QUEUES:
                    pipe.llen(RQ_QUEUE_KEY.format(queue=queue))
                    # Entries scored below now have expired (RQ drops them at its next cleanup).
                    pipe.zcount(RQ_FAILED_KEY.format(queue), time.time(), "+inf")
                pipe.eval(_ALIVE_WORKERS, 1, REDIS_WORKER_KEYS)
                for destination in destinations:
                    pipe.hmget(
                        GATE_KEY.format(destination=destination), ["open_until", "trips", "paused_until"]
                    )
                pipe.eval(_RECENT_RUNS, 1, keys.RUNS_KEY, RUNS_SCANNED, keys.RUN_KEY.format(run_id=""))
                replies: list[Any] = await pipe.execute()
    except (RedisError, OSError, TimeoutError):
        return None
    return _figures(replies, time.time() if now is None else now)


def _figures(replies: list[Any], now: float) -> Figures:
    """Turn the pipeline's replies (in ``read``'s order) into figures."""
    destinations = upstreams.DESTINATIONS
    answers = iter(replies)
    calls = {
        destination: {
            outcome: int(count or 0)
            for outcome, count in zip(CALL_OUTCOMES.values(), next(answers), strict=True)
        }
        for destination in destinations
    }
    waiting: dict[str, int] = {}
    oldest: dict[str, float] = {}
    for destination in destinations:
        waiting[destination] = int(next(answers))
        head = next(answers)
        oldest[job_queues.DESTINATION_QUEUE.format(destination=destination)] = _age(
            [_unit_received_at(head)], now
        )
    oldest[job_queues.EVENTS_QUEUE] = _age((received_at(job_id) for job_id in next(answers)), now)
    queued: dict[str, int] = {}
    failed: dict[str, int] = {}
    for queue in QUEUES:
        queued[queue] = int(next(answers))
        failed[queue] = int(next(answers))
    workers = int(next(answers))
    gates = {}
    for destination in destinations:
        open_until, trips, paused_until = (float(value or 0) for value in next(answers))
        circuit = 0 if not open_until else (1 if open_until > now else 2)
        gates[destination] = {"circuit": circuit, "trips": trips, "paused_s": max(0.0, paused_until - now)}
    return Figures(calls, waiting, oldest, queued, failed, workers, gates, _runs(next(answers)))


def _runs(rows: list[list[bytes | None]]) -> dict[str, dict[str, float]]:
    newest: dict[str, dict[str, float]] = {}
    for row in rows:
        kind, status, subject, dry_run, started, finished, *counts = (
            value.decode() if isinstance(value, bytes) else value for value in row
        )
        if not kind or kind in newest or subject or dry_run == "1":
            continue
        newest[kind] = {
            "started": float(started or 0),
            "finished": float(finished or 0),
            "running": float(status == "running"),
            "failed": float(status == "failed"),
            **{name: float(value or 0) for name, value in zip(runs.COUNTS, counts, strict=True)},
        }
    return newest


def _families(figures: Figures | None) -> Iterable[Metric]:
    up = GaugeMetricFamily("bridge_redis_up", "1 when Redis answered this scrape's read, else 0.")
    up.add_metric([], 0 if figures is None else 1)
    yield up
    if figures is None:
        return
    calls = CounterMetricFamily(
        "bridge_upstream_calls",
        "Calls to upstream APIs by destination and outcome (done, failed, retrying, skipped-stale,"
        " skipped-duplicate), as the workers counted them in Redis.",
        labels=["destination", "outcome"],
    )
    for destination, outcomes in figures.calls.items():
        for outcome, count in outcomes.items():
            calls.add_metric([destination, outcome], count)
    yield calls
    yield _gauge(
        "bridge_waiting_events",
        "Events whose calls wait for the destination's next drain job.",
        "destination",
        figures.waiting,
    )
    yield _gauge(
        "bridge_oldest_waiting_seconds",
        "Age (since the bridge received it) of the oldest event still waiting: on bridge-events for its"
        " event job, on bridge-calls-<destination> for its calls; 0 when none waits.",
        "queue",
        figures.oldest_waiting_s,
    )
    yield _gauge("bridge_queued_jobs", "Jobs on each RQ queue.", "queue", figures.queued)
    yield _gauge("bridge_failed_jobs", "Jobs in each queue's failed registry.", "queue", figures.failed)
    workers = GaugeMetricFamily(
        "bridge_workers", "RQ workers alive (registered, with a heartbeat that has not expired)."
    )
    workers.add_metric([], figures.workers)
    yield workers
    yield _gauge(
        "bridge_circuit_state",
        "The destination's circuit breaker: 0 closed, 1 open (its calls wait), 2 half-open (one probe goes).",
        "destination",
        {destination: gate["circuit"] for destination, gate in figures.gates.items()},
    )
    trips = CounterMetricFamily(
        "bridge_circuit_trips", "Times the destination's circuit opened.", labels=["destination"]
    )
    for destination, gate in figures.gates.items():
        trips.add_metric([destination], gate["trips"])
    yield trips
    yield _gauge(
        "bridge_paused_seconds",
        "How long a 429 still holds every request to the destination (0: not paused).",
        "destination",
        {destination: gate["paused_s"] for destination, gate in figures.gates.items()},
    )
    yield from _run_families(figures.runs)


RUN_GAUGES = (
    (
        "bridge_run_started_timestamp_seconds",
        "When the newest catch-up (resync) or link audit (reconcile) of everything started.",
        "started",
    ),
    ("bridge_run_finished_timestamp_seconds", "When it finished (0 while it runs).", "finished"),
    ("bridge_run_running", "1 while it runs.", "running"),
    ("bridge_run_failed", "1 when it failed.", "failed"),
)
"""The newest run of each kind, one gauge by kind per figure: (name, help, figure)."""


def _run_families(newest: dict[str, dict[str, float]]) -> Iterable[Metric]:
    for name, documentation, figure in RUN_GAUGES:
        yield _gauge(name, documentation, "kind", {kind: run[figure] for kind, run in newest.items()})
    counts = GaugeMetricFamily(
        "bridge_run_count",
        "Its counts: read (records read from the sources), planned (found out of line), repaired (put"
        " through the rules), errors.",
        labels=["kind", "count"],
    )
    for kind, run in newest.items():
        for name in runs.COUNTS:
            counts.add_metric([kind, name], run[name])
    yield counts


def _gauge(name: str, documentation: str, label: str, values: dict[str, int] | dict[str, float]) -> Metric:
    gauge = GaugeMetricFamily(name, documentation, labels=[label])
    for key, value in values.items():
        gauge.add_metric([key], value)
    return gauge


class _Scrape:
    """The receiver's registry followed by one scrape's figures from Redis."""

    def __init__(self, registry: Collector, figures: Figures | None) -> None:
        self._registry = registry
        self._figures = figures

    def collect(self) -> Iterable[Metric]:
        yield from self._registry.collect()
        yield from _families(self._figures)


def endpoint(registry: Collector, redis: Callable[[], Redis]) -> Callable[[Request], Awaitable[Response]]:
    """Return ``/metrics``: the receiver's ``registry`` and the figures read from ``redis()``."""

    async def metrics(request: Request) -> Response:
        figures = await read(redis())
        return Response(generate_latest(_Scrape(registry, figures)), media_type=CONTENT_TYPE_LATEST)

    return metrics
