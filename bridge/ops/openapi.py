"""The ops API's OpenAPI description, served at ``/api/ops/openapi.json``.

Every answer the API gives is described here, errors included, and ``tests/ops/test_openapi_schemathesis.py``
checks the API against it (schemathesis: no server error, no answer that does not match).
"""

from __future__ import annotations

from typing import Any

MAX_PAGE = 10_000
"""Highest page number a job list accepts."""

FAILED_PER_PAGE_MAX = 200
"""Most failed jobs one page of ``GET /api/ops/failed`` holds (and how many it holds by default)."""

AUDIT_LIMIT_MAX = 500
"""Most audit entries one request returns."""

AUDIT_ENTRY_ID = r"^[0-9]{1,20}-[0-9]{1,20}$"
"""An audit entry's id (a Redis stream id), as ``before`` takes it."""

REGISTRY_NAMES = ("queued", "started", "deferred", "scheduled", "failed", "finished")
"""What ``/api/ops/queues/{queue}/jobs?registry=`` may name (the queue itself, or one of RQ's registries)."""


def _nullable(kind: str | list[str]) -> dict[str, Any]:
    kinds = [kind] if isinstance(kind, str) else kind
    return {"type": [*kinds, "null"]}


def _object(properties: dict[str, Any], required: tuple[str, ...] | None = None) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties if required is None else required),
    }


_STRING = {"type": "string"}
_INTEGER = {"type": "integer"}
_NUMBER = {"type": "number"}
_BOOLEAN = {"type": "boolean"}

_ERROR = _object({"error": _STRING})
_JOB = _object(
    {
        "job_id": _STRING,
        "queue": _STRING,
        "status": _nullable("string"),
        "description": _nullable("string"),
        "event_id": _nullable("string"),
        "source": _nullable("string"),
        "type": _nullable("string"),
        "subject": _nullable("string"),
        "destination": _nullable("string"),
        "attempt": _INTEGER,
        "upstream_status": _nullable("integer"),
        "upstream_body": _nullable("string"),
        "error": _nullable("string"),
        "created_at": _nullable("number"),
        "ended_at": _nullable("number"),
    }
)
_QUEUE = {
    **_object(
        {
            "name": _STRING,
            "destination": _nullable("string"),
            "waiting": _INTEGER,
            "queued": _INTEGER,
            "started": _INTEGER,
            "deferred": _INTEGER,
            "scheduled": _INTEGER,
            "failed": _INTEGER,
            "finished": _INTEGER,
        }
    ),
}
_OVERVIEW = _object(
    {
        "queues": {"type": "array", "items": _QUEUE},
        "workers": {
            "type": "array",
            "items": _object(
                {
                    "name": _STRING,
                    "state": _STRING,
                    "queues": {"type": "array", "items": _STRING},
                    "current_job": _nullable("string"),
                }
            ),
        },
        "paused": _BOOLEAN,
        "destinations": {"type": "object", "additionalProperties": {"type": "object"}},
        "per_minute": {
            "type": "array",
            "items": _object({"minute": _INTEGER, "events": _INTEGER, "calls": _INTEGER}),
        },
        "events_last_minute": _INTEGER,
        "calls_last_minute": _INTEGER,
    }
)
_EVENT_SUMMARY = _object(
    {
        "event_id": _STRING,
        "source": _STRING,
        "type": _STRING,
        "subject": _STRING,
        "status": _STRING,
        "received_at": _STRING,
    }
)
_EVENT = _object(
    {
        "event": {"type": "object"},
        "status": _STRING,
        "reason": _STRING,
        "actions": _INTEGER,
        "updated_at": _NUMBER,
        "calls": {"type": "array", "items": {"type": "object"}},
        "raw": _nullable("object"),
        "trace_id": {
            **_nullable("string"),
            "description": "the OpenTelemetry trace of its delivery (32 hex digits), when traces are recorded",
        },
        "jobs": {"type": "array", "items": _JOB},
    }
)


def _op(
    summary: str,
    answer: dict[str, Any],
    method: str = "get",
    params: tuple[str, ...] = (),
    query: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
        for name in params
    ]
    parameters += [
        {"name": name, "in": "query", "required": False, "schema": schema}
        for name, schema in (query or {}).items()
    ]
    errors = {
        "400": "a parameter is malformed",
        "401": "login required",
        "404": "unknown, or the dashboard is disabled",
        "429": "too many failed logins: retry after Retry-After seconds",
        "503": "Redis does not answer",
    }
    operation: dict[str, Any] = {
        "summary": summary,
        "parameters": parameters,
        "security": [{"basic": []}],
        "responses": {
            "200": {"description": "OK", "content": {"application/json": {"schema": answer}}},
            **{
                status: {"description": text, "content": {"application/json": {"schema": _ERROR}}}
                for status, text in errors.items()
            },
        },
    }
    if method != "get":
        # A JSON body (or an X-Requested-With header) makes the call one no cross-site form can send.
        operation["requestBody"] = {
            "required": False,
            "description": "optional and unused; a JSON object (or the X-Requested-With header) is required"
            " to show that no cross-site form sent the call",
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
        operation["parameters"].append(
            {"name": "X-Requested-With", "in": "header", "required": False, "schema": _STRING}
        )
        operation["responses"]["403"] = {
            "description": "a cross-site request (another Origin, or neither a JSON body nor X-Requested-With)",
            "content": {"application/json": {"schema": _ERROR}},
        }
    return {method: operation}


_DESTINATION_QUERY = {"destination": _STRING}


def _paged(operation: dict[str, Any]) -> dict[str, Any]:
    """Describe the paging headers of a list's answer."""
    operation["get"]["responses"]["200"]["headers"] = {
        "X-Total-Count": {"description": "how many there are in all", "schema": _INTEGER},
        "Link": {
            "description": 'the next page, as `<url>; rel="next"`, when there is one',
            "schema": _STRING,
        },
    }
    return operation


JIRA_SUBJECT = r"^([A-Za-z][A-Za-z0-9_]{0,254}-[1-9][0-9]{0,17}|[0-9]{1,19})$"
"""What names a Jira issue to resync: its key or its id."""

_RUN = _object(
    {
        "id": _STRING,
        "kind": {"type": "string", "enum": ["resync", "reconcile"]},
        "since": _nullable("string"),
        "subject": _nullable("string"),
        "dry_run": _BOOLEAN,
        "by": _STRING,
        "via": _STRING,
        "status": {"type": "string", "enum": ["running", "done", "failed"]},
        "started_at": _NUMBER,
        "finished_at": _nullable("number"),
        "read": _INTEGER,
        "planned": _INTEGER,
        "repaired": _INTEGER,
        "errors": _INTEGER,
        "error": _nullable("string"),
    }
)


def _resync(operation: dict[str, Any]) -> dict[str, Any]:
    """The resync call's body is required: which subject."""
    operation["post"]["requestBody"] = {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        {
                            **_object(
                                {
                                    "source": {"const": "zendesk"},
                                    "id": {
                                        "oneOf": [
                                            {"type": "string", "pattern": "^[0-9]{1,19}$"},
                                            {"type": "integer", "minimum": 0},
                                        ]
                                    },
                                }
                            ),
                            "additionalProperties": False,
                        },
                        {
                            **_object(
                                {
                                    "source": {"const": "jira"},
                                    "id": {
                                        "oneOf": [
                                            {"type": "string", "pattern": JIRA_SUBJECT},
                                            {"type": "integer", "minimum": 0},
                                        ]
                                    },
                                }
                            ),
                            "additionalProperties": False,
                        },
                    ]
                }
            }
        },
    }
    return operation


SPEC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "jira-zendesk-bridge ops API", "version": "1"},
    "components": {"securitySchemes": {"basic": {"type": "http", "scheme": "basic"}}},
    "paths": {
        "/api/ops/overview": _op(
            "Queues, workers, per-minute figures and each destination's health", _OVERVIEW
        ),
        "/api/ops/queues": _op(
            "Every queue with queued/started/deferred/scheduled/failed/finished counts, and for a calls"
            " queue the events whose calls wait for its next batch job (waiting)",
            {"type": "array", "items": _QUEUE},
        ),
        "/api/ops/queues/{queue}/jobs": _op(
            "One page of a queue or registry, newest first",
            _object(
                {
                    "queue": _STRING,
                    "registry": _STRING,
                    "page": _INTEGER,
                    "total": _INTEGER,
                    "jobs": {"type": "array", "items": _JOB},
                }
            ),
            params=("queue",),
            query={
                "registry": {"type": "string", "enum": list(REGISTRY_NAMES)},
                "page": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE},
            },
        ),
        "/api/ops/failed": _paged(
            _op(
                "Failed jobs with the upstream's status and answer, newest first, a page at a time (`page`,"
                f" `per_page` up to {FAILED_PER_PAGE_MAX}, its default): `X-Total-Count` says how many there"
                " are, `Link` names the next page",
                {"type": "array", "items": _JOB},
                query={
                    **_DESTINATION_QUERY,
                    "page": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE},
                    "per_page": {"type": "integer", "minimum": 1, "maximum": FAILED_PER_PAGE_MAX},
                },
            )
        ),
        "/api/ops/failed/requeue": _op(
            "Requeue every failed job",
            _object({"requeued": _INTEGER, "job_ids": {"type": "array", "items": _STRING}}),
            "post",
            query=_DESTINATION_QUERY,
        ),
        "/api/ops/failed/{job_id}/requeue": _op(
            "Requeue one failed job",
            _object({"requeued": _STRING, "queue": _STRING}),
            "post",
            params=("job_id",),
        ),
        "/api/ops/jobs/{job_id}": _op(
            "Delete a job", _object({"deleted": _STRING}), "delete", params=("job_id",)
        ),
        "/api/ops/events/{event_id}": _op(
            "The event, its raw delivery, its calls and jobs", _EVENT, params=("event_id",)
        ),
        "/api/ops/events/{event_id}/replay": _op(
            "Run an event through the rules again: calls made before are not made again (skipped-duplicate:"
            " already made, nothing to do). With `again=true`, for an operator who knows an upstream lost an"
            " effect, the calls the current rules plan for the subject's newest state are made again under"
            " new idempotency keys that record who asked, when and for which event (audited, with the outcome)",
            _object({"replayed": _STRING, "job_id": _STRING, "again": _BOOLEAN, "note": _STRING}),
            "post",
            params=("event_id",),
            query={"again": {"type": "boolean"}},
        ),
        "/api/ops/search": _op(
            "Find events and jobs by Jira key, ticket, Salesforce, event or delivery id",
            _object(
                {
                    "query": _STRING,
                    "events": {"type": "array", "items": _EVENT_SUMMARY},
                    "jobs": {"type": "array", "items": _JOB},
                }
            ),
            query={"q": _STRING},
        ),
        "/api/ops/pause": _op(
            "Pause every worker (jobs in hand finish)", _object({"paused": _BOOLEAN}), "post"
        ),
        "/api/ops/resume": _op("Resume the workers", _object({"paused": _BOOLEAN}), "post"),
        "/api/ops/audit": _op(
            "The operators' actions, newest first: who (login or OS user, and via dashboard, api or cli),"
            " when, what, on what, and the outcome; `limit` (default 50, at most 500), `before` (an entry"
            " id: the next page)",
            _object(
                {
                    "entries": {"type": "array", "items": {"type": "object"}},
                    "total": _INTEGER,
                    "older": _nullable("string"),
                }
            ),
            query={
                "limit": {"type": "integer", "minimum": 1, "maximum": AUDIT_LIMIT_MAX},
                "before": {"type": "string", "pattern": AUDIT_ENTRY_ID},
            },
        ),
        "/api/ops/runs": _op(
            "The newest catch-up (`resync`) and link-audit (`reconcile`) runs, newest first: started,"
            " finished, status, read, planned, repaired, errors; and the run of each kind under way",
            _object({"runs": {"type": "array", "items": _RUN}, "under_way": {"type": "object"}}),
        ),
        "/api/ops/resync": _resync(
            _op(
                "Resync one subject: read the ticket or issue from its source now and apply the rules to it"
                " (a run on the resync lane; see /api/ops/runs)",
                _object({"run_id": _STRING, "job_id": _STRING, "subject": _STRING}),
                "post",
            )
        ),
        "/api/ops/events/{event_id}/plan": _op(
            "What the current rules would plan for the event now (calls nothing): how it orders against its"
            " subject's applied state, `linked`, and each call with its rule, target, parameters, and whether"
            " a replay would skip it (made already, or its upstream not configured)",
            {"type": "object"},
            params=("event_id",),
        ),
    },
}
