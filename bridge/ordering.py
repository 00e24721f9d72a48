"""Which state of a subject is the newest: the comparison behind "newest wins", as pure functions.

A subject (a Zendesk ticket, a Jira issue) changes over time; deliveries about it arrive in any order,
more than once, and some clocks are coarse: a Zendesk trigger renders ``updated_at`` to the minute
(https://support.zendesk.com/hc/en-us/articles/4408886858138), the Tickets API and event subscriptions to
the second, Jira to the millisecond. So each state carries an interval — ``[sequence, sequence +
precision)`` in epoch milliseconds — and two states compare as:

- **same**: the state the event tells is the one already applied (nothing to do, whatever its time);
- **newer** / **older**: the intervals do not overlap;
- **ambiguous**: they overlap and the states differ (two edits in one minute). Only the source can tell;
  the planner reads the subject's current state from it (``Candidate.exact``), which is newer than any
  delivery made before the read.

A state is what the rules look at, as a JSON-safe mapping; an event that tells only part of it (a
Zendesk event about a priority change does not carry the Jira field) changes only what it tells.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from bridge.event import Event

TICKET = "ticket"
ISSUE = "issue"
SOLVED_STATUSES = ("solved", "closed")

TICKET_FIELDS = ("status", "subject", "priority", "url", "jira_issue_keys", "deleted")
"""A ticket's state: Zendesk's fields the rules read, its Jira keys (absent: not known yet) and whether
it is deleted (``soft``: restorable for 30 days; ``permanent``)."""

ISSUE_FIELDS = (
    "key",
    "summary",
    "status",
    "status_category",
    "issuetype",
    "project",
    "labels",
    "zendesk_ticket_ids",
    "salesforce_ids",
    "deleted",
)
"""An issue's state: its current key, the fields the rules read, the ids its custom fields name, and
whether it is deleted."""


class Order(Enum):
    """How a candidate state compares with the applied one."""

    NEWER = "newer"
    OLDER = "older"
    SAME = "same"
    AMBIGUOUS = "ambiguous"


@dataclass(frozen=True)
class Candidate:
    """A subject's state as one delivery tells it (``partial``) or as its source has it now (``exact``)."""

    kind: str
    id: str
    sequence: int
    precision: int
    partial: dict[str, Any]
    exact: bool = False


def candidate_of(event: Event) -> Candidate | None:
    """Return the subject state the event tells, or None when its subject has no state (a comment)."""
    subject = event["subject"]
    data = event.get("data", {})
    precision = int(data.get("sequence_precision_ms") or 1)
    if event["source"] == "zendesk" and subject["kind"] == TICKET:
        partial: dict[str, Any] = {"deleted": data.get("deleted") or None}
        for name in ("status", "subject", "priority", "url"):
            if data.get(name) not in (None, ""):
                partial[name] = data[name]
        if data.get("jira_keys_known"):
            partial["jira_issue_keys"] = sorted(set(event["refs"]["jira_issue_keys"]))
        return Candidate(TICKET, subject["id"], event["sequence"], precision, partial, _exact(data))
    if event["source"] == "jira" and subject["kind"] == ISSUE:
        issue = data.get("issue") or {}
        partial = {"deleted": event["type"] == "issue.deleted"}
        if subject.get("key"):
            partial["key"] = subject["key"]
        for name in ("summary", "status", "status_category", "issuetype", "project", "labels"):
            if name in issue:
                partial[name] = issue[name]
        known = data.get("refs_known") or {}
        refs: dict[str, list[str]] = dict(event["refs"])  # type: ignore[arg-type]
        for name in ("zendesk_ticket_ids", "salesforce_ids"):
            if known.get(name):
                partial[name] = sorted(set(refs[name]))
        return Candidate(ISSUE, subject["id"], event["sequence"], precision, partial, _exact(data))
    return None


def _exact(data: dict[str, Any]) -> bool:
    # Read from the source just now (bridge/sources/current.py), not delivered.
    return bool(data.get("from_source"))


def restored_untold(candidate: Candidate, applied: dict[str, Any]) -> bool:
    """Whether a delivered event brings a deleted ticket back without telling its Jira keys (Zendesk's
    ``ticket.undeleted`` tells none): what the ticket held before it was deleted may be stale — an update
    made meanwhile was read as "deleted" — so its state is read from the source."""
    return (
        candidate.kind == TICKET
        and not candidate.exact
        and bool(applied.get("deleted"))
        and not candidate.partial.get("deleted")
        and "jira_issue_keys" not in candidate.partial
    )


def final(candidate: Candidate) -> bool:
    """Whether a candidate is a deletion nothing can follow (a ticket deleted for good, any Jira issue
    deleted: Jira restores none): applied whatever arrived before it, no source read."""
    deleted = candidate.partial.get("deleted")
    return deleted is True or deleted == "permanent"


def tells_whole_state(candidate: Candidate) -> bool:
    """Whether a candidate tells every field the links hang on (a ticket's Jira keys, an issue's ticket
    ids): only then may "nothing changed" move the applied state's time forward. An event that tells
    part of it (a restore, a status change) says nothing of the rest at its time, and an earlier delivery
    still on its way may change that rest."""
    if candidate.exact:
        return True
    field = "jira_issue_keys" if candidate.kind == TICKET else "zendesk_ticket_ids"
    return field in candidate.partial


def confirmed(candidate: Candidate, applied_sequence: int, applied_precision: int) -> tuple[int, int] | None:
    """Return the applied state's interval once ``candidate``, which tells the same state, has confirmed it
    (``(sequence, precision)``), or None when it cannot: it tells part of the state only.

    A delivery that tells the whole state and is newer moves the interval to its own; a read of the source
    (``exact``: the state holds through the read) stretches it to the read's end.
    """
    if not tells_whole_state(candidate):
        return None
    applied_end = applied_sequence + applied_precision
    end = candidate.sequence + candidate.precision
    if candidate.sequence >= applied_end:
        return candidate.sequence, candidate.precision
    if candidate.exact and end > applied_end:
        start = max(applied_sequence, candidate.sequence)
        return start, end - start
    return applied_sequence, applied_precision


def merge(applied: dict[str, Any] | None, partial: dict[str, Any]) -> dict[str, Any]:
    """Return the state ``partial`` makes of ``applied`` (what it does not tell stays as it was)."""
    return {**(applied or {}), **partial}


def compare(candidate: Candidate, applied_sequence: int, applied_precision: int, same: bool) -> Order:
    """Compare a candidate with the applied state (its interval; ``same``: the merged state is unchanged)."""
    if same:
        return Order.SAME
    start, end = candidate.sequence, candidate.sequence + candidate.precision
    applied_start, applied_end = applied_sequence, applied_sequence + applied_precision
    if end <= applied_start:
        return Order.OLDER
    if candidate.exact or start >= applied_end:
        # A read of the source is the newest state there is, unless it is plainly older (a stale replica).
        return Order.NEWER
    return Order.AMBIGUOUS


def rules_event(event: Event, kind: str, state: dict[str, Any]) -> Event:
    """Return the event the rules see: the delivery's, with the subject's whole newest state in it."""
    view: Event = {**event, "refs": dict(event["refs"]), "data": dict(event.get("data", {}))}  # type: ignore[typeddict-item]
    if kind == TICKET:
        keys = state.get("jira_issue_keys")
        view["refs"]["jira_issue_keys"] = list(keys or [])
        view["data"].update({name: state.get(name) for name in ("status", "subject", "priority", "url")})
        view["data"]["jira_keys_known"] = keys is not None
        view["data"]["deleted"] = state.get("deleted")
        view["type"] = ticket_type(event["type"], state)
    elif kind == ISSUE:
        view["subject"] = {**event["subject"], "key": state.get("key") or event["subject"].get("key", "")}
        issue = {name: state.get(name) for name in ISSUE_FIELDS if name not in ("deleted",)}
        view["data"]["issue"] = {**view["data"].get("issue", {}), **issue, "id": event["subject"]["id"]}
        view["refs"]["zendesk_ticket_ids"] = list(state.get("zendesk_ticket_ids") or [])
        view["refs"]["salesforce_ids"] = list(state.get("salesforce_ids") or [])
        view["refs"]["jira_issue_keys"] = [view["subject"]["key"]] if view["subject"].get("key") else []
        view["type"] = "issue.deleted" if state.get("deleted") else event["type"]
    return view


def ticket_type(delivered: str, state: dict[str, Any]) -> str:
    """Return a ticket event's type as its newest state makes it (a restored ticket is updated again)."""
    if state.get("deleted"):
        return "ticket.deleted"
    if delivered == "ticket.created":
        return delivered
    if str(state.get("status") or "").lower() in SOLVED_STATUSES:
        return "ticket.solved"
    return "ticket.updated"
