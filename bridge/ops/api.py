"""The ops API (``/api/ops/...``): everything the dashboard shows and does, as JSON, behind the login."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from redis import Redis
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from bridge.errors import NotFound
from bridge.ops import service
from bridge.ops.actor import acting, from_request
from bridge.ops.auth import guarded
from bridge.ops.openapi import SPEC
from bridge.settings import Settings

Handler = Callable[[Redis, Request], dict[str, Any] | list[dict[str, Any]]]


def routes(settings: Settings, connection: Callable[[], Redis]) -> list[BaseRoute]:
    """Return the API's routes; ``connection`` gives the blocking Redis client (calls run in a thread)."""

    def endpoint(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def call(request: Request) -> Response:
            try:
                with acting(from_request(request, "api")):  # the audit log's "who"
                    result = await run_in_threadpool(handler, connection(), request)
            except NotFound as error:
                return JSONResponse({"error": str(error)}, 404)
            return JSONResponse(result)

        return guarded(settings, call, json_errors=True)

    def path(request: Request, name: str) -> str:
        return str(request.path_params[name])

    async def openapi(request: Request) -> Response:
        return JSONResponse(SPEC)

    return [
        Route("/api/ops/openapi.json", guarded(settings, openapi, json_errors=True)),
        Route("/api/ops/overview", endpoint(lambda conn, request: service.overview(conn))),
        Route("/api/ops/queues", endpoint(lambda conn, request: service.overview(conn)["queues"])),
        Route(
            "/api/ops/queues/{queue}/jobs",
            endpoint(
                lambda conn, request: service.list_jobs(
                    conn,
                    path(request, "queue"),
                    request.query_params.get("registry", "queued"),
                    int(request.query_params.get("page", "1")),
                )
            ),
        ),
        Route(
            "/api/ops/failed",
            endpoint(
                lambda conn, request: service.failed_jobs(conn, request.query_params.get("destination"))
            ),
        ),
        Route(
            "/api/ops/failed/requeue",
            endpoint(
                lambda conn, request: service.requeue_all_failed(
                    conn, request.query_params.get("destination")
                )
            ),
            methods=["POST"],
        ),
        Route(
            "/api/ops/failed/{job_id}/requeue",
            endpoint(lambda conn, request: service.requeue_failed(conn, path(request, "job_id"))),
            methods=["POST"],
        ),
        Route(
            "/api/ops/jobs/{job_id}",
            endpoint(lambda conn, request: service.delete_job(conn, path(request, "job_id"))),
            methods=["DELETE"],
        ),
        Route(
            "/api/ops/events/{event_id}",
            endpoint(lambda conn, request: service.event(conn, path(request, "event_id"))),
        ),
        Route(
            "/api/ops/events/{event_id}/replay",
            endpoint(lambda conn, request: service.replay(conn, path(request, "event_id"))),
            methods=["POST"],
        ),
        Route(
            "/api/ops/search",
            endpoint(lambda conn, request: service.search(conn, request.query_params.get("q", ""))),
        ),
        Route(
            "/api/ops/pause", endpoint(lambda conn, request: service.set_paused(conn, True)), methods=["POST"]
        ),
        Route(
            "/api/ops/resume",
            endpoint(lambda conn, request: service.set_paused(conn, False)),
            methods=["POST"],
        ),
    ]
