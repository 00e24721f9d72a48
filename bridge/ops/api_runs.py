"""The ops API's runs (``GET /api/ops/runs``) and one-subject resync (``POST /api/ops/resync`` with
``{"source": "zendesk" | "jira", "id": ...}``), behind the same login and cross-site checks as the rest."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from redis import Redis
from redis.exceptions import RedisError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from bridge.errors import BadParameter
from bridge.ops import runs
from bridge.ops.actor import acting, from_request
from bridge.ops.auth import guarded
from bridge.ops.throttle import LoginThrottle
from bridge.settings import Settings


def routes(settings: Settings, connection: Callable[[], Redis], throttle: LoginThrottle) -> list[BaseRoute]:
    """Return the runs' API routes."""

    async def answer(request: Request, work: Callable[[], dict[str, Any]]) -> Response:
        try:
            if request.query_params:
                raise BadParameter(f"unknown query parameter {next(iter(request.query_params))[:32]!r}")
            with acting(from_request(request, "api")):  # the audit log's "who"
                return JSONResponse(await run_in_threadpool(work))
        except BadParameter as error:
            return JSONResponse({"error": str(error)}, 400)
        except (RedisError, OSError) as error:
            return JSONResponse(
                {"error": f"Redis does not answer ({type(error).__name__})"},
                503,
                headers={"Retry-After": "30"},
            )

    async def list_runs(request: Request) -> Response:
        return await answer(request, lambda: runs.recent(connection()))

    async def resync(request: Request) -> Response:
        try:
            body = orjson.loads(await request.body() or b"{}")
        except orjson.JSONDecodeError:
            body = None
        if not isinstance(body, dict):
            return JSONResponse({"error": "the body must be a JSON object"}, 400)
        return await answer(
            request, lambda: runs.request_resync(connection(), body.get("source"), body.get("id"))
        )

    return [
        Route("/api/ops/runs", guarded(settings, list_runs, json_errors=True, throttle=throttle)),
        Route(
            "/api/ops/resync",
            guarded(settings, resync, json_errors=True, throttle=throttle),
            methods=["POST"],
        ),
    ]
