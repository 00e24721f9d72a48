"""What the bridge remembers of each event and call, for operators (the dashboard reads only this).

An event's record (status, reason, how many actions and destinations are pending), the record of each of
its calls and of each try of them (time, upstream status and answer, the delay chosen before the next),
the search index, each destination's figures and per-minute counts; key formats and their lifetimes are
``bridge.keys``. Records expire after ``BRIDGE_RECORD_RETENTION_S``; the raw delivery stays where the
receiver wrote it. The executor writes a call's record with ``record_call`` alone: the try is part of it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict

import orjson
from redis import Redis
from redis.client import Pipeline

from bridge import defaults, keys, tracing
from bridge.connections import text
from bridge.event import Event
from bridge.stores import scripts
from bridge.upstreams import DESTINATIONS

EventStatus = Literal["received", "planned", "done", "skipped", "failed"]
CallOutcome = Literal[
    "pending", "done", "skipped-duplicate", "skipped-stale", "skipped-not-configured", "failed", "retrying"
]

TRACE_FIELD = "traceparent"
"""Field of the event record holding the W3C ``traceparent`` of the span the event was taken in."""

MADE_AGAIN_FIELD = "made_again:"
"""Prefix of the event record's fields that note an operator's "make the calls again" of it (one each,
named by the event that made them, holding JSON)."""

_MADE_AGAIN = MADE_AGAIN_FIELD.encode()

PENDING_FIELD = "pending"
"""Field of the event record counting its destinations whose calls are not finished yet."""

# One destination's calls of an event are finished: count it down, and the last one sets the event done
# unless a call of it failed for good (one step: a failure recorded meanwhile is never overwritten).
_UNIT_FINISHED = """
local left = redis.call('HINCRBY', KEYS[1], ARGV[1], -1)
if left <= 0 and redis.call('HGET', KEYS[1], 'status') ~= 'failed' then
  redis.call('HSET', KEYS[1], 'status', 'done', 'reason', ARGV[2], 'updated_at', ARGV[3])
  return 1
end
return 0
"""

# An event taken in (``save_event``): its record (the status and time of this save; the reason, the count
# of actions and the trace only if it has none yet), the search terms that find it, this minute's count,
# the received log. KEYS: record, minute, received log, then one per search term.
_SAVE_EVENT = scripts.Lua("""
redis.call('HSET', KEYS[1], 'event', ARGV[1], 'status', ARGV[2], 'updated_at', ARGV[3])
redis.call('HSETNX', KEYS[1], 'reason', '')
redis.call('HSETNX', KEYS[1], 'actions', 0)
if ARGV[5] ~= '' then redis.call('HSETNX', KEYS[1], ARGV[4], ARGV[5]) end
redis.call('EXPIRE', KEYS[1], ARGV[6])
for i = 4, #KEYS do
  redis.call('ZADD', KEYS[i], ARGV[3], ARGV[7])
  redis.call('EXPIRE', KEYS[i], ARGV[6])
end
redis.call('HINCRBY', KEYS[2], 'events', 1)
redis.call('EXPIRE', KEYS[2], ARGV[8])
redis.call('LPUSH', KEYS[3], ARGV[7])
redis.call('LTRIM', KEYS[3], 0, ARGV[9])
return 1
""")

# A call's record (``add_call``): the record under its idempotency key; a try (ARGV[4], when the upstream
# was asked) on the event's attempts, the newest ARGV[5] kept; the destination's figures: its outcome's
# counter (ARGV[6]), the latency of a call made (ARGV[7]), the last error (ARGV[10]); this minute's calls
# made (ARGV[8]). KEYS: the event's calls, its attempts, the destination's figures, the minute's counts.
_RECORD_CALL = scripts.Lua("""
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
if ARGV[4] ~= '' then
  redis.call('RPUSH', KEYS[2], ARGV[4])
  redis.call('LTRIM', KEYS[2], -tonumber(ARGV[5]), -1)
  redis.call('EXPIRE', KEYS[2], ARGV[3])
end
if ARGV[6] ~= '' then redis.call('HINCRBY', KEYS[3], ARGV[6], 1) end
if ARGV[7] ~= '' then
  redis.call('HINCRBYFLOAT', KEYS[3], 'latency_ms_sum', ARGV[7])
  redis.call('HINCRBY', KEYS[3], 'latency_count', 1)
end
if ARGV[8] == '1' then
  redis.call('HINCRBY', KEYS[4], 'calls', 1)
  redis.call('EXPIRE', KEYS[4], ARGV[9])
end
if ARGV[10] ~= '' then redis.call('HSET', KEYS[3], 'last_error', ARGV[10], 'last_error_at', ARGV[11]) end
return 1
""")

_COUNTED = {
    "done": "ok",
    "failed": "failed",
    "retrying": "retries",
    "skipped-stale": "stale",
    "skipped-duplicate": "duplicate",
}
"""The destination's counter each call outcome adds one to (the dashboard's figures)."""

OUTCOME_WORDS: dict[str, str] = {
    "pending": "being made",
    "done": "made",
    "skipped-duplicate": "already made, nothing to do (its idempotency key is recorded)",
    "skipped-stale": "superseded: a newer plan already wrote what this call writes",
    "skipped-not-configured": "not made: its upstream is not configured",
    "failed": "failed for good: fix the cause and requeue it",
    "retrying": "failed this time, tried again later",
}
"""What each call outcome means, in the operators' words (event page, ops API, ``bridge replay --wait``)."""

TRIED: frozenset[str] = frozenset({"done", "failed", "retrying"})
"""Call outcomes that come from asking the upstream (a try); the skips asked nobody."""


class Attempt(TypedDict, total=False):
    """One try of a call: when, the upstream's status and answer, and the delay chosen before the next."""

    attempt: int
    at: float | None
    outcome: str
    upstream_status: int | None
    upstream_body: str | None
    error: str | None
    ms: float | None
    retry_in_s: float | None
    job_id: str | None


class CallRecord(TypedDict, total=False):
    """One planned call and what became of it."""

    idempotency_key: str
    kind: str
    destination: str
    target: str
    rule: str
    job_id: str | None
    attempts: int
    outcome: CallOutcome
    upstream_status: int | None
    upstream_body: str | None
    error: str | None
    started_at: float | None
    finished_at: float | None
    ms: float | None
    retry_in_s: float | None
    tries: list[Attempt]
    override: dict[str, str]
    """Set on a call an operator asked to make again: who, via what, when, which event they replayed."""
    merged: int
    """Set on a call made in one request with others (a bulk API): how many went in that request."""


@dataclass
class EventRecord:
    """An event, its status and every call it produced."""

    event: dict[str, Any]
    status: str
    reason: str
    actions: int
    updated_at: float
    calls: list[CallRecord] = field(default_factory=list)
    raw: dict[str, Any] | None = None
    trace_id: str | None = None
    """The OpenTelemetry trace the event was taken in (its delivery's), when traces were recorded."""
    traceparent: str | None = None
    made_again: list[dict[str, str]] = field(default_factory=list)
    """Each time an operator had its calls made again: ``by``, ``via``, ``at`` and the ``again_event_id``
    whose calls they were (``note_made_again``)."""


@dataclass
class EventSummary:
    """One line of a search result or a list."""

    event_id: str
    source: str
    type: str
    subject: str
    status: str
    received_at: str


@dataclass
class DestinationStats:
    """How one upstream is doing, as the workers saw it."""

    destination: str
    ok: int = 0
    failed: int = 0
    retries: int = 0
    stale: int = 0
    duplicate: int = 0
    latency_ms_avg: float | None = None
    last_error: dict[str, Any] | None = None
    last_error_at: float | None = None
    backoff_until: float | None = None
    rate_limited_until: float | None = None

    @property
    def success_rate(self) -> float | None:
        done = self.ok + self.failed
        return self.ok / done if done else None


def search_terms(event: Event) -> list[str]:
    """Return the terms an event is found by."""
    refs = event["refs"]
    terms = [f"event:{event['id']}", f"delivery:{event['delivery_id']}"]
    subject = event["subject"]
    if event["source"] == "zendesk":
        terms.append(f"zendesk:{subject['id']}")
    elif subject.get("key"):
        terms.append(f"jira:{subject['key']}")
    terms += [f"jira:{key}" for key in refs["jira_issue_keys"]]
    terms += [f"zendesk:{ticket}" for ticket in refs["zendesk_ticket_ids"]]
    terms += [f"salesforce:{record}" for record in refs["salesforce_ids"]]
    return list(dict.fromkeys(terms))


def save_event(
    conn: Redis | Pipeline, event: Event, retention_s: int, status: EventStatus = "received"
) -> None:
    """Store the event, index it for search, count it in this minute and add it to the received log
    (one script: one command to send, where its writes would be seventeen). On a pipeline, the script is
    queued: ``bridge.stores.scripts.execute`` sends it.

    The trace it is taken in is kept with it (the first one: a replay's trace links to it).
    """
    now = time.time()
    script_keys = [
        keys.EVENT_KEY.format(event_id=event["id"]),
        keys.MINUTE_KEY.format(minute=int(now // 60)),
        keys.RECEIVED_LOG_KEY,
        *(keys.FIND_KEY.format(term=term) for term in search_terms(event)),
    ]
    args: list[scripts.Arg] = [
        orjson.dumps(event),
        status,
        repr(now),
        TRACE_FIELD,
        tracing.traceparent() or "",
        retention_s,
        event["id"],
        defaults.MINUTE_TTL_S,
        defaults.RECEIVED_LOG_MAX - 1,
    ]
    if isinstance(conn, Pipeline):
        _SAVE_EVENT.queue(conn, script_keys, args)
    else:
        _SAVE_EVENT(conn, script_keys, args)


def set_event_status(
    conn: Redis | Pipeline, event_id: str, status: EventStatus, reason: str = "", actions: int | None = None
) -> None:
    """Set where an event stands (and why)."""
    key = keys.EVENT_KEY.format(event_id=event_id)
    fields: dict[Any, Any] = {"status": status, "reason": reason, "updated_at": time.time()}
    if actions is not None:
        fields["actions"] = actions
    conn.hset(key, mapping=fields)


def note_made_again(conn: Redis, event_id: str, override: dict[str, str], again_event_id: str) -> None:
    """Add to an event's record that an operator had its calls made again, as event ``again_event_id``."""
    entry = {**override, "again_event_id": again_event_id}
    # One field per time (no read-modify-write): two overrides of one event at once keep both.
    conn.hset(
        keys.EVENT_KEY.format(event_id=event_id), MADE_AGAIN_FIELD + again_event_id, orjson.dumps(entry)
    )


def unit_finished(conn: Redis | Pipeline, event_id: str, reason: str = "") -> None:
    """Count down the event's destinations with calls still to make; when none is left and none failed,
    set the event ``done`` with ``reason``. On a pipeline it is sent with the pipeline (a drain sends it
    with its next take of units, in one transaction: the unit leaves its job's hands as it is counted)."""
    # EVAL, not a script object: in a pipeline, redis-py's would ask SCRIPT EXISTS first (a round trip).
    key = keys.EVENT_KEY.format(event_id=event_id)
    conn.eval(_UNIT_FINISHED, 1, key, PENDING_FIELD, reason, time.time())


def unit_failed(conn: Redis, event_id: str, reason: str, finished: bool) -> None:
    """Set the event ``failed`` with ``reason``; with ``finished``, count its destination as done too."""
    key = keys.EVENT_KEY.format(event_id=event_id)
    with conn.pipeline(transaction=True) as pipe:
        set_event_status(pipe, event_id, "failed", reason)
        if finished:
            pipe.hincrby(key, PENDING_FIELD, -1)
        pipe.execute()


def record_call(conn: Redis, event_id: str, call: CallRecord, retention_s: int) -> None:
    """Store (or update) one call of an event, count it in the destination's figures, and when the
    upstream was asked (done, failed, retrying), add the try to the event's attempts."""
    with conn.pipeline(transaction=False) as pipe:
        add_call(pipe, event_id, call, retention_s)
        scripts.execute(pipe)


def add_call(pipe: Pipeline, event_id: str, call: CallRecord, retention_s: int) -> None:
    """``record_call``'s writes, one script in the caller's pipeline (the executor sends it with the call's
    end); the pipeline is to be sent with ``scripts.execute``."""
    outcome = call.get("outcome")
    done = outcome == "done"
    latency = call.get("ms") if done else None
    error = ""
    if outcome in ("failed", "retrying"):
        error = orjson.dumps(
            {
                "status": call.get("upstream_status"),
                "body": (call.get("upstream_body") or "")[:500],
                "error": call.get("error"),
                "target": call.get("target"),
                "kind": call.get("kind"),
            }
        ).decode()
    now = time.time()
    _RECORD_CALL.queue(
        pipe,
        [
            keys.EVENT_CALLS_KEY.format(event_id=event_id),
            keys.EVENT_ATTEMPTS_KEY.format(event_id=event_id),
            keys.DESTINATION_KEY.format(destination=call.get("destination", "unknown")),
            keys.MINUTE_KEY.format(minute=int(now // 60)),
        ],
        [
            call["idempotency_key"],
            orjson.dumps(call),
            retention_s,
            orjson.dumps(_attempt(call)) if outcome in TRIED else "",
            defaults.ATTEMPTS_PER_EVENT_MAX,
            _COUNTED.get(str(outcome), ""),
            "" if latency is None else repr(float(latency)),
            "1" if done else "0",
            defaults.MINUTE_TTL_S,
            error,
            repr(now),
        ],
    )


def _attempt(call: CallRecord) -> dict[str, Any]:
    body = call.get("upstream_body")
    return {
        "key": call["idempotency_key"],
        "attempt": call.get("attempts"),
        "at": call.get("finished_at"),
        "outcome": call.get("outcome"),
        "upstream_status": call.get("upstream_status"),
        "upstream_body": body[: defaults.ATTEMPT_BODY_LIMIT] if body else None,
        "error": (call.get("error") or "")[:300] or None,
        "ms": call.get("ms"),
        "retry_in_s": call.get("retry_in_s"),
        "job_id": call.get("job_id"),
    }


def note_backoff(conn: Redis, destination: str, until: float, rate_limited: bool) -> None:
    """Remember that calls to ``destination`` wait until ``until`` (shown on the overview)."""
    field_name = "rate_limited_until" if rate_limited else "backoff_until"
    conn.hset(keys.DESTINATION_KEY.format(destination=destination), field_name, until)


def load_event(conn: Redis, event_id: str) -> EventRecord | None:
    """Return the event with its calls and its raw delivery, or None when unknown (or expired)."""
    with conn.pipeline(transaction=False) as pipe:
        pipe.hgetall(keys.EVENT_KEY.format(event_id=event_id))
        pipe.hgetall(keys.EVENT_CALLS_KEY.format(event_id=event_id))
        pipe.get(keys.RAW_DELIVERY_KEY.format(event_id=event_id))
        pipe.lrange(keys.EVENT_ATTEMPTS_KEY.format(event_id=event_id), 0, -1)
        stored, calls, raw, attempts = pipe.execute()
    if not stored:
        return None
    tries: dict[str, list[Attempt]] = {}
    for entry in attempts:
        attempt = orjson.loads(entry)
        tries.setdefault(attempt.pop("key"), []).append(attempt)
    return EventRecord(
        event=orjson.loads(stored[b"event"]),
        status=stored.get(b"status", b"").decode(),
        reason=stored.get(b"reason", b"").decode(),
        actions=int(stored.get(b"actions", 0)),
        updated_at=float(stored.get(b"updated_at", 0)),
        calls=sorted(
            (_with_tries(orjson.loads(value), tries) for value in calls.values()),
            key=lambda c: c.get("started_at") or 0,
        ),
        raw=_raw_delivery(raw),
        trace_id=tracing.trace_id(text(stored.get(TRACE_FIELD.encode(), b""))),
        made_again=sorted(
            (orjson.loads(value) for name, value in stored.items() if name.startswith(_MADE_AGAIN)),
            key=lambda entry: str(entry.get("at")),
        ),
        traceparent=text(stored[TRACE_FIELD.encode()]) if TRACE_FIELD.encode() in stored else None,
    )


def _with_tries(call: CallRecord, tries: dict[str, list[Attempt]]) -> CallRecord:
    call["tries"] = tries.get(call["idempotency_key"], [])
    return call


def _raw_delivery(raw: bytes | None) -> dict[str, Any] | None:
    # The receiver stores one JSON line of metadata (safe headers only), a newline, then the body.
    if raw is None:
        return None
    meta, _, body = raw.partition(b"\n")
    return {"meta": orjson.loads(meta), "body": body.decode("utf-8", "replace")}


def search(conn: Redis, text: str, limit: int = defaults.SEARCH_LIMIT) -> list[EventSummary]:
    """Return the newest events found by a Jira key, ticket id, Salesforce id, event or delivery id."""
    text = text.strip()
    if not text:
        return []
    candidates = [
        f"jira:{text.upper()}",
        f"zendesk:{text}",
        f"salesforce:{text}",
        f"event:{text}",
        f"delivery:{text}",
    ]
    with conn.pipeline(transaction=False) as pipe:
        for term in candidates:
            pipe.zrevrange(keys.FIND_KEY.format(term=term), 0, limit - 1, withscores=True)
        found: dict[str, float] = {}
        for hits in pipe.execute():
            for member, score in hits:
                found[member.decode()] = max(score, found.get(member.decode(), 0.0))
    newest = sorted(found, key=lambda event_id: found[event_id], reverse=True)[:limit]
    return summaries(conn, newest)


def recent(conn: Redis, limit: int = defaults.RECENT_EVENTS) -> list[EventSummary]:
    """Return the newest events the workers took in (a replayed one once, where it was last taken)."""
    taken = [text(event_id) for event_id in conn.lrange(keys.RECEIVED_LOG_KEY, 0, 2 * limit - 1)]
    return summaries(conn, list(dict.fromkeys(taken))[:limit])


def subject_words(event: dict[str, Any]) -> str | None:
    """Return what an event is about, in words: ``ticket 5002``, ``issue PROJ-1``."""
    subject = event.get("subject")
    if not isinstance(subject, dict) or not subject.get("kind"):
        return None
    return f"{subject['kind']} {subject.get('key') or subject.get('id')}"


def subjects(conn: Redis, event_ids: list[str]) -> dict[str, str]:
    """Return ``subject_words`` of each known event id (one round trip)."""
    unique = list(dict.fromkeys(event_ids))
    with conn.pipeline(transaction=False) as pipe:
        for event_id in unique:
            pipe.hget(keys.EVENT_KEY.format(event_id=event_id), "event")
        rows = pipe.execute()
    found = {}
    for event_id, raw_event in zip(unique, rows, strict=True):
        words = subject_words(orjson.loads(raw_event)) if raw_event else None
        if words:
            found[event_id] = words
    return found


def summaries(conn: Redis, event_ids: list[str]) -> list[EventSummary]:
    """Return one summary per known event id, in the given order."""
    with conn.pipeline(transaction=False) as pipe:
        for event_id in event_ids:
            pipe.hmget(keys.EVENT_KEY.format(event_id=event_id), "event", "status")
        rows = pipe.execute()
    result = []
    for event_id, (raw_event, status) in zip(event_ids, rows, strict=True):
        if raw_event is None:
            continue
        event = orjson.loads(raw_event)
        result.append(
            EventSummary(
                event_id=event_id,
                source=event["source"],
                type=event["type"],
                subject=subject_words(event) or "",
                status=(status or b"").decode(),
                received_at=event["received_at"],
            )
        )
    return result


def destination_stats(
    conn: Redis, destinations: tuple[str, ...] = DESTINATIONS
) -> dict[str, DestinationStats]:
    """Return each destination's figures."""
    with conn.pipeline(transaction=False) as pipe:
        for destination in destinations:
            pipe.hgetall(keys.DESTINATION_KEY.format(destination=destination))
        rows = pipe.execute()
    stats = {}
    for destination, row in zip(destinations, rows, strict=True):
        values = {k.decode(): v.decode() for k, v in row.items()}
        count = int(values.get("latency_count", 0))
        stats[destination] = DestinationStats(
            destination=destination,
            ok=int(values.get("ok", 0)),
            failed=int(values.get("failed", 0)),
            retries=int(values.get("retries", 0)),
            stale=int(values.get("stale", 0)),
            duplicate=int(values.get("duplicate", 0)),
            latency_ms_avg=float(values["latency_ms_sum"]) / count if count else None,
            last_error=orjson.loads(values["last_error"]) if "last_error" in values else None,
            last_error_at=float(values["last_error_at"]) if "last_error_at" in values else None,
            backoff_until=float(values["backoff_until"]) if "backoff_until" in values else None,
            rate_limited_until=float(values["rate_limited_until"])
            if "rate_limited_until" in values
            else None,
        )
    return stats


def minute_counts(conn: Redis, minutes: int = 60) -> list[tuple[int, int, int]]:
    """Return ``(epoch minute, events, calls)`` for the last ``minutes`` minutes, oldest first."""
    now_minute = int(time.time() // 60)
    wanted = list(range(now_minute - minutes + 1, now_minute + 1))
    with conn.pipeline(transaction=False) as pipe:
        for minute in wanted:
            pipe.hmget(keys.MINUTE_KEY.format(minute=minute), "events", "calls")
        rows = pipe.execute()
    return [
        (minute, int(events or 0), int(calls or 0))
        for minute, (events, calls) in zip(wanted, rows, strict=True)
    ]
