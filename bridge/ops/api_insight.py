"""The ops API's answers to "who did what" and "what would the rules do" (``/api/ops/audit``,
``/api/ops/events/{event_id}/plan``), behind the same login as the rest of the API."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from redis import Redis
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from bridge.errors import BadParameter, BridgeError, NotFound
from bridge.ops import preview, service
from bridge.ops.auth import guarded
from bridge.ops.openapi import AUDIT_ENTRY_ID, AUDIT_LIMIT_MAX
from bridge.ops.throttle import LoginThrottle
from bridge.settings import Settings


def audit_page(request: Request) -> tuple[int, str | None]:
    """Return the ``limit`` and ``before`` of an audit log request; raise ``BadParameter`` for bad ones."""
    limit = request.query_params.get("limit", "50")
    if not (limit.isascii() and limit.isdigit() and 1 <= int(limit) <= AUDIT_LIMIT_MAX):
        raise BadParameter(f"limit must be a whole number from 1 to {AUDIT_LIMIT_MAX}, got {limit[:20]!r}")
    before = request.query_params.get("before") or None
    if before is not None and not re.fullmatch(AUDIT_ENTRY_ID, before):
        raise BadParameter(f"before must be an entry id like 1796000000000-0, got {before[:40]!r}")
    return int(limit), before


def routes(settings: Settings, connection: Callable[[], Redis], throttle: LoginThrottle) -> list[BaseRoute]:
    """Return the audit log's and the rule preview's API routes."""

    def endpoint(
        answer: Callable[[Request], dict[str, Any]], query: tuple[str, ...] = ()
    ) -> Callable[[Request], Awaitable[Response]]:
        async def call(request: Request) -> Response:
            try:
                unknown = sorted(name for name in request.query_params if name not in query)
                if unknown:
                    raise BadParameter(f"unknown query parameter {unknown[0][:32]!r}")
                return JSONResponse(await run_in_threadpool(answer, request))
            except BadParameter as error:
                return JSONResponse({"error": str(error)}, 400)
            except NotFound as error:
                return JSONResponse({"error": str(error)}, 404)
            except BridgeError as error:  # a rules file that no longer loads
                return JSONResponse({"error": str(error)}, 409)

        return guarded(settings, call, json_errors=True, throttle=throttle)

    def audit_log(request: Request) -> dict[str, Any]:
        limit, before = audit_page(request)
        return service.audit_log(connection(), limit, before)

    def plan(request: Request) -> dict[str, Any]:
        return preview.plan_recorded(connection(), str(request.path_params["event_id"]), settings)

    return [
        Route("/api/ops/audit", endpoint(audit_log, ("limit", "before"))),
        Route("/api/ops/events/{event_id}/plan", endpoint(plan)),
    ]
