"""Start, resume and record runs: one catch-up and one link audit at a time (``runs.lock``), each recorded
(``bridge/stores/runs.py``) and noted in the audit log with what it found and did.

A run of everything that died half-way (SIGKILL, a lost worker) keeps its record ``running`` with its
cursors; once its lock lapses the next run of its kind resumes it instead of starting over, when it covers
as much (its ``since`` is not later). What it enqueued before it died is not enqueued twice in effect: a
state already applied previews as ``same`` and a re-plan's calls are idempotent per plan.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from redis import Redis

from bridge import defaults
from bridge.errors import BridgeError
from bridge.resync import audit, catchup, one
from bridge.resync.context import Context, Paused, Row
from bridge.rules.ruleset import RuleSet
from bridge.settings import Settings
from bridge.stores import audit as audit_log
from bridge.stores import runs
from bridge.upstreams import Clients


class RunBusy(BridgeError):
    """Another run of the same kind is under way (its id in the message)."""


def execute(
    conn: Redis,
    clients: Clients,
    settings: Settings,
    rules: RuleSet,
    kind: str,
    *,
    since: datetime | None = None,
    subject: str = "",
    dry_run: bool = False,
    by: str = "bridge",
    via: str = "schedule",
    run_id: str | None = None,
    report: Callable[[Row], None] | None = None,
    budget_s: float | None = None,
) -> runs.Run:
    """Make one run (or, with ``budget_s``, as many of its pages as fit in that time) and return its
    record; raise ``RunBusy`` when another run of its kind holds the lock.

    ``kind``: ``resync`` (catch-up since ``since``, required without ``subject``) or ``reconcile`` (link
    audit); ``subject``: ``zendesk:<id>`` or ``jira:<key or id>`` for one subject (either kind).
    ``run_id``: the id of the new run, or of a run under way to go on with (a scheduled run's next job).
    A run whose budget ran out is left ``running`` with its lock: call again with its id."""
    if kind not in runs.KINDS:
        raise ValueError(f"no run kind {kind!r}")
    if kind == "resync" and since is None and not subject:
        raise ValueError("a catch-up needs --since")
    if subject:
        one.parse(subject)
    whole = not subject and not dry_run
    run = runs.load(conn, run_id) if run_id else None
    if run is not None and run.status != "running":
        return run  # finished already (a job run again after its worker died at the end)
    if run is None and whole:
        run = _resumable(conn, kind, since)
    if run is None:
        run = runs.start(
            conn,
            runs.Run(
                run_id or runs.new_run_id(kind),
                kind,
                since=since.isoformat() if since else "",
                subject=subject,
                dry_run=dry_run,
                by=by,
                via=via,
            ),
        )
    if whole and not runs.lock(conn, kind, run.id) and runs.holder(conn, kind) != run.id:
        runs.finish(conn, run.id, f"another {kind} run is under way ({runs.holder(conn, kind)})")
        raise RunBusy(f"another {kind} run is under way: {runs.holder(conn, kind)}")
    deadline = time.monotonic() + budget_s if budget_s is not None else None
    ctx = Context(conn, clients, settings, rules, run, report or (lambda row: None), deadline)
    started = run.since and datetime.fromisoformat(run.since)
    try:
        if subject:
            one.resync_subject(ctx, subject)
        elif kind == "resync":
            assert started
            catchup.catch_up(ctx, started)
        else:
            audit.audit(ctx, started or None)
    except Paused as paused:
        runs.resume_at(conn, run.id, paused.at)
        return runs.load(conn, run.id) or run  # the lock stays with the run: its next job goes on
    except Exception as error:
        runs.finish(conn, run.id, f"{type(error).__name__}: {error}")
        if whole:
            runs.unlock(conn, kind, run.id)
        _note(conn, run.id, ok=False)
        raise
    runs.finish(conn, run.id)
    if whole:
        runs.unlock(conn, kind, run.id)
    return _note(conn, run.id, ok=True)


def scheduled_since(conn: Redis, every_s: int) -> datetime:
    """Where a scheduled catch-up starts: a few minutes before the last finished one started (changes made
    while it ran are read again), or one interval back for the first."""
    for run in runs.recent(conn, defaults.RUNS_MAX):
        if run.kind == "resync" and run.status == "done" and not run.subject and not run.dry_run:
            return datetime.fromtimestamp(run.started_at - defaults.RESYNC_OVERLAP_S, UTC)
    return datetime.fromtimestamp(time.time() - every_s - defaults.RESYNC_OVERLAP_S, UTC)


def _resumable(conn: Redis, kind: str, since: datetime | None) -> runs.Run | None:
    left = runs.unfinished(conn, kind)
    if left is None:
        return None
    covers = since is None or (bool(left.since) and datetime.fromisoformat(left.since) <= since)
    if kind == "reconcile":
        covers = not left.since or (since is not None and datetime.fromisoformat(left.since) <= since)
    if covers:
        return left
    runs.finish(conn, left.id, "left unfinished; a later run covered it")
    return None


def _note(conn: Redis, run_id: str, ok: bool) -> runs.Run:
    run = runs.load(conn, run_id)
    assert run is not None
    target = run.subject or (f"since {run.since}" if run.since else "every link")
    detail = (
        f"run {run.id}{' (dry run)' if run.dry_run else ''}: "
        + ", ".join(f"{name} {run.counts[name]}" for name in runs.COUNTS)
        + (f"; {run.error}" if run.error else "")
    )
    if not run.dry_run:  # a dry run changes nothing: listed among the runs, not in the audit log
        audit_log.record_run(conn, run.kind, target, ok, detail, actor=run.by, via=run.via)
    return run
