"""The ops API's answers to "who did what" and "what would the rules do" (``/api/ops/audit``,
``/api/ops/events/{event_id}/plan``), behind the same login as the rest of the API."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from redis import Redis
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from bridge.errors import BridgeError, NotFound
from bridge.ops import preview, service
from bridge.ops.auth import guarded
from bridge.settings import Settings

AUDIT_LIMIT_MAX = 500
"""Most audit entries one request returns."""


def routes(settings: Settings, connection: Callable[[], Redis]) -> list[BaseRoute]:
    """Return the audit log's and the rule preview's API routes."""

    def endpoint(answer: Callable[[Request], dict[str, Any]]) -> Callable[[Request], Awaitable[Response]]:
        async def call(request: Request) -> Response:
            try:
                return JSONResponse(await run_in_threadpool(answer, request))
            except NotFound as error:
                return JSONResponse({"error": str(error)}, 404)
            except BridgeError as error:  # a rules file that no longer loads
                return JSONResponse({"error": str(error)}, 409)

        return guarded(settings, call, json_errors=True)

    def audit_log(request: Request) -> dict[str, Any]:
        limit = request.query_params.get("limit", "50")
        count = min(int(limit), AUDIT_LIMIT_MAX) if limit.isdigit() and int(limit) > 0 else 50
        return service.audit_log(connection(), count, request.query_params.get("before") or None)

    def plan(request: Request) -> dict[str, Any]:
        return preview.plan_recorded(connection(), str(request.path_params["event_id"]), settings)

    return [
        Route("/api/ops/audit", endpoint(audit_log)),
        Route("/api/ops/events/{event_id}/plan", endpoint(plan)),
    ]
