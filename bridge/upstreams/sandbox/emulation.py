"""What every emulated API shares: its routes behind its own authentication, and its own error shape.

A handler raises ``ApiProblem`` for any refusal; the API renders it in the shape the real one uses
(Jira's ErrorCollection, Zendesk's ``{"error", "description"}``…), so clients meet the bodies they
will meet in production.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import orjson
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from bridge.sources.signing import same
from bridge.upstreams.sandbox.config import SandboxConfig
from bridge.upstreams.sandbox.issues import IssueDirectory

Handler = Callable[[Request], Awaitable[Response]]


class ApiProblem(Exception):
    """A request the emulated API refuses with ``status``; ``details`` go into the error body."""

    def __init__(self, status: int, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details or {}


def json_response(content: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """Answer ``content`` as JSON (orjson: the sandbox is a benchmark's upstream too)."""
    return Response(orjson.dumps(content), status, headers, media_type="application/json")


def api_base(request: Request, prefix: str) -> str:
    """The emulated API's base URL as the client reached it (for ``self`` and ``url`` fields)."""
    return str(request.base_url).rstrip("/") + prefix


def no_content(status: int = 204) -> Response:
    """Answer with an empty body."""
    return Response(b"", status)


async def json_body(request: Request) -> Any:
    """Return the parsed JSON body; raise 415 unless it is declared JSON, 400 when it does not parse."""
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        raise ApiProblem(415, f"Content-Type must be application/json, got {media_type or 'none'!r}")
    raw = await request.body()
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ApiProblem(400, f"body is not valid JSON: {exc.msg}") from None


def basic_credentials(request: Request) -> tuple[str, str] | None:
    """Return (user, password) of a Basic ``Authorization`` header, or None."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, sep, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, password) if sep else None


def bearer_token(request: Request) -> str | None:
    """Return the token of a Bearer ``Authorization`` header, or None."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


def check_basic(request: Request, user: str, password: str) -> str | None:
    """Return why Basic credentials are refused, or None when they are right."""
    found = basic_credentials(request)
    if found is None:
        return "Basic authentication is required"
    if not (same(found[0], user) and same(found[1], password)):
        return "the email or API token is wrong"
    return None


class EmulatedApi:
    """One emulated upstream: its name (the ``api`` of faults and the call log), routes and state."""

    name = ""
    # Where the API is mounted (APIs of one site share a mount) and the paths below it that are its own:
    # the gateway names a call's API by the longest match.
    prefix = ""
    paths = "/"
    # Sent with a 401, as the real API does for its scheme.
    challenge: str | None = None

    def __init__(self, config: SandboxConfig, issues: IssueDirectory) -> None:
        """Every emulation is built alike: the sandbox's configuration and the Jira site's issues."""
        self.config = config
        self.issues = issues
        self.reset()

    def authenticate(self, request: Request) -> str | None:
        """Return why the request's credentials are refused, or None."""
        raise NotImplementedError

    def error(self, status: int, message: str, details: dict[str, Any]) -> Response:
        """Render a refusal in this API's error shape."""
        raise NotImplementedError

    def routes(self) -> Sequence[Route]:
        """The API's routes, relative to its prefix."""
        raise NotImplementedError

    def reset(self) -> None:
        """Forget every record."""
        raise NotImplementedError

    def control_routes(self) -> Sequence[Route]:
        """Routes of the control API that seed this API's records (relative to ``/_sandbox``)."""
        return []

    def snapshot(self) -> dict[str, Any]:
        """The state as JSON-safe data (``GET /_sandbox/state``)."""
        raise NotImplementedError

    def route(self, path: str, handler: Handler, methods: list[str]) -> Route:
        """A route whose handler runs only for authenticated requests, with problems rendered."""

        async def endpoint(request: Request) -> Response:
            problem = self.authenticate(request)
            if problem is not None:
                headers = {"www-authenticate": self.challenge} if self.challenge else {}
                response = self.error(401, problem, {})
                response.headers.update(headers)
                return response
            try:
                return await handler(request)
            except ApiProblem as refused:
                return self.error(refused.status, refused.message, refused.details)
            except ClientDisconnect:
                # The client went away mid-request (a killed worker): there is no one to answer.
                return self.error(400, "the client disconnected before its request was complete", {})

        return Route(path, endpoint, methods=methods)
