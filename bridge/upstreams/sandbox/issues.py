"""The issues a sandboxed Jira site knows: seeded ones, and (by default) any well-formed key on first sight."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

ISSUE_KEY = re.compile(r"^([A-Z][A-Z0-9_]*)-([1-9][0-9]*)$")
"""A Jira issue key: project key, dash, number."""

FIRST_ISSUE_ID = 10000
"""Id of the first issue the sandbox sees (Jira Cloud ids start there too)."""


@dataclass
class Issue:
    """An issue: immutable id, current key, and its fields."""

    id: str
    key: str
    fields: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "key": self.key, "fields": self.fields}


def default_fields(key: str) -> dict[str, Any]:
    """The fields an issue has unless seeded with others."""
    project = key.split("-", 1)[0]
    return {
        "summary": f"Sandbox issue {key}",
        "status": {"name": "To Do", "statusCategory": {"key": "new"}},
        "issuetype": {"name": "Task"},
        "project": {"key": project},
    }


class IssueDirectory:
    """Issues by id and by key."""

    def __init__(self, auto: bool) -> None:
        self.auto = auto
        self.reset()

    def reset(self) -> None:
        self.by_id: dict[str, Issue] = {}
        self.by_key: dict[str, Issue] = {}
        self.next_id = FIRST_ISSUE_ID

    def seed(self, key: str, issue_id: str | None = None, fields: dict[str, Any] | None = None) -> Issue:
        """Create (or redefine) the issue ``key``; raise ValueError for a bad key or a taken id."""
        key = key.upper()
        if not ISSUE_KEY.match(key):
            raise ValueError(f"{key!r} is not an issue key like ABC-123")
        if issue_id is not None:
            if not issue_id.isdigit():
                raise ValueError(f"issue id {issue_id!r} must be digits")
            taken = self.by_id.get(issue_id)
            if taken is not None and taken.key != key:
                raise ValueError(f"issue id {issue_id} is already {taken.key}")
        old = self.by_key.pop(key, None)
        if old is not None:
            del self.by_id[old.id]
            issue_id = issue_id or old.id
        if issue_id is None:
            issue_id = self._new_id()
        self.next_id = max(self.next_id, int(issue_id) + 1)
        issue = Issue(issue_id, key, {**default_fields(key), **(fields or {})})
        self.by_id[issue.id] = issue
        self.by_key[key] = issue
        return issue

    def find(self, id_or_key: str) -> Issue | None:
        """Return the issue with this id or key (keys compare without case), creating it when automatic."""
        if id_or_key.isdigit():
            return self.by_id.get(id_or_key)
        key = id_or_key.upper()
        issue = self.by_key.get(key)
        if issue is None and self.auto and ISSUE_KEY.match(key):
            issue = self.seed(key)
        return issue

    def key_of(self, issue_id: str) -> str:
        """Return the key of issue ``issue_id`` (the id itself when it is no longer known)."""
        issue = self.by_id.get(issue_id)
        return issue.key if issue is not None else issue_id

    def _new_id(self) -> str:
        while str(self.next_id) in self.by_id:
            self.next_id += 1
        return str(self.next_id)

    def snapshot(self) -> list[dict[str, Any]]:
        return [issue.as_json() for issue in self.by_id.values()]
