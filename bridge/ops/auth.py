"""Who may use the dashboard and the ops API: HTTP Basic against BRIDGE_DASHBOARD_USER/PASSWORD.

Unset credentials disable both (404, as if they did not exist). Checks are constant-time, and failed
logins are throttled per client address and per user name across all processes (``bridge.ops.throttle``:
429 with ``Retry-After``). Pages get security headers (a CSP without inline script, no framing, no
sniffing); forms carry a CSRF token of the login session (``bridge.ops.session``). State-changing ops
API calls must be non-simple requests (a JSON content type or an ``X-Requested-With`` header), which no
cross-site form can send, and are refused when their ``Origin`` names another site.
"""

from __future__ import annotations

import base64
import hmac
from collections.abc import Awaitable, Callable

from redis.exceptions import RedisError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from bridge.ops.throttle import LoginThrottle
from bridge.settings import Settings

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # same-origin, not no-referrer: with no-referrer browsers send "Origin: null" on our own form posts.
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

Endpoint = Callable[[Request], Awaitable[Response]]


def enabled(settings: Settings) -> bool:
    """Tell whether the dashboard and the ops API are on (both credentials set)."""
    return bool(settings.dashboard_user and settings.dashboard_password)


def credentials(header: str | None) -> tuple[str, str] | None:
    """Return the user name and password of an ``Authorization: Basic …`` header, or None."""
    if not header:
        return None
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, _, password = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    return user, password


def authorized(settings: Settings, header: str | None) -> bool:
    """Check an ``Authorization: Basic …`` header in constant time."""
    given = credentials(header) if enabled(settings) else None
    if given is None:
        return False
    assert settings.dashboard_user is not None
    assert settings.dashboard_password is not None
    user, password = given
    good_user = hmac.compare_digest(user.encode(), settings.dashboard_user.encode())
    good_password = hmac.compare_digest(password.encode(), settings.dashboard_password.reveal().encode())
    return good_user and good_password


def same_origin(request: Request) -> bool:
    """Tell whether a request has no ``Origin`` or one naming this very host."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    return origin.split("://", 1)[-1].rstrip("/") == request.headers.get("host", "")


def non_simple(request: Request) -> bool:
    """Tell whether a request is one no cross-site form can send: a JSON body type or a custom header."""
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    return (
        media_type == "application/json"
        or media_type.endswith("+json")
        or "x-requested-with" in request.headers
    )


def guarded(settings: Settings, endpoint: Endpoint, json_errors: bool, throttle: LoginThrottle) -> Endpoint:
    """Wrap ``endpoint``: 404 when disabled, 401 with a Basic challenge without login, 429 while
    throttled, and (for the ops API) 403 for state-changing calls that a cross-site form could send."""

    def error(status: int, message: str) -> Response:
        return JSONResponse({"error": message}, status) if json_errors else PlainTextResponse(message, status)

    async def guard(request: Request) -> Response:
        if not enabled(settings):
            response = error(404, "not found" if json_errors else "Not Found")
        else:
            refused = await _login(settings, request, throttle, error)
            response = refused or _cross_site(request, json_errors) or await endpoint(request)
        response.headers.update(SECURITY_HEADERS)
        return response

    return guard


async def _login(
    settings: Settings, request: Request, throttle: LoginThrottle, error: Callable[[int, str], Response]
) -> Response | None:
    """Return the answer to a request without a good login, or None for a good one."""
    header = request.headers.get("authorization")
    given = credentials(header)
    if header is not None:
        address = request.client.host if request.client else "unknown"
        user = given[0] if given else ""
        try:
            wait = await run_in_threadpool(throttle.retry_after, address, user)
            if wait is None and authorized(settings, header):
                return None
            if wait is None:
                await run_in_threadpool(throttle.failed, address, user)
        except (RedisError, OSError):
            # Without the counts, logins cannot be throttled: none is let in until Redis answers.
            response = error(503, "login unavailable: Redis does not answer")
            response.headers["Retry-After"] = "30"
            return response
        if wait is not None:
            response = error(429, f"too many failed logins, retry in {wait} s")
            response.headers["Retry-After"] = str(wait)
            return response
    response = error(401, "login required")
    response.headers["WWW-Authenticate"] = 'Basic realm="bridge", charset="UTF-8"'
    return response


def _cross_site(request: Request, api: bool) -> Response | None:
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return None
    if not same_origin(request):
        # A browser posting from another site sends its Origin.
        return JSONResponse({"error": "cross-site request refused"}, 403)
    if api and not non_simple(request):
        return JSONResponse(
            {
                "error": "state-changing calls need Content-Type: application/json or an X-Requested-With header"
                " (no cross-site form can send either)"
            },
            403,
        )
    return None
