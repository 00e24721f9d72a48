"""Request quotas the sandbox enforces per API, as the real upstreams do: over it, 429 with Retry-After.

Jira Cloud limits requests per second per endpoint ("burst") and Zendesk per minute by plan; both answer
429 with ``Retry-After`` in seconds (docs/UPSTREAMS, ../shared/UPSTREAMS.md §3). A quota here is a token
bucket of ``per_second`` tokens a second holding at most ``burst`` (one second's worth by default), which
a test sets through the control API to check that a paced bridge provokes no 429.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from bridge.upstreams.sandbox.faults import APIS


class QuotaError(ValueError):
    """A quota description that cannot be used; the message says why."""


@dataclass
class Quota:
    """A token bucket: ``per_second`` requests a second, bursts of at most ``burst``."""

    api: str
    per_second: float
    burst: float
    tokens: float = 0.0
    at: float = field(default_factory=time.monotonic)
    refused: int = 0

    def take(self, now: float) -> float:
        """Take a token; return 0, or the seconds until one is there (nothing taken)."""
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.per_second)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        self.refused += 1
        return (1 - self.tokens) / self.per_second

    def as_json(self) -> dict[str, Any]:
        return {"api": self.api, "per_second": self.per_second, "burst": self.burst, "refused": self.refused}


class QuotaTable:
    """The quotas in force, by API (thread-safe: the sandbox may serve from a thread)."""

    def __init__(self) -> None:
        self.quotas: dict[str, Quota] = {}
        self._lock = threading.Lock()

    def set(self, spec: Any) -> Quota:
        """Set an API's quota from ``{"api", "per_second", "burst"?}``; raise ``QuotaError`` if malformed."""
        if not isinstance(spec, dict) or spec.get("api") not in APIS:
            raise QuotaError(f"a quota names one of {', '.join(APIS)} as api")
        per_second = spec.get("per_second")
        if isinstance(per_second, bool) or not isinstance(per_second, int | float) or not per_second > 0:
            raise QuotaError("per_second must be a positive number")
        burst = spec.get("burst", max(1.0, float(per_second)))
        if isinstance(burst, bool) or not isinstance(burst, int | float) or not burst >= 1:
            raise QuotaError("burst must be a number of at least 1")
        quota = Quota(spec["api"], float(per_second), float(burst), tokens=float(burst))
        with self._lock:
            self.quotas[quota.api] = quota
        return quota

    def take(self, api: str) -> float:
        """Take a token of ``api``'s quota; return 0 (go) or the seconds to wait (answer 429)."""
        with self._lock:
            quota = self.quotas.get(api)
            return quota.take(time.monotonic()) if quota is not None else 0.0

    def clear(self) -> None:
        with self._lock:
            self.quotas.clear()


def retry_after(wait_s: float) -> str:
    """``Retry-After`` for a wait: whole seconds, rounded up, at least 1 (as Jira and Zendesk send)."""
    return str(max(1, math.ceil(wait_s)))
