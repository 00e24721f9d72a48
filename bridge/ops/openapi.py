"""The ops API's OpenAPI description, served at ``/api/ops/openapi.json``."""

from __future__ import annotations

from typing import Any


def _op(
    summary: str, method: str = "get", params: tuple[str, ...] = (), query: tuple[str, ...] = ()
) -> dict[str, Any]:
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}} for name in params
    ]
    parameters += [
        {"name": name, "in": "query", "required": False, "schema": {"type": "string"}} for name in query
    ]
    return {
        method: {
            "summary": summary,
            "parameters": parameters,
            "security": [{"basic": []}],
            "responses": {
                "200": {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}},
                "401": {"description": "login required"},
                "404": {"description": "unknown, or the dashboard is disabled"},
            },
        }
    }


SPEC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "jira-zendesk-bridge ops API", "version": "1"},
    "components": {"securitySchemes": {"basic": {"type": "http", "scheme": "basic"}}},
    "paths": {
        "/api/ops/overview": _op("Queues, workers, per-minute figures and each destination's health"),
        "/api/ops/queues": _op(
            "Every queue with queued/started/deferred/scheduled/failed/finished counts, and for a calls"
            " queue the events whose calls wait for its next batch job (waiting)"
        ),
        "/api/ops/queues/{queue}/jobs": _op(
            "One page of a queue or registry, newest first", params=("queue",), query=("registry", "page")
        ),
        "/api/ops/failed": _op("Failed jobs with the upstream's status and answer", query=("destination",)),
        "/api/ops/failed/requeue": _op("Requeue every failed job", "post", query=("destination",)),
        "/api/ops/failed/{job_id}/requeue": _op("Requeue one failed job", "post", params=("job_id",)),
        "/api/ops/jobs/{job_id}": _op("Delete a job", "delete", params=("job_id",)),
        "/api/ops/events/{event_id}": _op(
            "The event, its raw delivery, its calls and jobs", params=("event_id",)
        ),
        "/api/ops/events/{event_id}/replay": _op(
            "Run an event through the rules again", "post", params=("event_id",)
        ),
        "/api/ops/search": _op(
            "Find events and jobs by Jira key, ticket, Salesforce, event or delivery id", query=("q",)
        ),
        "/api/ops/audit": _op(
            "The operators' actions, newest first: who (login or OS user, and via dashboard, api or cli),"
            " when, what, on what, and the outcome; `limit` (default 50, at most 500), `before` (an entry"
            " id: the next page)",
            query=("limit", "before"),
        ),
        "/api/ops/events/{event_id}/plan": _op(
            "The calls the current rules would plan for the event now (calls nothing): each with its"
            " rule, target, parameters, and whether a replay would skip it (made already, or its upstream"
            " not configured)",
            params=("event_id",),
        ),
        "/api/ops/pause": _op("Pause every worker (jobs in hand finish)", "post"),
        "/api/ops/resume": _op("Resume the workers", "post"),
    },
}
