"""Every tunable of the bridge that is not an operator setting: key prefixes, TTLs, queue names."""

from __future__ import annotations

EVENT_VERSION = 1
"""Version of the normalized event shape (see CONTRACT.md, "The normalized event")."""

KEY_PREFIX = "bridge:"
"""Prefix of every Redis key the bridge writes itself (RQ keeps its own ``rq:`` keys)."""

DEDUPE_KEY = KEY_PREFIX + "dedupe:{source}:{delivery}"
"""Delivery id → first event id; SET together with the job so neither exists without the other."""

DEDUPE_TTL_S = 7 * 24 * 3600
"""How long a delivery id is remembered. Jira retries for ~30 min and Zendesk for minutes; a week
also covers an operator replaying a sender's failed deliveries by hand."""

RAW_DELIVERY_KEY = KEY_PREFIX + "raw:{event_id}"
"""The delivery as received (safe headers and body), kept for the dashboard's event view."""

RAW_DELIVERY_TTL_S = 7 * 24 * 3600
"""Retention of raw deliveries."""

EVENTS_QUEUE = "bridge-events"
"""RQ queue the receiver puts normalized events on."""

EVENT_JOB_FUNC = "workers.jobs.process_event"
"""Import path of the job that handles a normalized event."""

EVENT_JOB_TIMEOUT_S = 300
"""RQ timeout of an event job (its upstream calls each carry their own, shorter, timeouts)."""

EVENT_JOB_RESULT_TTL_S = 24 * 3600
"""How long RQ keeps a finished event job, so operators can look it up."""

EVENT_JOB_FAILURE_TTL_S = 30 * 24 * 3600

DRAIN_JOB_RESULT_TTL_S = 3600
"""A drain job's result (how many events' calls it made) is kept an hour: the calls have their records."""
"""How long RQ keeps a failed event job in the failed registry."""

RECEIVED_LOG_KEY = KEY_PREFIX + "received"
"""Capped list of event ids the worker has taken in, newest first (observable end of the slice)."""

RECEIVED_LOG_MAX = 10_000
"""Length cap of the received list."""

REDIS_CONNECT_TIMEOUT_S = 1.0
"""Connecting to Redis gives up after this long, so the receiver answers 503 well inside the senders'
timeouts (Zendesk waits 12 s, Jira a few more)."""

REDIS_SOCKET_TIMEOUT_S = 2.0
"""A Redis command that takes longer than this counts as Redis being unreachable."""

REDIS_UNAVAILABLE_RETRY_AFTER_S = 30
"""``Retry-After`` sent with a 503 when Redis is down (Zendesk retries a 503 only below 60 s)."""

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
"""Default of BRIDGE_MAX_BODY_BYTES."""

DEFAULT_SIGNATURE_TOLERANCE_S = 300
"""Default of BRIDGE_SIGNATURE_TOLERANCE_S: how far a Zendesk signature timestamp may be from now."""

DEFAULT_PORT = 8000
"""Default of PORT."""

GC_GEN0_THRESHOLD = 50_000
"""Allocations between young-generation collections in web processes (Python's default is 700)."""

DESTINATIONS = ("jira", "jira_software", "zendesk", "salesforce", "jsm")
"""The upstream APIs calls go to; each has its own queue (``CALLS_QUEUE``) so one cannot hold up another."""

CALLS_QUEUE = "bridge-calls-{destination}"
CALLS_WAITING_KEY = KEY_PREFIX + "calls:{destination}:waiting"
"""Events' calls waiting for a drain job of their destination (``workers/batches.py``)."""
"""RQ queue of one destination's calls."""

CALLS_JOB_FUNC = "workers.jobs.run_calls"
"""Import path of the job that makes one event's calls to one destination."""

DEFAULT_RECORD_RETENTION_S = 14 * 24 * 3600
"""Default of BRIDGE_RECORD_RETENTION_S: how long events and their calls stay visible to operators."""

DEFAULT_IDEMPOTENCY_TTL_S = 30 * 24 * 3600
"""Default of BRIDGE_IDEMPOTENCY_TTL_S: how long a completed call's key keeps it from being made again."""

UPSTREAM_BODY_LIMIT = 4096
"""Upstream answers are kept up to this many characters (enough for any documented error shape)."""
