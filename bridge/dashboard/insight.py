"""Dashboard pages that answer "who did what" and "what would the rules do": the audit log and an event's
plan under the current rules (before a replay). Read-only pages, behind the same login.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from redis import Redis
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from bridge.dashboard.pages import templates
from bridge.errors import BridgeError
from bridge.ops import preview, service
from bridge.ops.auth import guarded
from bridge.ops.openapi import AUDIT_ENTRY_ID
from bridge.ops.throttle import LoginThrottle
from bridge.settings import Settings

AUDIT_PAGE_SIZE = 50
"""Audit log entries per page."""


def routes(settings: Settings, connection: Callable[[], Redis], throttle: LoginThrottle) -> list[BaseRoute]:
    """Return the audit log's and the rule preview's pages."""

    def render(name: str, **context: Any) -> HTMLResponse:
        return HTMLResponse(templates().get_template(name).render(**context))

    async def audit_log(request: Request) -> Response:
        before = request.query_params.get("before") or None
        if before is not None and not re.fullmatch(AUDIT_ENTRY_ID, before):
            return render("message.html", title="Bad request", message="before must be an audit entry id")
        data = await run_in_threadpool(service.audit_log, connection(), AUDIT_PAGE_SIZE, before)
        return render("audit.html", data=data, before=before)

    async def plan(request: Request) -> Response:
        event_id = request.path_params["event_id"]
        try:
            data = await run_in_threadpool(preview.plan_recorded, connection(), event_id, settings)
        except BridgeError as error:  # unknown event, or a rules file that no longer loads
            return render("message.html", title="No plan", message=str(error))
        return render("plan.html", data=data)

    def page(endpoint: Callable[[Request], Any]) -> Any:
        return guarded(settings, endpoint, json_errors=False, throttle=throttle)

    return [
        Route("/dashboard/audit", page(audit_log)),
        Route("/dashboard/events/{event_id}/plan", page(plan)),
    ]
