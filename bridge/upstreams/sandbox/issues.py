"""The issues a sandboxed Jira site knows: seeded ones, and (by default) any well-formed key on first sight.

Issues change as on a real site: fields are edited (``updated`` moves forward), an issue moved to another
project keeps its id and gets a new key while its old key still finds it, and a deleted issue is gone
for good, its key never given again (https://support.atlassian.com/jira-software-cloud/docs/move-an-issue/).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
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


def jira_time(ms: int) -> str:
    """Format epoch milliseconds as Jira does in ``fields.updated`` (``2026-11-30T04:38:12.345+0000``)."""
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}+0000"


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

        # Called with the issue's id when an issue is deleted (the Jira emulation drops its remote links).
        self.on_delete: list[Callable[[str], None]] = []

    def reset(self) -> None:
        self.by_id: dict[str, Issue] = {}
        self.by_key: dict[str, Issue] = {}
        # Keys an issue had before a move, and keys of deleted issues (never given to a new issue).
        self.aliases: dict[str, str] = {}
        self.retired: set[str] = set()
        self.next_id = FIRST_ISSUE_ID
        self._clock = 0

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
        issue.fields["updated"] = jira_time(self._tick())
        self.by_id[issue.id] = issue
        self.by_key[key] = issue
        self.retired.discard(key)
        return issue

    def update(self, id_or_key: str, fields: dict[str, Any] | None = None, key: str | None = None) -> Issue:
        """Edit an issue's fields and, with ``key``, move it (same id, new key); raise KeyError/ValueError."""
        issue = self.find(id_or_key, create=False)
        if issue is None:
            raise KeyError(f"no issue {id_or_key}")
        if key is not None and key.upper() != issue.key:
            new_key = key.upper()
            if not ISSUE_KEY.match(new_key):
                raise ValueError(f"{new_key!r} is not an issue key like ABC-123")
            if new_key in self.by_key or new_key in self.retired or new_key in self.aliases:
                raise ValueError(f"{new_key} is taken")
            del self.by_key[issue.key]
            self.aliases[issue.key] = issue.id
            issue.key = new_key
            self.by_key[new_key] = issue
            issue.fields["project"] = {"key": new_key.split("-", 1)[0]}
        issue.fields.update(fields or {})
        issue.fields["updated"] = jira_time(self._tick())
        return issue

    def delete(self, id_or_key: str) -> Issue:
        """Delete an issue for good; raise KeyError when there is none."""
        issue = self.find(id_or_key, create=False)
        if issue is None:
            raise KeyError(f"no issue {id_or_key}")
        del self.by_id[issue.id]
        del self.by_key[issue.key]
        self.retired.add(issue.key)
        for old, issue_id in list(self.aliases.items()):
            if issue_id == issue.id:
                del self.aliases[old]
                self.retired.add(old)
        for listener in self.on_delete:
            listener(issue.id)
        return issue

    def _tick(self) -> int:
        # Strictly increasing milliseconds, so that two edits in one millisecond still order.
        self._clock = max(self._clock + 1, int(time.time() * 1000))
        return self._clock

    def find(self, id_or_key: str, create: bool = True) -> Issue | None:
        """Return the issue with this id or key (keys compare without case; a moved issue's old key finds
        it), creating it on first sight when automatic (never under a key a deleted issue had)."""
        if id_or_key.isdigit():
            return self.by_id.get(id_or_key)
        key = id_or_key.upper()
        issue = self.by_key.get(key)
        if issue is None and key in self.aliases:
            issue = self.by_id.get(self.aliases[key])
        if issue is None and create and self.auto and ISSUE_KEY.match(key) and key not in self.retired:
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
