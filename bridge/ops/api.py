"""The ops API (``/api/ops/...``): everything the dashboard shows and does, as JSON, behind the login."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from redis import Redis
from redis.exceptions import RedisError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from bridge.errors import BadParameter, NotFound
from bridge.ops import service
from bridge.ops.actor import acting, from_request
from bridge.ops.auth import guarded
from bridge.ops.openapi import FAILED_PER_PAGE_MAX, MAX_PAGE, REGISTRY_NAMES, SPEC
from bridge.ops.throttle import LoginThrottle
from bridge.settings import Settings

Handler = Callable[[Redis, Request], dict[str, Any] | list[dict[str, Any]] | Response]


def page_number(request: Request) -> int:
    """Return ``?page=`` as a whole number from 1 to ``MAX_PAGE`` (1 when absent)."""
    raw = request.query_params.get("page", "1").strip()  # present but empty is malformed, not absent
    if not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= MAX_PAGE):
        raise BadParameter(f"page must be a whole number from 1 to {MAX_PAGE}, got {raw[:32]!r}")
    return int(raw)


def per_page_number(request: Request) -> int:
    """Return ``?per_page=`` as a whole number from 1 to ``FAILED_PER_PAGE_MAX`` (that when absent)."""
    raw = request.query_params.get("per_page", str(FAILED_PER_PAGE_MAX)).strip()
    if not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= FAILED_PER_PAGE_MAX):
        raise BadParameter(
            f"per_page must be a whole number from 1 to {FAILED_PER_PAGE_MAX}, got {raw[:32]!r}"
        )
    return int(raw)


def flag(request: Request, name: str) -> bool:
    """Return the boolean query parameter ``name`` (``true``/``false``, ``1``/``0``; absent: false)."""
    raw = request.query_params.get(name, "false").strip().lower()
    if raw not in ("true", "false", "1", "0"):
        raise BadParameter(f"{name} must be true or false, got {raw[:32]!r}")
    return raw in ("true", "1")


def failed_list(conn: Redis, request: Request) -> Response:
    """One page of the failed jobs, newest first, as a JSON list; ``X-Total-Count`` says how many there
    are and ``Link`` names the next page (GitHub's convention), so the answer stays the list it was."""
    page, per_page = page_number(request), per_page_number(request)
    destination = request.query_params.get("destination")
    found = service.failed_page(conn, destination, page, per_page)
    answer = JSONResponse(found["jobs"], headers={"X-Total-Count": str(found["total"])})
    if page * per_page < found["total"] and page < MAX_PAGE:
        following = request.url.include_query_params(page=page + 1, per_page=per_page)
        answer.headers["Link"] = f'<{following.path}?{following.query}>; rel="next"'
    return answer


def registry_name(request: Request) -> str:
    """Return ``?registry=`` if it names the queue itself or one of its registries."""
    registry = request.query_params.get("registry", "queued")
    if registry not in REGISTRY_NAMES:
        raise BadParameter(f"registry must be one of {', '.join(REGISTRY_NAMES)}, got {registry[:32]!r}")
    return registry


def _known_parameters(request: Request, known: tuple[str, ...]) -> None:
    unknown = sorted(name for name in request.query_params if name not in known)
    if unknown:
        allowed = f"(it takes {', '.join(known)})" if known else "(it takes none)"
        raise BadParameter(f"unknown query parameter {unknown[0][:32]!r} {allowed}")


def _check_body(body: bytes) -> None:
    """A state-changing call's body is optional; when given it must be a JSON object (its fields unused)."""
    if not body:
        return
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise BadParameter("the body must be a JSON object (or empty)") from None
    if not isinstance(parsed, dict):
        raise BadParameter("the body must be a JSON object (or empty)")


def routes(
    settings: Settings, connection: Callable[[], Redis], throttle: LoginThrottle | None = None
) -> list[BaseRoute]:
    """Return the API's routes; ``connection`` gives the blocking Redis client (calls run in a thread)."""
    logins = throttle or LoginThrottle(connection)

    def endpoint(handler: Handler, query: tuple[str, ...] = ()) -> Callable[[Request], Awaitable[Response]]:
        async def call(request: Request) -> Response:
            try:
                _known_parameters(request, query)
                if request.method != "GET":
                    _check_body(await request.body())
                with acting(from_request(request, "api")):  # the audit log's "who"
                    result = await run_in_threadpool(handler, connection(), request)
                if isinstance(result, Response):
                    return result
            except BadParameter as error:
                return JSONResponse({"error": str(error)}, 400)
            except NotFound as error:
                return JSONResponse({"error": str(error)}, 404)
            except (RedisError, OSError) as error:
                answer = JSONResponse({"error": f"Redis does not answer ({type(error).__name__})"}, 503)
                answer.headers["Retry-After"] = "30"
                return answer
            return JSONResponse(result)

        return guarded(settings, call, json_errors=True, throttle=logins)

    def path(request: Request, name: str) -> str:
        return str(request.path_params[name])

    async def openapi(request: Request) -> Response:
        return JSONResponse(SPEC)

    return [
        Route("/api/ops/openapi.json", guarded(settings, openapi, json_errors=True, throttle=logins)),
        Route("/api/ops/overview", endpoint(lambda conn, request: service.overview(conn))),
        Route("/api/ops/queues", endpoint(lambda conn, request: service.overview(conn)["queues"])),
        Route(
            "/api/ops/queues/{queue}/jobs",
            endpoint(
                lambda conn, request: service.list_jobs(
                    conn, path(request, "queue"), registry_name(request), page_number(request)
                ),
                ("registry", "page"),
            ),
        ),
        Route("/api/ops/failed", endpoint(failed_list, ("destination", "page", "per_page"))),
        Route(
            "/api/ops/failed/requeue",
            endpoint(
                lambda conn, request: service.requeue_all_failed(
                    conn, request.query_params.get("destination")
                ),
                ("destination",),
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
            endpoint(
                lambda conn, request: service.replay(conn, path(request, "event_id"), flag(request, "again")),
                ("again",),
            ),
            methods=["POST"],
        ),
        Route(
            "/api/ops/search",
            endpoint(lambda conn, request: service.search(conn, request.query_params.get("q", "")), ("q",)),
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
