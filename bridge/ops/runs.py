"""What operators see of catch-up and link-audit runs, and how they ask for a one-subject resync (the ops
API, the dashboard and ``/metrics`` share these)."""

from __future__ import annotations

from typing import Any

from redis import Redis

from bridge import job_queues
from bridge.errors import BadParameter
from bridge.ops import actor
from bridge.resync.one import parse
from bridge.stores import runs

RUNS_SHOWN = 50
"""Runs the ops API and the dashboard list (the newest)."""


def recent(conn: Redis, limit: int = RUNS_SHOWN) -> dict[str, Any]:
    """The newest runs, newest first, and the run of each kind under way."""
    return {
        "runs": [run.as_json() for run in runs.recent(conn, limit)],
        "under_way": {kind: runs.holder(conn, kind) for kind in runs.KINDS},
    }


def request_resync(conn: Redis, source: Any, ident: Any) -> dict[str, Any]:
    """Queue a resync of one subject on the resync lane; return its run id and job id.

    Raise ``BadParameter`` unless ``source`` is ``zendesk`` or ``jira`` and ``ident`` names a subject."""
    if isinstance(ident, float) and ident.is_integer():
        ident = int(ident)  # JSON Schema's integer: 8052.0 is one
    if not isinstance(source, str) or not isinstance(ident, str | int) or isinstance(ident, bool):
        raise BadParameter('the body must be {"source": "zendesk" | "jira", "id": ticket id or issue key}')
    subject = f"{source}:{str(ident).strip()}"
    parse(subject)
    who = actor.current()
    run_id = runs.new_run_id("resync")
    job_id = job_queues.enqueue_run(conn, run_id, "resync", subject=subject, by=who.name, via=who.via)
    return {"run_id": run_id, "job_id": job_id, "subject": subject}
