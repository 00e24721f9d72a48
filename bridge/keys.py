"""Every Redis key the bridge writes or reads, with what it remembers and for how long (arq keeps its own
in ``arq/constants.py`` the same way).

The bridge's own keys start with ``bridge:``; RQ keeps its ``rq:`` keys itself, except the few the
receiver writes in its one-round-trip enqueue (the last group). Formats take ``str.format`` fields.
TTLs are named in ``bridge.defaults`` or are operator settings (``bridge.settings``).
"""

from __future__ import annotations

PREFIX = "bridge:"
"""Prefix of every key the bridge writes itself."""

# The receiver (bridge/receiver/enqueue.py)

DEDUPE_KEY = PREFIX + "dedupe:{source}:{delivery}"
"""Delivery id → the first event id made of it; a week (``DEDUPE_TTL_S``). Set with the job, atomically."""

RAW_DELIVERY_KEY = PREFIX + "raw:{event_id}"
"""The delivery as received (safe headers and body) for the dashboard; a week (``RAW_DELIVERY_TTL_S``)."""

# What operators see of events and calls (bridge/stores/history.py)

RECEIVED_LOG_KEY = PREFIX + "received"
"""List of the event ids the workers took in, newest first; capped at ``RECEIVED_LOG_MAX``, no TTL."""

EVENT_KEY = PREFIX + "ev:{event_id}"
"""Hash: an event (JSON), its status, reason, planned actions and pending destinations; BRIDGE_RECORD_RETENTION_S."""

EVENT_CALLS_KEY = PREFIX + "ev:{event_id}:calls"
"""Hash: idempotency key → record of one call of the event (JSON); BRIDGE_RECORD_RETENTION_S."""

FIND_KEY = PREFIX + "find:{term}"
"""Sorted set of event ids by received time, per search term (``jira:KEY``, ``zendesk:ID``…); retention."""

DESTINATION_KEY = PREFIX + "dest:{destination}"
"""Hash: one upstream's counters, latency sum, last error and backoff marks; no TTL."""

MINUTE_KEY = PREFIX + "minute:{minute}"
"""Hash: events and calls taken in one epoch minute; two hours (``MINUTE_TTL_S``)."""

EVENT_ATTEMPTS_KEY = PREFIX + "ev:{event_id}:attempts"
"""List of every try of the event's calls (JSON: call, time, status, answer, delay chosen); capped at
``ATTEMPTS_PER_EVENT_MAX``; BRIDGE_RECORD_RETENTION_S."""

# What operators did (bridge/stores/audit.py)

AUDIT_KEY = PREFIX + "audit"
"""Stream of operator actions (who, via, action, target, outcome, detail); trimmed to ~``AUDIT_LOG_MAX``, no TTL."""

# The link index (bridge/stores/links.py)

TICKET_LINKS_KEY = PREFIX + "links:ticket:{ticket_id}"
"""Hash: issue key → Zendesk link id, of one ticket; kept until the link is removed (no TTL)."""

ISSUE_LINKS_KEY = PREFIX + "links:issue:{issue_key}"
"""Hash: ticket id → Zendesk link id, of one issue; kept until the link is removed (no TTL)."""

TICKET_REFERENCES_KEY = PREFIX + "refs:ticket:{ticket_id}"
"""Hash: the keys a ticket held (``keys``, JSON) as of the event with ``sequence``; BRIDGE_RECORD_RETENTION_S."""

ISSUE_ID_KEY = PREFIX + "issue-id:{issue_key}"
"""A Jira issue's id by key, for Zendesk's link create (bridge/stores/issue_ids.py); a day (``ISSUE_ID_TTL_S``)."""

# The executor's guarantees (bridge/stores/idempotency.py, bridge/stores/ratelimit.py)

IDEMPOTENCY_KEY = PREFIX + "idem:{key}"
"""A completed call's result, by idempotency key: it is never made again; BRIDGE_IDEMPOTENCY_TTL_S (30 d)."""

CLAIM_KEY = PREFIX + "claim:{target}"
"""A worker's claim on a target (its token) while it calls it; BRIDGE_CLAIM_TTL_S (60 s)."""

SEQUENCE_KEY = PREFIX + "seq:{target}|{subject}"
"""The last sequence applied to a target for one subject (older calls are stale); BRIDGE_IDEMPOTENCY_TTL_S."""

RATE_WINDOW_KEY = PREFIX + "ratelimit:{destination}:{second}"
"""Calls made to a destination in one second, shared by all workers; a few seconds (``RATE_WINDOW_TTL_S``)."""

# Calls waiting for their destination's drain job (bridge/stores/batches.py)

WAITING_KEY = PREFIX + "calls:{destination}:waiting"
"""List of units (an event's calls to one destination, JSON) waiting for a drain job; until taken."""

ARMED_KEY = PREFIX + "calls:{destination}:armed"
"""Flag: a drain job of the destination is queued; ``ARMED_TTL_S`` (10 s), so a lost job is replaced."""

IN_FLIGHT_KEY = PREFIX + "calls:in-flight:{job_id}"
"""List: the unit a drain job took and has not finished; until the job finishes it or it is returned."""

IN_FLIGHT_JOBS_KEY = PREFIX + "calls:in-flight"
"""Set of ``destination|job id`` of the drain jobs holding a unit (the maintenance checks them); no TTL."""

# RQ's own layout, written by the receiver's enqueue script (rq.job.Job.key_for, rq.queue.Queue.key)

RQ_JOB_KEY = "rq:job:{job_id}"
"""RQ's job hash; RQ's result and failure TTLs (``EVENT_JOB_RESULT_TTL_S``, ``JOB_FAILURE_TTL_S``)."""

RQ_QUEUE_KEY = "rq:queue:{queue}"
"""RQ's list of a queue's job ids; until a worker takes them."""

RQ_QUEUES_KEY = "rq:queues"
"""RQ's set of every queue's key; no TTL."""
