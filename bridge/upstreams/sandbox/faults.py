"""Faults a test injects into the emulated APIs: an error status, a delay, a dropped connection.

A fault matches calls by API, optionally by method and by a regular expression searched in the path
below the API's prefix; the first matching fault (in the order they were added) applies, ``times``
times or until cleared.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

from bridge.upstreams import DESTINATIONS

APIS = DESTINATIONS
"""The emulated APIs, as faults and the call log name them (the upstreams' names)."""

_FIELDS = {"api", "method", "path", "status", "retry_after", "delay_s", "times", "body", "drop", "drop_after"}


class FaultError(ValueError):
    """A fault description that cannot be used; the message says why."""


@dataclass
class Fault:
    """One injected fault and how many more calls it applies to (None: until cleared)."""

    id: str
    api: str
    method: str | None = None
    path: re.Pattern[str] | None = None
    status: int | None = None
    retry_after: str | None = None
    delay_s: float = 0.0
    times: int | None = None
    body: Any = None
    drop: bool = False
    # The call takes effect, then the connection drops before the answer: a lost answer.
    drop_after: bool = False

    def matches(self, api: str, method: str, path: str) -> bool:
        return (
            api == self.api
            and (self.method is None or method == self.method)
            and (self.path is None or self.path.search(path) is not None)
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "api": self.api,
            "method": self.method,
            "path": self.path.pattern if self.path is not None else None,
            "status": self.status,
            "retry_after": self.retry_after,
            "delay_s": self.delay_s,
            "times": self.times,
            "body": self.body,
            "drop": self.drop,
            "drop_after": self.drop_after,
        }


def _retry_after(value: Any) -> str | None:
    """Return the ``Retry-After`` header value for seconds or an HTTP date."""
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return f"{value:g}"
    if isinstance(value, str):
        try:
            parsedate_to_datetime(value)
        except (TypeError, ValueError):
            raise FaultError(f"retry_after {value!r} is neither seconds nor an HTTP date") from None
        return value
    raise FaultError("retry_after must be seconds (a number ≥ 0) or an HTTP date")


def parse_fault(data: Any, fault_id: str) -> Fault:
    """Return the fault ``data`` describes, or raise ``FaultError`` naming what is wrong."""
    if not isinstance(data, dict):
        raise FaultError("a fault must be a JSON object")
    unknown = sorted(set(data) - _FIELDS)
    if unknown:
        raise FaultError(f"unknown fault fields: {', '.join(unknown)}")
    if data.get("api") not in APIS:
        raise FaultError(f"api must be one of {', '.join(APIS)}")
    status = data.get("status")
    if status is not None and (
        not isinstance(status, int) or isinstance(status, bool) or not 200 <= status <= 599
    ):
        raise FaultError("status must be an HTTP status between 200 and 599")
    delay = data.get("delay_s") or 0
    if not isinstance(delay, int | float) or isinstance(delay, bool) or delay < 0:
        raise FaultError("delay_s must be a number of seconds ≥ 0")
    times = data.get("times")
    if times is not None and (not isinstance(times, int) or isinstance(times, bool) or times < 1):
        raise FaultError("times must be a whole number ≥ 1, or null for until cleared")
    drop = data.get("drop", False)
    drop_after = data.get("drop_after", False)
    if not isinstance(drop, bool) or not isinstance(drop_after, bool):
        raise FaultError("drop and drop_after must be true or false")
    if drop_after and (drop or status is not None):
        raise FaultError("drop_after lets the call take effect: it goes with neither drop nor status")
    if status is None and not drop and not drop_after and not delay:
        raise FaultError("a fault needs status, drop, drop_after or delay_s")
    if (data.get("retry_after") is not None or data.get("body") is not None) and status is None:
        raise FaultError("retry_after and body need a status")
    try:
        path = re.compile(data["path"]) if data.get("path") else None
    except (re.error, TypeError) as exc:
        raise FaultError(f"path is not a regular expression: {exc}") from None
    method = data.get("method")
    if method is not None and not isinstance(method, str):
        raise FaultError("method must be a string")
    return Fault(
        id=fault_id,
        api=data["api"],
        method=method.upper() if method else None,
        path=path,
        status=status,
        retry_after=_retry_after(data.get("retry_after")),
        delay_s=float(delay),
        times=times,
        body=data.get("body"),
        drop=drop,
        drop_after=drop_after,
    )


class FaultTable:
    """The active faults."""

    def __init__(self) -> None:
        self.faults: list[Fault] = []
        self._ids = itertools.count(1)

    def add(self, data: Any) -> Fault:
        fault = parse_fault(data, f"fault-{next(self._ids)}")
        self.faults.append(fault)
        return fault

    def remove(self, fault_id: str) -> bool:
        before = len(self.faults)
        self.faults = [fault for fault in self.faults if fault.id != fault_id]
        return len(self.faults) < before

    def clear(self) -> None:
        self.faults = []

    def take(self, api: str, method: str, path: str) -> Fault | None:
        """Return the fault for this call, counting it against its ``times``."""
        for fault in self.faults:
            if fault.matches(api, method, path):
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times == 0:
                        self.faults.remove(fault)
                return fault
        return None
