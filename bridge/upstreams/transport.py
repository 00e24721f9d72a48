"""What every upstream client shares: one pooled ``httpx.Client``, timeouts, headers and error mapping.

Answers map to the error tree of ``bridge.errors`` by status alone (``error_for_status``, a pure function,
as gidgethub's ``sansio`` does): 429 is ``RateLimited`` and 503 ``UpstreamUnavailable``, each with its
parsed ``Retry-After``; other retryable statuses ``RetryableUpstreamError``; 404 ``UpstreamNotFound``; the
rest ``PermanentUpstreamError``. No answer at all is ``UpstreamUnreachable``.

Each API client owns one ``ApiTransport`` for the life of the worker process, so connections are reused
across calls. Only paths relative to the configured base URL are requested: a base URL's own path prefix
(``http://127.0.0.1:9000/jira``) is kept, and nothing from a payload ever becomes a URL.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

import httpx
import orjson

from bridge import __version__, tracing
from bridge.errors import (
    PermanentUpstreamError,
    RateLimited,
    RetryableUpstreamError,
    UpstreamError,
    UpstreamInvalid,
    UpstreamNotFound,
    UpstreamUnavailable,
    UpstreamUnreachable,
)

USER_AGENT = f"jira-zendesk-bridge/{__version__}"
"""Sent with every call, so upstream admins can tell the bridge's traffic apart."""

DEFAULT_TIMEOUT = httpx.Timeout(connect=3.0, read=10.0, write=10.0, pool=5.0)
"""Every phase of a call is bounded; a worker never waits on an upstream for long."""

RETRYABLE_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
"""Statuses a later attempt may cure (every other 5xx is retryable too; see ``is_retryable_status``)."""

QueryParams = Mapping[str, str | int | float | bool | None]


class RequestGuard(Protocol):
    """What every request of a transport passes first and reports to after (``bridge.guard``: the
    destination's rate limit, 429 pause and circuit breaker)."""

    def before(self) -> None:
        """Return when the request may go (perhaps after a short sleep); raise ``DestinationHeld`` if not."""

    def after(self, status: int | None, retry_after: float | None = None, what: str = "") -> None:
        """Take note of the answer's ``status`` (None: no answer) and ``Retry-After`` seconds."""


class ApiTransport:
    """Calls of one upstream API, relative to its base URL, mapped to the bridge's error model.

    ``guard``, when set (a worker sets it), is asked before and told after every request.
    """

    guard: RequestGuard | None = None

    def __init__(
        self,
        base_url: str,
        auth: httpx.Auth | tuple[str, str] | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        # A trailing slash makes httpx append relative paths below the base URL's own path prefix.
        self.base_url = base_url.rstrip("/") + "/"
        self._client = httpx.Client(
            base_url=self.base_url,
            auth=auth,
            headers={"User-Agent": USER_AGENT, "Accept": "application/json", **(headers or {})},
            timeout=timeout,
            transport=transport,
        )

    def request(
        self,
        method: str,
        path: str,
        *,
        params: QueryParams | None = None,
        json: Any = None,
        idempotency_key: str | None = None,
        expected: Iterable[int] = (200, 201, 202, 204),
    ) -> httpx.Response:
        """Send one call; return the answer when its status is ``expected``, else raise ``UpstreamError``."""
        headers: dict[str, str] = {}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        content: bytes | None = None
        if json is not None:
            content = orjson.dumps(json)
            headers["Content-Type"] = "application/json"
        relative = path.lstrip("/")
        guard = self.guard
        if guard is not None:
            guard.before()  # may sleep for a rate-limit slot, or raise DestinationHeld: before the span
        with tracing.span(method, "client", self._span_attributes(method, relative, idempotency_key)) as span:
            try:
                response = self._client.request(
                    method, relative, params=params, content=content, headers=headers
                )
            except httpx.TransportError as exc:
                timeout = isinstance(exc, httpx.TimeoutException)
                if timeout:
                    span.set({"error.type": "timeout"})
                if guard is not None:
                    guard.after(
                        None, what=f"{'timeout' if timeout else 'no answer'} from {method} {relative}"
                    )
                reason = f"timeout: {exc!r}" if timeout else repr(exc)
                raise UpstreamUnreachable(method, self._url(relative), None, reason=reason) from exc
            span.set({"http.response.status_code": response.status_code})
            retry_after = response.headers.get("Retry-After")
            if guard is not None:
                guard.after(
                    response.status_code,
                    parse_retry_after(retry_after) if retry_after else None,
                    f"{response.status_code} from {method} {relative}",
                )
            if response.status_code not in set(expected):
                span.set({"error.type": str(response.status_code)})
                raise error_for_status(
                    method,
                    str(response.request.url),
                    response.status_code,
                    response.text,
                    parse_retry_after(retry_after),
                )
            return response

    def _span_attributes(
        self, method: str, relative: str, idempotency_key: str | None
    ) -> dict[str, str | int | None] | None:
        """An HTTP request's span: semantic conventions' names (https://opentelemetry.io/docs/specs/semconv/
        http/http-spans/#http-client-span); the URL without its query, and no header (credentials)."""
        if not tracing.enabled():
            return None
        url = httpx.URL(self._url(relative))
        return {
            "http.request.method": method,
            "server.address": url.host,
            "server.port": url.port or (443 if url.scheme == "https" else 80),
            "url.scheme": url.scheme,
            "url.full": str(url.copy_with(userinfo=b"", query=None, fragment=None)),
            "bridge.idempotency_key": idempotency_key,
        }

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        """Send one call and return its JSON answer (a 2xx that is not JSON is a permanent error)."""
        response = self.request(method, path, **kwargs)
        try:
            return response.json()
        except ValueError:
            raise PermanentUpstreamError(
                method, str(response.request.url), response.status_code, response.text, reason="not JSON"
            ) from None

    def close(self) -> None:
        """Close the pooled connections."""
        self._client.close()

    def _url(self, relative: str) -> str:
        return self.base_url + relative


def is_retryable_status(status: int) -> bool:
    """Tell whether an answer with ``status`` is worth another attempt."""
    return status in RETRYABLE_STATUSES or status >= 500


def error_for_status(
    method: str, url: str, status: int, body: str, retry_after: float | None
) -> UpstreamError:
    """Return the error an answer with ``status`` stands for."""
    if status == 429:
        return RateLimited(method, url, status, body, retry_after)
    if status == 503:
        return UpstreamUnavailable(method, url, status, body, retry_after)
    if status == 404:
        return UpstreamNotFound(method, url, status, body, retry_after)
    if status == 422:
        return UpstreamInvalid(method, url, status, body, retry_after)
    if is_retryable_status(status):
        return RetryableUpstreamError(method, url, status, body, retry_after)
    return PermanentUpstreamError(method, url, status, body, retry_after)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Return the seconds a ``Retry-After`` header asks to wait: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - (time.time() if now is None else now))
