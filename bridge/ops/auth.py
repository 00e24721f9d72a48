"""Who may use the dashboard and the ops API: HTTP Basic against BRIDGE_DASHBOARD_USER/PASSWORD.

Unset credentials disable both (404, as if they did not exist). Checks are constant-time. Pages get
security headers (a CSP without inline script, no framing, no sniffing); forms carry a CSRF token
derived from the password, so that another site cannot make a logged-in browser POST an action.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

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


def authorized(settings: Settings, header: str | None) -> bool:
    """Check an ``Authorization: Basic …`` header in constant time."""
    if not enabled(settings) or not header:
        return False
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        user, _, password = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return False
    assert settings.dashboard_user is not None
    assert settings.dashboard_password is not None
    good_user = hmac.compare_digest(user.encode(), settings.dashboard_user.encode())
    good_password = hmac.compare_digest(password.encode(), settings.dashboard_password.reveal().encode())
    return good_user and good_password


def csrf_token(settings: Settings) -> str:
    """Return the token forms carry: an HMAC only someone knowing the password can compute."""
    assert settings.dashboard_password is not None
    key = settings.dashboard_password.reveal().encode()
    return hmac.new(key, f"csrf:{settings.dashboard_user}".encode(), hashlib.sha256).hexdigest()


def csrf_ok(settings: Settings, token: str | None) -> bool:
    """Check a submitted CSRF token in constant time."""
    return bool(token) and hmac.compare_digest(str(token), csrf_token(settings))


def same_origin(request: Request) -> bool:
    """Tell whether a request has no ``Origin`` or one naming this very host."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    return origin.split("://", 1)[-1].rstrip("/") == request.headers.get("host", "")


def guarded(settings: Settings, endpoint: Endpoint, json_errors: bool) -> Endpoint:
    """Wrap ``endpoint``: 404 when disabled, 401 with a Basic challenge without login, headers always."""

    async def guard(request: Request) -> Response:
        if not enabled(settings):
            response: Response = (
                JSONResponse({"error": "not found"}, 404)
                if json_errors
                else PlainTextResponse("Not Found", 404)
            )
        elif not authorized(settings, request.headers.get("authorization")):
            body = {"error": "login required"}
            response = JSONResponse(body, 401) if json_errors else PlainTextResponse("Login required", 401)
            response.headers["WWW-Authenticate"] = 'Basic realm="bridge", charset="UTF-8"'
        elif request.method not in ("GET", "HEAD") and not same_origin(request):
            # A browser posting from another site sends its Origin; scripts and the CLI send none.
            response = JSONResponse({"error": "cross-site request refused"}, 403)
        else:
            response = await endpoint(request)
        response.headers.update(SECURITY_HEADERS)
        return response

    return guard
