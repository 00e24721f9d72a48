"""Reading identifiers out of free-form fields: Jira keys, Zendesk ticket ids, Salesforce ids.

Zendesk renders placeholders as text and Jira custom fields may be a string, a number or a list
(README.md, "Zendesk": the trigger body); every form ends up as a de-duplicated list of strings.
Each id is then checked for its system's form (``bridge.sources.fields``): what does not have it is
dropped, and the reason is kept in the event (``data.dropped_refs``) for operators to see.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from bridge.sources.fields import MAX_ITEMS, is_jira_key, is_numeric_id, is_salesforce_id

JIRA_KEY = re.compile(r"\b([A-Z][A-Z0-9_]{0,254}-[1-9][0-9]{0,17})\b")
"""A Jira issue key: project key (upper case, starts with a letter) and a positive number."""

_SEPARATORS = re.compile(r"[\s,;]+")

Dropped = dict[str, str]
"""A reference left out of an event: ``{"field", "value", "reason"}``."""

_KINDS: dict[str, tuple[Callable[[str], bool], str]] = {
    "jira_issue_keys": (is_jira_key, "not a Jira issue key (PROJECT-123)"),
    "zendesk_ticket_ids": (is_numeric_id, "not a Zendesk ticket id (ASCII digits)"),
    "salesforce_ids": (is_salesforce_id, "not a Salesforce record id (up to 18 letters and digits)"),
}


def jira_keys(value: Any) -> list[str]:
    """Return the Jira issue keys found in a text, list or number field (upper-cased, in order)."""
    return _unique(key for text in _texts(value) for key in JIRA_KEY.findall(text.upper()))


def ids(value: Any) -> list[str]:
    """Return the ids in a field holding one or several ids (``"1, 2"``, ``12``, ``["a", 3]``)."""
    return _unique(part for text in _texts(value) for part in _SEPARATORS.split(text) if part)


def checked(kind: str, found: list[str], dropped: list[Dropped]) -> list[str]:
    """Return the ids of ``found`` that have the form of ``kind``; note the others in ``dropped``."""
    check, reason = _KINDS[kind]
    kept: list[str] = []
    for value in found:
        if not check(value):
            _drop(dropped, kind, value, reason)
        elif len(kept) == MAX_ITEMS:
            _drop(dropped, kind, value, f"more than {MAX_ITEMS} references")
        else:
            kept.append(value)
    return kept


def _drop(dropped: list[Dropped], kind: str, value: str, reason: str) -> None:
    # The list is for operators to read: a few examples say enough.
    if len(dropped) < MAX_ITEMS:
        dropped.append({"field": kind, "value": value[:64], "reason": reason})


def _texts(value: Any) -> list[str]:
    if value is None or isinstance(value, bool):
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, int | float):
        # 5001.0 from a number field is the id 5001, not "5001.0".
        return [str(int(value)) if float(value).is_integer() else str(value)]
    if isinstance(value, list | tuple):
        return [text for item in value for text in _texts(item)]
    if isinstance(value, dict):
        # Option-type custom fields: {"value": "..."} / {"name": "..."}.
        for field in ("value", "name", "key", "id"):
            if field in value:
                return _texts(value[field])
    return []


def _unique(items: Any) -> list[str]:
    return list(dict.fromkeys(items))
