"""``SandboxControl``: the control API from Python (tests and benches)."""

from __future__ import annotations

from types import TracebackType
from typing import Any

import httpx

from bridge.upstreams.sandbox.config import CONTROL_PREFIX


class SandboxControl:
    """A sync client of a running sandbox's ``/_sandbox`` API; raises ``httpx.HTTPStatusError`` on refusal."""

    def __init__(self, base_url: str, timeout_s: float = 10.0) -> None:
        self.http = httpx.Client(base_url=base_url.rstrip("/") + CONTROL_PREFIX, timeout=timeout_s)

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.http.request(method, path, **kwargs)
        response.raise_for_status()
        return response.json() if response.content else None

    def reset(self) -> None:
        """Forget every record, call and fault."""
        self._call("POST", "/reset")

    def state(self) -> dict[str, Any]:
        """Every API's state."""
        result: dict[str, Any] = self._call("GET", "/state")
        return result

    def calls(self, api: str | None = None) -> list[dict[str, Any]]:
        """The calls received (of ``api`` only, when given), oldest first."""
        result: list[dict[str, Any]] = self._call("GET", "/calls", params={"api": api} if api else None)
        return result

    def clear_calls(self) -> None:
        self._call("DELETE", "/calls")

    def add_fault(self, **fault: Any) -> str:
        """Inject a fault (api, method, path, status, retry_after, delay_s, times, body, drop); return its id."""
        result: dict[str, str] = self._call("POST", "/faults", json=fault)
        return result["id"]

    def faults(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call("GET", "/faults")
        return result

    def clear_faults(self) -> None:
        self._call("DELETE", "/faults")

    def seed_issue(
        self, key: str, id: str | None = None, fields: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Create or redefine a Jira issue; return it."""
        body: dict[str, Any] = {"key": key}
        if id is not None:
            body["id"] = id
        if fields is not None:
            body["fields"] = fields
        result: dict[str, Any] = self._call("POST", "/jira/issues", json=body)
        return result

    def seed_integration(
        self, integration_id: str, actions: list[dict[str, Any]] | None = None
    ) -> list[dict[str, Any]]:
        """Create (or empty) a JSM integration holding ``actions``; return the stored actions."""
        result: dict[str, Any] = self._call(
            "POST", "/jsm/integrations", json={"id": integration_id, "actions": actions or []}
        )
        return list(result["actions"])

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> SandboxControl:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
