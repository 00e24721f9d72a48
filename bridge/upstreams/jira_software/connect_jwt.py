"""Atlassian Connect JWTs for the app's calls to Jira.

https://developer.atlassian.com/cloud/jira/software/understanding-jwt, https://developer.atlassian.com/cloud/bitbucket/query-string-hash

HS256 with the shared secret from the app's ``installed`` callback; ``iss`` is the app key; ``qsh`` is the
SHA-256 of the canonical request ``METHOD&path&query``, where the path is relative to the product's base
URL (Atlassian strips the context path) and the query is percent-encoded, sorted, with repeated names
joined by commas and ``jwt`` left out.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Generator, Iterable
from urllib.parse import quote, unquote

import httpx
import jwt

TOKEN_LIFETIME_S = 180
"""Lifetime of a token (Atlassian's samples use three minutes)."""


def _percent(text: str) -> str:
    # Only RFC 3986 unreserved characters stay as they are: space is %20, '*' is %2A, '~' is kept.
    return quote(text, safe="~")


def canonical_request(method: str, path: str, query: Iterable[tuple[str, str]]) -> str:
    """Return the canonical request of ``method`` on ``path`` (relative to the base URL) with ``query``."""
    canonical_path = "/" + path.strip("/") if path.strip("/") else "/"
    values: dict[str, list[str]] = {}
    for name, value in query:
        if name != "jwt":
            values.setdefault(_percent(name), []).append(_percent(value))
    canonical_query = "&".join(f"{name}={','.join(sorted(values[name]))}" for name in sorted(values))
    return f"{method.upper()}&{canonical_path.replace('&', '%26')}&{canonical_query}"


def query_string_hash(method: str, path: str, query: Iterable[tuple[str, str]]) -> str:
    """Return the ``qsh`` claim: lower-case hex SHA-256 of the canonical request."""
    return hashlib.sha256(canonical_request(method, path, query).encode("utf-8")).hexdigest()


def encode(
    app_key: str,
    shared_secret: str,
    method: str,
    path: str,
    query: Iterable[tuple[str, str]] = (),
    now: float | None = None,
) -> str:
    """Return a signed token for one request."""
    issued = int(time.time() if now is None else now)
    claims = {
        "iss": app_key,
        "iat": issued,
        "exp": issued + TOKEN_LIFETIME_S,
        "qsh": query_string_hash(method, path, query),
    }
    return jwt.encode(claims, shared_secret, algorithm="HS256")


class ConnectJwtAuth(httpx.Auth):
    """Signs each request with a fresh token for exactly that request (``Authorization: JWT …``)."""

    def __init__(self, app_key: str, shared_secret: str, base_path: str) -> None:
        self._app_key = app_key
        self._shared_secret = shared_secret
        self._base_path = base_path.rstrip("/")

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        path = unquote(request.url.path)
        if self._base_path and path.startswith(self._base_path):
            path = path[len(self._base_path) :]
        query = [(name, value) for name, value in request.url.params.multi_items()]
        token = encode(self._app_key, self._shared_secret, request.method, path, query)
        request.headers["Authorization"] = f"JWT {token}"
        yield request
