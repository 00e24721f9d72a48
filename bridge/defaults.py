"""Every tunable of the bridge that is not an operator setting, with a one-line note each (as RQ's
``rq/defaults.py``). Operator settings and their defaults are ``bridge.settings``; Redis key formats are
``bridge.keys``; queue names and job options are ``bridge.job_queues``.
"""

from __future__ import annotations

EVENT_VERSION = 1
"""Version of the normalized event shape (README.md, "The event")."""

# The receiver

DEDUPE_TTL_S = 7 * 24 * 3600
"""How long a delivery id is remembered. Jira retries for ~30 min and Zendesk for minutes; a week
also covers an operator replaying a sender's failed deliveries by hand."""

RAW_DELIVERY_TTL_S = 7 * 24 * 3600
"""Retention of raw deliveries."""

REDIS_CONNECT_TIMEOUT_S = 1.0
"""Connecting to Redis gives up after this long, so the receiver answers 503 well inside the senders'
timeouts (Zendesk waits 12 s, Jira a few more)."""

REDIS_SOCKET_TIMEOUT_S = 2.0
"""A Redis command that takes longer than this counts as Redis being unreachable."""

REDIS_UNAVAILABLE_RETRY_AFTER_S = 30
"""``Retry-After`` sent with a 503 when Redis is down (Zendesk retries a 503 only below 60 s)."""

GC_GEN0_THRESHOLD = 50_000
"""Allocations between young-generation collections in web processes (Python's default is 700)."""

WEB_GRACEFUL_SHUTDOWN_S = 20
"""Time given to requests in flight after SIGTERM (Heroku allows 30 s before SIGKILL)."""

MAX_CLOCK_AHEAD_S = 900
"""How far ahead of the receiver's clock an event's own time may be (senders' clocks are NTP-synced)."""

MAX_HEADER_BYTES = 64 * 1024
"""Largest request line and headers accepted; more is answered 431 and the connection closed."""

OVERLOADED_RETRY_AFTER_S = 5
"""``Retry-After`` of the 503 sent to a connection over BRIDGE_MAX_CONNECTIONS (Zendesk retries under 60)."""

# Records and stores

RECEIVED_LOG_MAX = 10_000
"""Length cap of the received list."""

MINUTE_TTL_S = 2 * 3600
"""How long the per-minute counts of events and calls are kept (the overview shows the last hour)."""

SEARCH_LIMIT = 50
"""Events a search returns at most."""

RECENT_EVENTS = 20
"""Events the overview lists (the newest the workers took in)."""

ATTEMPTS_PER_EVENT_MAX = 200
"""Tries of an event's calls kept for its page (the newest; a call retried 8 times in 25 calls fits)."""

ATTEMPT_BODY_LIMIT = 1000
"""Characters of the upstream's answer kept per try (the call's record keeps up to ``UPSTREAM_BODY_LIMIT``)."""

AUDIT_LOG_MAX = 100_000
"""Operator actions the audit log keeps (about: the stream is trimmed in whole nodes, never below this)."""

FAILED_PAGE_SIZE = 25
"""Failed jobs per page of the dashboard's list and ``bridge failed``."""

REQUEUE_BATCH = 500
"""Failed jobs requeued per round trip by "requeue all": 100,000 of them never sit in memory at once."""

ISSUE_ID_TTL_S = 30 * 24 * 3600
"""How long an issue's id is remembered by key (and its current key by id). Ids never change and Jira never
gives a key to another issue (a moved issue's old key still finds it), so this only bounds memory."""

BEGUN_TTL_S = 24 * 3600
"""How long a started call is remembered as started (a retry of it looks before it creates)."""

SOURCE_READ_MARGIN_MS = 2000
"""How far a read of a ticket or an issue from its source is taken to stretch on either side of the read:
the clocks of the bridge's host and the source's (NTP keeps them well within this) and a replica lagging
a write. A delivery stamped within it that tells another state makes the bridge read again."""

SOURCE_READ_AGAIN_AFTER_MS = 100
"""How long past that margin a read that met a newer applied state is made again."""

PLAN_ATTEMPTS = 50
"""Times a plan is made again because another worker changed what it read meanwhile (optimistic locking)."""

UNKNOWN_ISSUE_TTL_S = 60
"""How long a Jira key that names no issue is remembered as such (an issue may be created under it)."""

PACE_MAX_WAIT_S = 1.0
"""Longest a request waits (sleeping) for its rate-limit slot; a farther slot hands the work over for later
(a drain job re-queued for then), so a worker never sleeps long."""

GATE_CACHE_S = 0.25
"""How long a worker trusts what it last read of a destination's gate (pause, circuit): after another
worker's 429 or the circuit opening, requests stop within this."""

BREAKER_WINDOW_S = 30
"""The circuit breaker looks at a destination's requests of the last this many seconds..."""

BREAKER_BUCKET_S = 5
"""...counted in buckets of this many seconds."""

BREAKER_MIN_REQUESTS = 10
"""Fewer requests than this in the window never open the circuit (a single failure is no outage)."""

BREAKER_FAILURE_RATIO = 0.5
"""The circuit opens when at least this share of the window's requests failed (5xx, 408, no answer)."""

BREAKER_OPEN_S = 15.0
"""How long an open circuit holds every request before one probe may go (half-open)."""

BREAKER_FLUSH_S = 1.0
"""How often a process adds its requests that got an answer to the shared window (failures go at once)."""

PAUSE_DEFAULT_S = 5.0
"""How long a 429 without ``Retry-After`` pauses its destination for every worker."""

ARMED_TTL_S = 10
"""How long a destination counts as having a drain job queued: should that job be lost (deleted by an
operator, say), the next event or the maintenance queues another after this, not never."""

UPSTREAM_BODY_LIMIT = 4096
"""Upstream answers are kept up to this many characters (enough for any documented error shape)."""

# Jobs and workers

EVENT_JOB_TIMEOUT_S = 300
"""RQ timeout of an event job (its upstream calls each carry their own, shorter, timeouts)."""

EVENT_JOB_RESULT_TTL_S = 24 * 3600
"""How long RQ keeps a finished event or calls job, so operators can look it up."""

JOB_FAILURE_TTL_S = 30 * 24 * 3600
"""How long RQ keeps a failed job in the failed registry."""

DRAIN_JOB_RESULT_TTL_S = 3600
"""A drain job's result (how many events' calls it made) is kept an hour: the calls have their records."""

ABANDONED_JOB_RETRIES = 3
"""Times RQ queues a job again whose worker died under it (kill -9); failures the bridge raises on
purpose set ``retries_left`` to 0 first (upstream retries are the bridge's own, with ``Retry-After``)."""

INLINE_CALLS_BUDGET_S = 2.0
"""How long an event job spends making its own calls right after planning them (one unit per destination,
or a bulk request's batch) before it leaves the rest to drain jobs: a delivery's calls go out at once
unless an upstream is slow. It is checked between takes: a batch taken is finished."""

BULK_UNITS_MAX = 50
"""Units a drain job of an API that takes calls in bulk (Jira Software) takes at once, their calls merged
into one request per kind."""

BULK_BEHIND_EVENTS = 10
"""Events queued from which the workers count as behind: an event job then leaves its calls to an API
that takes them in bulk waiting until ``BULK_UNITS_MAX`` units wait, to go in one request
(``workers.jobs._make_now``). With fewer queued, they go at once, merged with whatever else waits."""

DRAIN_MAX_UNITS = 200
"""Units one drain job takes at most before it hands over to a new job (and to other queues)."""

BUSY_RETRY_S = 1.0
"""How soon a call whose target another worker holds is tried again."""

HEARTBEAT_SLACK_S = 1.0
"""A worker heartbeat is skipped when the last one sent keeps the worker's key alive this close to as long."""

SUSPENSION_CHECK_S = 1.0
"""How often a busy worker asks whether workers are suspended (a pause takes effect within this)."""

# Defaults of operator settings (bridge.settings)

DEFAULT_PORT = 8000
"""Default of PORT."""

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
"""Default of BRIDGE_MAX_BODY_BYTES."""

DEFAULT_SIGNATURE_TOLERANCE_S = 300
"""Default of BRIDGE_SIGNATURE_TOLERANCE_S: how far a Zendesk signature timestamp may be from now."""

DEFAULT_HEADER_TIMEOUT_S = 10.0
"""Default of BRIDGE_HEADER_TIMEOUT_S: time a connection has to send a request's headers (from connecting,
or from the first byte of a request on a kept-alive connection); then 408 and close."""

DEFAULT_BODY_TIMEOUT_S = 10.0
"""Default of BRIDGE_BODY_TIMEOUT_S: time a request has to send its body after its headers (senders post
at most a few MiB within their own 10-20 s timeouts); then 408 and close."""

DEFAULT_MAX_CONNECTIONS = 1000
"""Default of BRIDGE_MAX_CONNECTIONS: open connections per web process (lowered to what the process's file
descriptor limit allows); one more is answered 503 with ``Retry-After`` and closed at once."""

DEFAULT_JIRA_MAX_AGE_S = 3 * 3600
"""Default of BRIDGE_JIRA_MAX_AGE_S, the replay window: Jira delivers up to ~30 min late and retries up to
5 times, 5-15 min apart (https://community.developer.atlassian.com/t/new-jira-cloud-webhook-retry-policy/30554),
so a genuine delivery is at most ~105 min old."""

DEFAULT_RECORD_RETENTION_S = 14 * 24 * 3600
"""Default of BRIDGE_RECORD_RETENTION_S: how long events and their calls stay visible to operators."""

DEFAULT_IDEMPOTENCY_TTL_S = 30 * 24 * 3600
"""Default of BRIDGE_IDEMPOTENCY_TTL_S: how long a completed call's key keeps it from being made again."""

WORKER_PUBSUB_POLL_S = 1.0
"""How often a worker's pub/sub thread (RQ's stop-job and shutdown commands) looks at its stop flag: the
most a stopping worker waits for that thread."""

DEFAULT_WORKER_LEASE_S = 8
"""Default of BRIDGE_WORKER_LEASE_S: how long a worker's job, and its claims on targets, stay its own without
a sign of life. A worker renews them every quarter of it (a thread of its own, while the job runs), so a
worker killed outright (SIGKILL, the OOM killer, a lost node) gives its work up within this and another
worker takes it over at the next cleanup, a quarter later: about 10 s in all at the default."""

# Catch-up from the sources and link audits (bridge/resync/)

RUN_TTL_S = 30 * 24 * 3600
"""How long a run's record is kept."""

RUNS_MAX = 200
"""Runs listed (the newest); older ones' records expire with ``RUN_TTL_S``."""

RUN_LOCK_TTL_S = 60
"""A run's lock lapses this long after its last page (a killed run is taken over after about this)."""

RESYNC_PAGE = 100
"""Issues read per page of a catch-up (Jira's search gives at most 100 with their fields)."""

ZENDESK_EXPORT_PAGE = 1000
"""Tickets per page of Zendesk's incremental export (its largest): its own rate limit makes few pages best."""

AUDIT_LINK_PAGE = 100
"""Zendesk links read per page of a link audit."""

ZENDESK_EXPORT_LAG_S = 60
"""Zendesk's incremental export refuses a ``start_time`` less than a minute old."""

RESYNC_JOB_TIMEOUT_S = 6 * 3600
"""A scheduled run's job timeout: a run pages at its destinations' rate limits through the whole account."""

RESYNC_OVERLAP_S = 300
"""A scheduled catch-up reads from this long before the last one started (clocks, changes made meanwhile)."""

RUN_READ_ATTEMPTS = 8
"""Tries of one read of a run (a page, a ticket's links) before the run fails (and is resumed later)."""

RUN_READ_WAIT_MAX_S = 30.0
"""Longest a run waits between two tries of a read (it renews its lock meanwhile)."""

RUN_JOB_BUDGET_S = 2.0
"""How long one job of a scheduled run pages before it hands over to a new job at the back of the resync
lane: a worker between two of a run's jobs takes the live events waiting first."""
