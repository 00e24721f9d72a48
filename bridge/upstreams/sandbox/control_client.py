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

    def reset(self, keep_ids: bool = False) -> None:
        """Forget every record, call and fault (``keep_ids``: issue ids go on from where they were)."""
        self._call("POST", "/reset", params={"keep_ids": "true"} if keep_ids else None)

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
        """Inject a fault; return its id.

        Fields: api, method, path, status, retry_after, delay_s, times, body, drop, drop_after.
        """
        result: dict[str, str] = self._call("POST", "/faults", json=fault)
        return result["id"]

    def remove_fault(self, fault_id: str) -> None:
        """Remove one fault (the upstream is well again)."""
        self._call("DELETE", f"/faults/{fault_id}")

    def faults(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call("GET", "/faults")
        return result

    def clear_faults(self) -> None:
        self._call("DELETE", "/faults")

    def set_quota(self, api: str, per_second: float, burst: float | None = None) -> dict[str, Any]:
        """Limit ``api`` to ``per_second`` requests a second (bursts of ``burst``); over it: 429."""
        body: dict[str, Any] = {"api": api, "per_second": per_second}
        if burst is not None:
            body["burst"] = burst
        result: dict[str, Any] = self._call("POST", "/quotas", json=body)
        return result

    def quotas(self) -> list[dict[str, Any]]:
        """The quotas in force, each with the requests it refused so far."""
        result: list[dict[str, Any]] = self._call("GET", "/quotas")
        return result

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

    def change_issue(
        self, issue: str, fields: dict[str, Any] | None = None, key: str | None = None
    ) -> dict[str, Any]:
        """Edit a Jira issue's fields, or move it (``key``: same id, new key), without a webhook; return it."""
        body: dict[str, Any] = {}
        if fields is not None:
            body["fields"] = fields
        if key is not None:
            body["key"] = key
        result: dict[str, Any] = self._call("PATCH", f"/jira/issues/{issue}", json=body)
        return result

    def delete_issue(self, issue: str) -> None:
        """Delete a Jira issue (its remote links go with it), without a webhook."""
        self._call("DELETE", f"/jira/issues/{issue}")

    def put_ticket(self, ticket_id: int | str, **fields: Any) -> dict[str, Any]:
        """Create or edit a Zendesk ticket (subject, status, priority, jira_keys, custom_fields, updated_at)
        without a webhook; return it."""
        result: dict[str, Any] = self._call("PUT", f"/zendesk/tickets/{ticket_id}", json=fields)
        return result

    def delete_ticket(
        self, ticket_id: int | str, permanent: bool = False, updated_at: str | None = None
    ) -> None:
        """Soft-delete a Zendesk ticket (restorable), or delete it for good."""
        params = {"permanent": "true"} if permanent else {}
        if updated_at is not None:
            params["updated_at"] = updated_at
        self._call("DELETE", f"/zendesk/tickets/{ticket_id}", params=params)

    def restore_ticket(self, ticket_id: int | str, updated_at: str | None = None) -> dict[str, Any]:
        """Restore a soft-deleted Zendesk ticket."""
        params = {"updated_at": updated_at} if updated_at is not None else None
        result: dict[str, Any] = self._call("POST", f"/zendesk/tickets/{ticket_id}/restore", params=params)
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
