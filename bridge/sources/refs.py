"""Reading identifiers out of free-form fields: Jira keys, Zendesk ticket ids, Salesforce ids.

Zendesk renders placeholders as text and Jira custom fields may be a string, a number or a list
(README.md, "Zendesk": the trigger body); every form ends up as a de-duplicated list of strings.
"""

from __future__ import annotations

import re
from typing import Any

JIRA_KEY = re.compile(r"\b([A-Z][A-Z0-9_]{0,254}-[1-9][0-9]{0,17})\b")
"""A Jira issue key: project key (upper case, starts with a letter) and a positive number."""

_SEPARATORS = re.compile(r"[\s,;]+")


def jira_keys(value: Any) -> list[str]:
    """Return the Jira issue keys found in a text, list or number field (upper-cased, in order)."""
    return _unique(key for text in _texts(value) for key in JIRA_KEY.findall(text.upper()))


def ids(value: Any) -> list[str]:
    """Return the ids in a field holding one or several ids (``"1, 2"``, ``12``, ``["a", 3]``)."""
    return _unique(part for text in _texts(value) for part in _SEPARATORS.split(text) if part)


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
