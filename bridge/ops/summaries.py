"""What a list shows of a job: its event and subject in words ("ticket 5002"), destination, upstream answer.

A calls job carries only its event's id, so the subjects of a page of jobs are read from the event
records in one round trip (``history.subjects``); a reconcile's job (no event) is described by its first
call's parameters.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from redis import Redis
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer

from bridge import job_queues
from bridge.stores import history

_JOB_ID = re.compile(r"[A-Za-z0-9_-]{1,255}")


def is_job_id(text: str) -> bool:
    """Tell whether a text can be an RQ job id (RQ refuses others with ValueError: ``rq.job.Job.set_id``)."""
    return bool(_JOB_ID.fullmatch(text))


FAILURE_META = ("upstream_status", "upstream_body", "error")
"""Fields of a job's meta that describe its last failure (dropped when an operator requeues it)."""


def job_summary(job: Job, subject: str | None = None) -> dict[str, Any]:
    """Return what a list shows of a job: its event, subject, destination, upstream answer and age."""
    meta = job.meta or {}
    args = job.args or ()
    event: dict[str, Any] = args[0] if args and isinstance(args[0], dict) else {}
    event_id = (
        meta.get("event_id") or event.get("id") or (args[0] if args and isinstance(args[0], str) else None)
    )
    status = job.get_status(refresh=False)
    failed = status == JobStatus.FAILED
    exc = (job.exc_info or "").strip() if failed else ""
    return {
        "job_id": job.id,
        "queue": job.origin,
        "status": status.value if status is not None else None,
        "description": job.description,
        "event_id": event_id,
        "source": event.get("source"),
        "type": event.get("type"),
        "subject": subject or history.subject_words(event) or _subject_of_calls(args),
        "destination": meta.get("destination") or job_queues.destination_of(job.origin),
        "attempt": meta.get("attempt", 1),
        # A job that no longer failed (requeued, then done) shows no old answer beside its new status.
        "upstream_status": meta.get("upstream_status") if failed else None,
        "upstream_body": meta.get("upstream_body") if failed else None,
        "error": (meta.get("error") or (exc.splitlines()[-1] if exc else None)) if failed else None,
        "requeued_by": meta.get("requeued_by"),
        "created_at": job.created_at.timestamp() if job.created_at else None,
        "ended_at": job.ended_at.timestamp() if job.ended_at else None,
    }


def summaries(conn: Redis, jobs: Iterable[Job | None]) -> list[dict[str, Any]]:
    """Return the summaries of ``jobs`` (None: gone), their subjects read in one round trip."""
    found = [job for job in jobs if job is not None]
    event_ids = [_event_id(job) for job in found]
    subjects = history.subjects(conn, [event_id for event_id in event_ids if event_id])
    return [
        job_summary(job, subjects.get(event_id) if event_id else None)
        for job, event_id in zip(found, event_ids, strict=True)
    ]


def fetch(conn: Redis, job_ids: list[str]) -> list[dict[str, Any]]:
    """Return the summaries of the jobs with these ids that still exist, in order."""
    return summaries(conn, Job.fetch_many(job_ids, connection=conn, serializer=JSONSerializer))


def _event_id(job: Job) -> str | None:
    args = job.args or ()
    if job.meta and job.meta.get("event_id"):
        return str(job.meta["event_id"])
    return args[0] if args and isinstance(args[0], str) else None


def _subject_of_calls(args: tuple[Any, ...] | list[Any]) -> str | None:
    """A calls job without an event record (a reconcile's): what its first call is about."""
    calls = args[2] if len(args) > 2 and isinstance(args[2], list) else []
    params = calls[0].get("params", {}) if calls and isinstance(calls[0], dict) else {}
    if params.get("ticket_id"):
        return f"ticket {params['ticket_id']}"
    issue = params.get("issue") or params.get("issue_key")
    return f"issue {issue}" if issue else None
