"""The dashboard's login sessions: a signed cookie per browser session, and the CSRF token bound to it.

The dashboard logs in with HTTP Basic, which has no session of its own; the first page a browser loads
after logging in gets a cookie naming a new random session (``HttpOnly``, ``SameSite=Strict``, only for
``/dashboard``, gone when the browser closes, refused by the server after ``SESSION_TTL_S``). Forms carry
a CSRF token derived from that session, so the token changes with every login session and one seen once
(in a proxy log, a screenshot) is worthless later. The cookie is signed with a key derived from the
login, so every web process can check it without shared state, and a password change ends every session.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

from bridge.settings import Settings

COOKIE = "bridge_session"
"""Name of the dashboard's session cookie."""

SESSION_TTL_S = 12 * 3600
"""Longest a dashboard session lasts; then the next page starts a new one (with a new CSRF token)."""


def new_session(settings: Settings, now: float | None = None) -> str:
    """Return the cookie value of a new session: random id, start time and their signature."""
    body = f"{secrets.token_urlsafe(24)}.{int(time.time() if now is None else now)}"
    return f"{body}.{_sign(settings, 'session:' + body)}"


def session_id(settings: Settings, cookie: str | None, now: float | None = None) -> str | None:
    """Return the session id of a valid, unexpired cookie value, else None."""
    if not cookie or cookie.count(".") != 2:
        return None
    sid, started, signature = cookie.split(".")
    if not started.isascii() or not started.isdigit():
        return None
    if not hmac.compare_digest(signature.encode(), _sign(settings, f"session:{sid}.{started}").encode()):
        return None
    age = (time.time() if now is None else now) - int(started)
    return sid if 0 <= age <= SESSION_TTL_S else None


def csrf_token(settings: Settings, sid: str) -> str:
    """Return the CSRF token of session ``sid``."""
    return _sign(settings, "csrf:" + sid)


def csrf_ok(settings: Settings, sid: str | None, token: str | None) -> bool:
    """Check a submitted CSRF token against the session's, in constant time."""
    if sid is None or not token:
        return False
    return hmac.compare_digest(token.encode(), csrf_token(settings, sid).encode())


def _sign(settings: Settings, message: str) -> str:
    assert settings.dashboard_user is not None
    assert settings.dashboard_password is not None
    login = f"{settings.dashboard_user}\0{settings.dashboard_password.reveal()}".encode()
    key = hashlib.sha256(b"bridge dashboard sessions\0" + login).digest()
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()
