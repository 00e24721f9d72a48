"""Reading one field of an inbound body: what each kind of value must look like, checked where it enters.

A signed body is authentic, not sane: its sender may have a bug, or its secret may be in the wrong hands.
Every id, time, number and text a source takes from a body goes through one of these readers, which
either return a value of the expected type, form and range, or say why not. Nothing out of range reaches
``datetime``, a URL path, the rules or Redis.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from typing import Any

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
"""No event of the senders' is older than this (Zendesk and Jira Cloud started years later)."""

LATEST = datetime(2100, 1, 1, tzinfo=UTC)
"""Nor later than this: times beyond are refused before any arithmetic is done on them (the receiver
checks the distance to now on top, ``bridge.sources.freshness``)."""

EARLIEST_MS = int(EARLIEST.timestamp() * 1000)
LATEST_MS = int(LATEST.timestamp() * 1000)

MAX_ID_DIGITS = 19
"""Numeric ids of Jira and Zendesk are 64-bit integers: at most 19 ASCII digits."""

MAX_TEXT = 32_768
"""Longest free text kept from a body (a Jira comment holds at most 32,767 characters)."""

MAX_NAME = 255
"""Longest short text kept: names, statuses, priorities, labels, user ids."""

MAX_ITEMS = 100
"""Most items kept of a list field (labels, changed fields) and most references of each kind."""

MAX_URL = 2000
"""Longest URL kept (Jira's remote link URLs stop at 2,000 characters)."""

_NUMERIC_ID = re.compile(rf"[1-9][0-9]{{0,{MAX_ID_DIGITS - 1}}}")
_JIRA_KEY = re.compile(r"[A-Z][A-Z0-9_]{0,254}-[1-9][0-9]{0,17}")
# Salesforce record ids are 15 or 18 characters; shorter ones are accepted for sandboxes and tests.
_SALESFORCE_ID = re.compile(r"[A-Za-z0-9]{1,18}")
_PLAIN_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
_URL = re.compile(r"https?://[A-Za-z0-9.-]+(?::[0-9]{1,5})?(?:/[^\s\x00-\x1f\x7f]*)?")


class FieldError(ValueError):
    """A field of a body does not have the form its sender documents; the message says which and why."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        # The reason label of the rejections metric (``bad_id``, ``bad_time``).
        self.code = code


def numeric_id(value: Any, what: str) -> str:
    """Return a numeric id (Jira issue, comment and link ids, Zendesk ticket ids) as ASCII digits."""
    text = _id_text(value)
    if text is None or not _NUMERIC_ID.fullmatch(text):
        raise FieldError(
            f"{what} must be a positive number of at most {MAX_ID_DIGITS} ASCII digits", "bad_id"
        )
    return text


def is_numeric_id(value: str) -> bool:
    """Tell whether a text is a numeric id (ASCII digits only: ``str.isdigit`` also accepts ``²``)."""
    return bool(_NUMERIC_ID.fullmatch(value))


def jira_key(value: Any, what: str) -> str:
    """Return a Jira issue key: the project key (upper case, starting with a letter), ``-``, a number."""
    if not isinstance(value, str) or not _JIRA_KEY.fullmatch(value):
        raise FieldError(f"{what} must be a Jira issue key such as PROJ-123", "bad_id")
    return value


def is_jira_key(value: str) -> bool:
    """Tell whether a text is a Jira issue key."""
    return bool(_JIRA_KEY.fullmatch(value))


def is_salesforce_id(value: str) -> bool:
    """Tell whether a text is a Salesforce record id (letters and digits, at most 18)."""
    return bool(_SALESFORCE_ID.fullmatch(value))


def epoch_ms(value: Any, what: str) -> int:
    """Return a time given in epoch milliseconds (an integer, or a text of ASCII digits) within range."""
    if isinstance(value, bool):
        raise FieldError(f"{what} must be epoch milliseconds, got a boolean", "bad_time")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 16:
        value = int(value)
    if not isinstance(value, int):
        raise FieldError(f"{what} must be epoch milliseconds (a whole number)", "bad_time")
    if not EARLIEST_MS <= value < LATEST_MS:
        raise FieldError(f"{what} {value} is out of range ({EARLIEST:%Y} to {LATEST:%Y})", "bad_time")
    return value


def in_range(moment: datetime, what: str) -> datetime:
    """Return ``moment`` if it lies between ``EARLIEST`` and ``LATEST``."""
    if not EARLIEST <= moment < LATEST:
        raise FieldError(
            f"{what} {moment.isoformat()} is out of range ({EARLIEST:%Y} to {LATEST:%Y})", "bad_time"
        )
    return moment


def text(value: Any, limit: int = MAX_NAME) -> str | None:
    """Return a text field cut to ``limit`` characters; None for anything that is not a non-empty text."""
    if isinstance(value, str) and value:
        return value[:limit]
    return None


def name(value: Any) -> str | None:
    """Return a short identifier-like value (a user id or name) as text: texts and integers only."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)[:MAX_NAME]
    return text(value)


def texts(value: Any, limit: int = MAX_NAME) -> list[str]:
    """Return the texts of a list field (at most ``MAX_ITEMS``, each cut to ``limit``)."""
    if not isinstance(value, list):
        return []
    return [item[:limit] for item in value if isinstance(item, str) and item][:MAX_ITEMS]


def integer(value: Any) -> int | None:
    """Return a 64-bit integer field; None for anything else (floats, booleans, huge numbers)."""
    if isinstance(value, int) and not isinstance(value, bool) and -(2**63) <= value < 2**63:
        return value
    return None


def http_url(value: Any) -> str | None:
    """Return an http(s) URL with a plain host name, or None."""
    if isinstance(value, str) and len(value) <= MAX_URL and _URL.fullmatch(value):
        return value
    return None


def delivery_id(value: str) -> str:
    """Return a sender's delivery id as it may go into a Redis key: itself when short and plain, else a hash."""
    if _PLAIN_ID.fullmatch(value):
        return value
    return "sha256:" + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _id_text(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return value.strip()
    return None
