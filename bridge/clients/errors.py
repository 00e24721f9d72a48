"""One error model for every upstream call.

BridgeError
├── UpstreamError                the upstream did not do what was asked: method, URL, status, body, Retry-After
│   ├── RetryableUpstreamError   408, 409, 425, 429, 5xx — worth another attempt later
│   │   ├── RateLimited          429
│   │   └── UpstreamUnreachable  no answer at all: timeout, refused or dropped connection (status None)
│   └── PermanentUpstreamError   any other answer (4xx, or a 2xx whose body is not the documented shape)
└── RequestRefused               the client refused to send a request the upstream is documented to reject
"""

from __future__ import annotations

import time
from email.utils import parsedate_to_datetime

from bridge.errors import BridgeError

BODY_LIMIT = 4096
"""Upstream answers are kept up to this many characters (enough for any documented error shape)."""

RETRYABLE_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
"""Statuses a later attempt may cure (every other 5xx is retryable too; see ``is_retryable_status``)."""


class UpstreamError(BridgeError):
    """An upstream call that failed; ``url`` never carries credentials (they travel in headers)."""

    retryable = False

    def __init__(
        self,
        method: str,
        url: str,
        status: int | None,
        body: str = "",
        retry_after: float | None = None,
        reason: str = "",
    ) -> None:
        self.method = method
        self.url = url
        self.status = status
        self.body = body[:BODY_LIMIT]
        self.retry_after = retry_after
        answered = f"answered {status}" if status is not None else f"did not answer ({reason})"
        super().__init__(f"{method} {url} {answered}" + (f": {self.body[:300]}" if self.body else ""))


class RetryableUpstreamError(UpstreamError):
    """Worth retrying later (honouring ``retry_after`` when the upstream sent one)."""

    retryable = True


class RateLimited(RetryableUpstreamError):
    """429: the upstream's rate limit; ``retry_after`` says when to come back, when it says."""


class UpstreamUnreachable(RetryableUpstreamError):
    """No answer: connection refused or dropped, or a timeout in any phase."""


class PermanentUpstreamError(UpstreamError):
    """The upstream refused the request; sending it again would be refused again."""


class RequestRefused(BridgeError):
    """A request the client does not send because the upstream documents that it would reject it."""


def is_retryable_status(status: int) -> bool:
    """Tell whether an answer with ``status`` is worth another attempt."""
    return status in RETRYABLE_STATUSES or status >= 500


def error_for_status(
    method: str, url: str, status: int, body: str, retry_after: float | None
) -> UpstreamError:
    """Return the error an answer with ``status`` stands for."""
    if status == 429:
        return RateLimited(method, url, status, body, retry_after)
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
