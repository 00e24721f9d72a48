"""Dashboard routes: each page renders what ``bridge.ops.service`` returns; actions are CSRF-checked POSTs.

No asset comes from a CDN: the stylesheet ships in ``static/``; the overview refreshes itself with a
``<meta http-equiv="refresh">`` so that no script is needed at all (the CSP forbids inline script).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader, select_autoescape
from redis import Redis
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from bridge.errors import BadParameter, BridgeError, NotFound
from bridge.ops import preview, service, session
from bridge.ops import runs as ops_runs
from bridge.ops.actor import acting, from_request
from bridge.ops.api import page_number, registry_name
from bridge.ops.auth import guarded
from bridge.ops.throttle import LoginThrottle
from bridge.settings import Settings
from bridge.sources.refs import JIRA_KEY

_templates = Environment(
    loader=PackageLoader("bridge.dashboard", "templates"), autoescape=select_autoescape(default=True)
)


def _age(timestamp: float | None) -> str:
    if not timestamp:
        return "-"
    seconds = max(0, int(time.time() - timestamp))
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return f"{seconds} s ago"


_templates.filters["age"] = _age
_templates.filters["minute"] = lambda minute: time.strftime("%H:%M", time.gmtime(int(minute) * 60))


def clock(moment: float | None) -> str:
    """Format an epoch time as ``2026-11-30 06:54:02.123`` (UTC, milliseconds): when a try was made."""
    if not moment:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(moment)) + f".{int(moment * 1000) % 1000:03d}"


_templates.filters["clock"] = clock


def templates() -> Environment:
    """Return the dashboard's templates (its other pages, ``insight.py``, render with the same filters)."""
    return _templates


def routes(
    settings: Settings, connection: Callable[[], Redis], throttle: LoginThrottle | None = None
) -> list[BaseRoute]:
    """Return the dashboard's routes."""
    logins = throttle or LoginThrottle(connection)

    def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        # Each login session gets its own cookie, and its forms the CSRF token of that session.
        cookie = request.cookies.get(session.COOKIE)
        sid = session.session_id(settings, cookie)
        new_cookie = None
        if sid is None:
            new_cookie = session.new_session(settings)
            sid = session.session_id(settings, new_cookie)
            assert sid is not None
        page = _templates.get_template(name).render(csrf=session.csrf_token(settings, sid), **context)
        response = HTMLResponse(page, status_code)
        if new_cookie is not None:
            response.set_cookie(
                session.COOKIE,
                new_cookie,
                path="/dashboard",
                httponly=True,
                samesite="strict",
                secure=request.url.scheme == "https",
            )
        return response

    async def run(function: Callable[..., Any], *args: Any) -> Any:
        return await run_in_threadpool(function, connection(), *args)

    async def overview(request: Request) -> Response:
        data = await run(service.overview)
        return render(request, "overview.html", data=data, notice=request.query_params.get("done"))

    async def jobs(request: Request) -> Response:
        try:
            data = await run(
                service.list_jobs, request.path_params["queue"], registry_name(request), page_number(request)
            )
        except BadParameter as error:
            return render(request, "message.html", title="Bad request", message=str(error), status_code=400)
        except NotFound as error:
            return render(request, "message.html", title="Not found", message=str(error))
        return render(request, "jobs.html", data=data, notice=request.query_params.get("done"))

    async def failed(request: Request) -> Response:
        destination = request.query_params.get("destination") or None
        page = request.query_params.get("page", "1")
        data = await run(service.failed_page, destination, int(page) if page.isdigit() else 1)
        return render(
            request,
            "failed.html",
            data=data,
            destination=destination,
            notice=request.query_params.get("done"),
        )

    async def event(request: Request) -> Response:
        try:
            data = await run(service.event, request.path_params["event_id"])
        except NotFound as error:
            return render(request, "message.html", title="Not found", message=str(error))
        return render(request, "event.html", data=data, notice=request.query_params.get("done"))

    async def again(request: Request) -> Response:
        # The confirmation before an override: what would be made again, and a form that asks to be sure.
        try:
            data = await run(preview.plan_recorded, request.path_params["event_id"], settings)
        except BridgeError as error:  # unknown event, or a rules file that no longer loads
            return render(request, "message.html", title="Not found", message=str(error))
        return render(request, "again.html", data=data)

    async def search(request: Request) -> Response:
        query = request.query_params.get("q", "")
        data = await run(service.search, query)
        return render(request, "search.html", data=data, query=query, resync_source=_resync_source(query))

    async def runs_page(request: Request) -> Response:
        data = await run(ops_runs.recent)
        return render(request, "runs.html", data=data, notice=request.query_params.get("done"))

    async def action(request: Request) -> Response:
        form = await request.form()
        sid = session.session_id(settings, request.cookies.get(session.COOKIE))
        if not session.csrf_ok(settings, sid, str(form.get("csrf", ""))):
            return render(
                request,
                "message.html",
                title="Refused",
                message="The form's CSRF token is missing, wrong or of an ended session: reload the page.",
                status_code=403,
            )
        name = request.path_params["action"]
        if name == "replay-again" and form.get("confirm") != "again":
            return render(
                request,
                "message.html",
                title="Not confirmed",
                message="Making calls again needs its confirmation: tick the box on the event's page first.",
                status_code=400,
            )
        back = str(form.get("back") or "/dashboard")
        if not back.startswith("/dashboard"):
            back = "/dashboard"
        try:
            with acting(from_request(request, "dashboard")):  # the audit log's "who"
                done = await _act(run, name, form)
        except NotFound as error:
            return render(request, "message.html", title="Not found", message=str(error))
        except BadParameter as error:
            return render(request, "message.html", title="Bad request", message=str(error), status_code=400)
        separator = "&" if "?" in back else "?"
        return RedirectResponse(f"{back}{separator}{urlencode({'done': done})}", status_code=303)

    static = StaticFiles(directory=Path(__file__).with_name("static"))

    def page(endpoint: Callable[[Request], Any]) -> Any:
        return guarded(settings, endpoint, json_errors=False, throttle=logins)

    return [
        Route("/dashboard", page(overview)),
        Route("/dashboard/queues/{queue}", page(jobs)),
        Route("/dashboard/failed", page(failed)),
        Route("/dashboard/events/{event_id}", page(event)),
        Route("/dashboard/events/{event_id}/again", page(again)),
        Route("/dashboard/search", page(search)),
        Route("/dashboard/runs", page(runs_page)),
        Route("/dashboard/actions/{action}", page(action), methods=["POST"]),
        Mount("/dashboard/static", app=static, name="dashboard-static"),
    ]


async def _act(run: Callable[..., Any], name: str, form: Any) -> str:
    if name == "requeue":
        result = await run(service.requeue_failed, str(form.get("job_id", "")))
        return f"Requeued job {result['requeued']} on {result['queue']}."
    if name == "requeue-all":
        destination = str(form.get("destination") or "") or None
        result = await run(service.requeue_all_failed, destination)
        return f"Requeued {result['requeued']} failed job(s){' of ' + destination if destination else ''}."
    if name == "delete":
        result = await run(service.delete_job, str(form.get("job_id", "")))
        return f"Deleted job {result['deleted']}."
    if name == "replay":
        result = await run(service.replay, str(form.get("event_id", "")))
        return f"Event {result['replayed']} replayed as job {result['job_id']}. {result['note']}"
    if name == "replay-again":
        result = await run(service.replay, str(form.get("event_id", "")), True)
        return f"The calls of event {result['replayed']} are made again as job {result['job_id']}. {result['note']}"
    if name == "resync":
        result = await run(ops_runs.request_resync, str(form.get("source", "")), str(form.get("id", "")))
        return f"Resync of {result['subject']} queued as run {result['run_id']} (see Runs)."
    if name in ("pause", "resume"):
        await run(service.set_paused, name == "pause")
        return (
            "Workers paused: jobs in hand finish, no new job starts."
            if name == "pause"
            else "Workers resumed."
        )
    raise NotFound(f"no action {name!r}")


def _resync_source(query: str) -> str | None:
    """The source a search term names one subject of: a ticket id (digits) or an issue key."""
    term = query.strip()
    if term.isascii() and term.isdigit() and len(term) < 20:
        return "zendesk"
    if JIRA_KEY.fullmatch(term.upper()):
        return "jira"
    return None
