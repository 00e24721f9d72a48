"""The log of calls the emulated APIs received, for tests to assert on (``GET /_sandbox/calls``).

Recording is one tuple appended to a bounded deque: the sandbox is also a benchmark's upstream, so
the log neither grows without end nor costs a dict per call.
"""

from __future__ import annotations

from collections import deque
from typing import Any

CALL_LOG_MAX = 200_000
"""Calls kept; the oldest are forgotten first."""

_NAMES = ("api", "method", "path", "query", "status", "idempotency_key", "at")


class CallLog:
    """Calls in arrival order: (api, method, path below the prefix, query, status, idempotency key, at)."""

    def __init__(self, maxlen: int = CALL_LOG_MAX) -> None:
        self.entries: deque[tuple[str, str, str, str, int | None, str | None, float]] = deque(maxlen=maxlen)

    def record(
        self,
        api: str,
        method: str,
        path: str,
        query: str,
        status: int | None,
        idempotency_key: str | None,
        at: float,
    ) -> None:
        self.entries.append((api, method, path, query, status, idempotency_key, at))

    def as_json(self, api: str | None = None) -> list[dict[str, Any]]:
        """The calls (of ``api`` only, when given) as dicts; ``status`` is None for a dropped call."""
        return [
            dict(zip(_NAMES, entry, strict=True)) for entry in self.entries if api is None or entry[0] == api
        ]

    def clear(self) -> None:
        self.entries.clear()
