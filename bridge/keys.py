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
"""Delivery id → the first event id made of it; a week (``DEDUPE_TTL_S``). Set with the job, atomically.
Also ``delivery`` = ``signed:<sha256>`` of a delivery's signed content (a replay under a new delivery id),
for a week or BRIDGE_JIRA_MAX_AGE_S, whichever is longer."""

RAW_DELIVERY_KEY = PREFIX + "raw:{event_id}"
"""The delivery as received (safe headers and body) for the dashboard; a week (``RAW_DELIVERY_TTL_S``)."""

# Logins to the dashboard and the ops API (bridge/ops/throttle.py)

LOGIN_FAILURES_KEY = PREFIX + "login:failures:{kind}:{value}"
"""Failed logins of one client address (``addr``) or user name (``user``, a sha256) in the throttle window,
which starts at the first failure and lasts ``bridge.ops.throttle.WINDOW_S`` (15 min)."""

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

# The link index (bridge/stores/links.py): the Zendesk links the bridge made or found, by issue id

TICKET_LINKS_KEY = PREFIX + "links:ticket:{ticket_id}"
"""Hash: issue id → ``{"link": Zendesk link id, "key": issue key it was made with}`` (JSON); until unlinked."""

ISSUE_LINKS_KEY = PREFIX + "links:issue:{issue_id}"
"""Hash: ticket id → Zendesk link id, of one issue (by id); until unlinked (no TTL)."""

# Jira issue ids and keys (bridge/stores/issue_ids.py)

ISSUE_ID_KEY = PREFIX + "issue-id:{issue_key}"
"""A Jira issue's id by any key it had (a moved issue keeps its id); ``ISSUE_ID_TTL_S`` (30 d)."""

ISSUE_KEY_KEY = PREFIX + "issue-key:{issue_id}"
"""A Jira issue's current key by id, as last seen in an event or an answer; ``ISSUE_ID_TTL_S``."""

# The newest state of each subject and who names whom (bridge/stores/subjects.py, bridge/planner.py)

SUBJECT_KEY = PREFIX + "subject:{kind}:{subject_id}"
"""Hash: a ticket's or issue's newest applied state (JSON), its sequence and precision, the event it came
from, and (tickets) the issues its last plan wanted linked; BRIDGE_IDEMPOTENCY_TTL_S from its last change."""

NAMED_BY_KEY = PREFIX + "named-by:{kind}:{subject_id}"
"""Set: for a ticket, the issue ids whose JIRA_ZENDESK_FIELD names it; for an issue, the tickets whose Jira
field names it; kept with the subjects that name (BRIDGE_IDEMPOTENCY_TTL_S)."""

NAMED_KEY_KEY = PREFIX + "named-by:key:{issue_key}"
"""Set: tickets whose Jira field names ``issue_key`` while no issue has it (linked once one does)."""

PLAN_VERSION_KEY = PREFIX + "plan-version"
"""Counter of plans, never below the time in µs: calls on one record take effect in this order, and Jira
Software's updateSequenceNumber grows with it; no TTL."""

# The executor's guarantees (bridge/stores/idempotency.py) and the destinations' gates (ratelimit.py, breaker.py)

IDEMPOTENCY_KEY = PREFIX + "idem:{key}"
"""A completed call's result, by idempotency key: it is never made again; BRIDGE_IDEMPOTENCY_TTL_S (30 d)."""

CLAIM_KEY = PREFIX + "claim:{target}"
"""A worker's claim on a target (its token) while it calls it; BRIDGE_WORKER_LEASE_S (8 s), renewed."""

APPLIED_KEY = PREFIX + "applied:{object}"
"""The plan version last applied to a record (a call of an older plan is superseded); BRIDGE_IDEMPOTENCY_TTL_S."""

BEGUN_KEY = PREFIX + "begun:{object}"
"""A record a call began on and did not finish (its answer may be lost): the next call on it looks before it
creates; until a call on it finishes, at most a day (``BEGUN_TTL_S``)."""

CLEANUP_LOCK_KEY = PREFIX + "lock:cleanup"
"""Which worker cleans RQ's registries this round (workers/keeper.py); a quarter of BRIDGE_WORKER_LEASE_S."""

SCHEDULE_LOCK_KEY = PREFIX + "lock:schedule"
"""Which worker moves due retries onto their queues this tick (workers/keeper.py); under half a second."""

PACE_KEY = PREFIX + "pace:{destination}"
"""A rate-limited destination's next free request slot (epoch seconds, Redis's clock); a second past it."""

GATE_KEY = PREFIX + "gate:{destination}"
"""Hash: whether a destination's requests are held: ``paused_until`` (a 429's Retry-After) and the circuit
breaker's ``open_until``, ``opened_at``, ``reason`` and ``trips``; no TTL (a few fields per destination)."""

PROBE_KEY = PREFIX + "gate:{destination}:probe"
"""The one request that probes a half-open circuit (its token); BRIDGE_WORKER_LEASE_S."""

BREAKER_WINDOW_KEY = PREFIX + "breaker:{destination}:{bucket}"
"""Hash: a destination's requests that got an answer (``ok``) and that failed (``failed``: 5xx, 408, none)
in one ``BREAKER_BUCKET_S`` bucket; the breaker's window and a bucket more."""

# Calls waiting for their destination's drain job (bridge/stores/batches.py)

WAITING_KEY = PREFIX + "calls:{destination}:waiting"
"""List of units (an event's calls to one destination, JSON) waiting for a drain job; until taken."""

ARMED_KEY = PREFIX + "calls:{destination}:armed"
"""Flag: a drain job of the destination is queued; ``ARMED_TTL_S`` (10 s), so a lost job is replaced."""

IN_FLIGHT_KEY = PREFIX + "calls:in-flight:{job_id}"
"""List: the unit a drain job took and has not finished; until the job finishes it or it is returned."""

IN_FLIGHT_JOBS_KEY = PREFIX + "calls:in-flight"
"""Set of ``destination|job id`` of the drain jobs holding a unit (the maintenance checks them); no TTL."""

# Catch-up from the sources and link audits (bridge/resync/, bridge/stores/runs.py)

RUN_KEY = PREFIX + "run:{run_id}"
"""Hash: one resync or reconcile run — kind, since, who, started/finished, status, counts (read, planned,
repaired, errors), its last error and where it got to (cursors), so a run killed half-way resumes; a
month (``RUN_TTL_S``)."""

RUNS_KEY = PREFIX + "runs"
"""Sorted set of run ids by start time (epoch s), the newest ``RUNS_MAX`` kept; no TTL."""

RUN_LOCK_KEY = PREFIX + "lock:run:{kind}"
"""The run of a kind (``resync``, ``reconcile``) under way: its id; ``RUN_LOCK_TTL_S``, renewed each page,
so a killed run's lock lapses and the next run takes over its cursor."""

RUN_DUE_KEY = PREFIX + "run-due:{kind}"
"""Flag: a scheduled run of a kind was started this interval (the workers' keeper starts one a
BRIDGE_RESYNC_EVERY_S / BRIDGE_RECONCILE_EVERY_S); the interval."""

RUN_SEEN_KEY = PREFIX + "run:{run_id}:seen"
"""Set of the subjects a run already planned again (``ticket:5001``), so a subject found drifted twice in
one run is planned once; ``RUN_TTL_S``."""

# RQ's own layout, written by the receiver's enqueue script (rq.job.Job.key_for, rq.queue.Queue.key)

RQ_JOB_KEY = "rq:job:{job_id}"
"""RQ's job hash; RQ's result and failure TTLs (``EVENT_JOB_RESULT_TTL_S``, ``JOB_FAILURE_TTL_S``)."""

RQ_QUEUE_KEY = "rq:queue:{queue}"
"""RQ's list of a queue's job ids; until a worker takes them."""

RQ_QUEUES_KEY = "rq:queues"
"""RQ's set of every queue's key; no TTL."""
