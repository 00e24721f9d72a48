"""Checking a Connect JWT the way Jira does for an app's call.

https://developer.atlassian.com/cloud/jira/software/understanding-jwt, https://developer.atlassian.com/cloud/bitbucket/query-string-hash

HS256 signed with the shared secret, ``iss`` = the app key, ``iat``/``exp``, and ``qsh`` = SHA-256 of the
canonical request ``METHOD&path&query`` with the path relative to the product's base URL. This is the
server's side, written from Atlassian's rules and not imported from the bridge's client on purpose:
the sandbox is the independent check that the client signs what Jira would verify.
"""

from __future__ import annotations

import hashlib
from urllib.parse import parse_qsl, quote

import jwt

CLOCK_SKEW_S = 30
"""Leeway on ``iat``/``exp`` for clocks that disagree a little."""


class JwtRefused(Exception):
    """The request's JWT is missing or does not verify; the message says why."""


def _encode(text: str) -> str:
    # RFC 3986 unreserved characters stay; everything else is %XX (space → %20, * → %2A).
    return quote(text, safe="~")


def canonical_request(method: str, path: str, raw_query: str) -> str:
    """Return ``METHOD&canonical-path&canonical-query`` for a path relative to the base URL."""
    canonical_path = path or "/"
    if not canonical_path.startswith("/"):
        canonical_path = "/" + canonical_path
    if len(canonical_path) > 1:
        canonical_path = canonical_path.rstrip("/")
    canonical_path = canonical_path.replace("&", "%26")
    grouped: dict[str, list[str]] = {}
    for name, value in parse_qsl(raw_query, keep_blank_values=True):
        if name != "jwt":
            grouped.setdefault(_encode(name), []).append(_encode(value))
    query = "&".join(f"{name}={','.join(sorted(grouped[name]))}" for name in sorted(grouped))
    return f"{method.upper()}&{canonical_path}&{query}"


def query_string_hash(method: str, path: str, raw_query: str) -> str:
    """Return the ``qsh`` claim of a request."""
    return hashlib.sha256(canonical_request(method, path, raw_query).encode()).hexdigest()


def token_of(authorization: str | None, raw_query: str) -> str:
    """Return the JWT of ``Authorization: JWT <token>`` (or of a ``jwt`` query parameter)."""
    scheme, _, value = (authorization or "").partition(" ")
    if scheme.upper() == "JWT" and value.strip():
        return value.strip()
    for name, query_value in parse_qsl(raw_query):
        if name == "jwt":
            return query_value
    raise JwtRefused("a Connect JWT is required (Authorization: JWT <token>)")


def verify(token: str, *, app_key: str, shared_secret: str, method: str, path: str, raw_query: str) -> None:
    """Raise ``JwtRefused`` unless ``token`` is a valid Connect JWT for this request."""
    try:
        claims = jwt.decode(
            token,
            shared_secret,
            algorithms=["HS256"],
            issuer=app_key,
            leeway=CLOCK_SKEW_S,
            options={"require": ["iss", "iat", "exp", "qsh"]},
        )
    except jwt.InvalidTokenError as exc:
        raise JwtRefused(f"JWT refused: {exc}") from None
    expected = query_string_hash(method, path, raw_query)
    if claims["qsh"] != expected:
        raise JwtRefused(
            f"JWT refused: qsh does not match the request (canonical request "
            f"{canonical_request(method, path, raw_query)!r})"
        )
