"""A subject's current state read from its source of truth, as an ordinary event of the contract's shape.

Deliveries are hints: they may come late, out of order or never. When two states of one ticket tie (two
edits in one minute of a trigger's clock) or a subject must be planned with nothing delivered (a resync,
a ticket the bridge never saw), the planner asks the source what is true now:
- a ticket: ``GET /api/v2/tickets/{id}`` (https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/),
  whose ``updated_at`` has whole seconds; 404 means deleted (soft or for good);
- an issue: ``GET /rest/api/2/issue/{id}``, whose ``fields.updated`` has milliseconds; 404 means deleted.
Such an event says ``data.from_source`` (the ordering trusts it as the newest state), is ordered by the
time of the read (``as_read``), and its ``delivery_id`` says where it came from (``source:``, ``resync:``…).
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from bridge import defaults
from bridge.errors import UpstreamNotFound
from bridge.event import Event, Normalized, build_event
from bridge.settings import Settings
from bridge.sources import refs
from bridge.sources.zendesk import parse_time
from bridge.upstreams import Clients
from bridge.upstreams.jira.client import Issue, JiraClient
from bridge.upstreams.zendesk.client import Ticket, ZendeskClient

SOLVED = ("solved", "closed")


def read_ticket(clients: Clients, settings: Settings, ticket_id: str, delivery_id: str) -> Event:
    """Return ticket ``ticket_id`` as Zendesk has it now; raise ``NotConfigured`` without Zendesk.

    Upstream errors propagate (a retryable one means: plan later).
    """
    zendesk = clients.need("zendesk", ZendeskClient, "ZENDESK_BASE_URL, ZENDESK_EMAIL and ZENDESK_API_TOKEN")
    started = time.time()
    try:
        ticket = zendesk.get_ticket(ticket_id)
    except UpstreamNotFound:
        return _event(as_read(deleted_ticket(ticket_id), started), "zendesk", delivery_id)
    return _event(as_read(normalize_ticket(ticket, settings), started), "zendesk", delivery_id)


def read_issue(clients: Clients, settings: Settings, issue_id: str, delivery_id: str) -> Event:
    """Return issue ``issue_id`` as Jira has it now; raise ``NotConfigured`` without Jira."""
    jira = clients.need("jira", JiraClient, "JIRA_BASE_URL, JIRA_EMAIL and JIRA_API_TOKEN")
    started = time.time()
    try:
        issue = jira.get_issue(issue_id, fields=issue_fields(settings))
    except UpstreamNotFound:
        return _event(as_read(deleted_issue(issue_id), started), "jira", delivery_id)
    return _event(as_read(normalize_issue(issue, settings), started), "jira", delivery_id)


def as_read(found: Normalized, started: float) -> Normalized:
    """Order ``found``, a state read from its source by a request sent at ``started`` (epoch seconds), by
    the read rather than by the subject's ``updated_at``: it holds from before the request to after the
    answer, ``defaults.SOURCE_READ_MARGIN_MS`` either side.

    Every change stamped before that is in it (a soft delete and a restore need not move ``updated_at``, so
    that time orders nothing after it); a delivery stamped within it that tells another state is read again.
    """
    margin = defaults.SOURCE_READ_MARGIN_MS
    start = int(started * 1000) - margin
    end = int(time.time() * 1000) + margin
    data = {**found.data, "sequence_precision_ms": end - start, "read": True}
    return replace(found, sequence=start, data=data)


def issue_fields(settings: Settings) -> str:
    """The issue fields the bridge reads (``fields=`` of get issue and of the issue search)."""
    wanted = ["summary", "status", "issuetype", "project", "labels", "updated"]
    wanted += [name for name in (settings.jira_zendesk_field, settings.jira_salesforce_field) if name]
    return ",".join(wanted)


def normalize_ticket(ticket: Ticket, settings: Settings) -> Normalized:
    """Turn a ticket of the Tickets API (or the incremental export) into a normalized event."""
    ticket_id = str(ticket.id)
    updated = parse_time(ticket.updated_at) or datetime.now(UTC)
    status = (ticket.status or "").lower()
    keys = None
    if settings.zendesk_jira_field_id:
        keys = refs.jira_keys(ticket.field(settings.zendesk_jira_field_id))
    deleted = "soft" if status == "deleted" else None
    data: dict[str, Any] = {
        "status": None if deleted else status,
        "subject": ticket.subject,
        "priority": (ticket.priority or "").lower() or None,
        "url": f"{settings.zendesk_base_url}/agent/tickets/{ticket_id}"
        if settings.zendesk_base_url
        else None,
        "event": "ticket.read",
        "jira_keys_known": keys is not None,
        "deleted": deleted,
        "from_source": True,
        "sequence_precision_ms": 1000,
    }
    return Normalized(
        type="ticket.deleted" if deleted else ("ticket.solved" if status in SOLVED else "ticket.updated"),
        subject={"kind": "ticket", "id": ticket_id},
        actor={"id": None, "name": None},
        occurred_at=updated,
        sequence=int(updated.timestamp() * 1000),
        refs={"jira_issue_keys": keys or [], "zendesk_ticket_ids": [ticket_id], "salesforce_ids": []},
        data=data,
    )


def deleted_ticket(ticket_id: str) -> Normalized:
    """A ticket the Tickets API no longer shows: deleted, as of now."""
    now = datetime.now(UTC)
    return Normalized(
        type="ticket.deleted",
        subject={"kind": "ticket", "id": ticket_id},
        actor={"id": None, "name": None},
        occurred_at=now,
        sequence=int(time.time() * 1000),
        refs={"jira_issue_keys": [], "zendesk_ticket_ids": [ticket_id], "salesforce_ids": []},
        data={"event": "ticket.read", "deleted": "soft", "from_source": True, "sequence_precision_ms": 1},
    )


def normalize_issue(issue: Issue, settings: Settings) -> Normalized:
    """Turn an issue of the REST API (or of a search) into a normalized event."""
    fields = issue.fields
    updated = _jira_time(fields.get("updated")) or datetime.now(UTC)
    status: dict[str, Any] = fields["status"] if isinstance(fields.get("status"), dict) else {}
    zendesk_field, salesforce_field = settings.jira_zendesk_field, settings.jira_salesforce_field
    tickets = refs.ids(fields.get(zendesk_field)) if zendesk_field else []
    records = refs.ids(fields.get(salesforce_field)) if salesforce_field else []
    summary = {
        "id": issue.id,
        "key": issue.key,
        "summary": fields.get("summary"),
        "status": status.get("name"),
        "status_category": (status.get("statusCategory") or {}).get("key"),
        "issuetype": (fields.get("issuetype") or {}).get("name"),
        "project": (fields.get("project") or {}).get("key"),
        "labels": [label for label in fields.get("labels") or [] if isinstance(label, str)],
    }
    return Normalized(
        type="issue.updated",
        subject={"kind": "issue", "id": issue.id, "key": issue.key},
        actor={"id": None, "name": None},
        occurred_at=updated,
        sequence=int(updated.timestamp() * 1000),
        refs={"jira_issue_keys": [issue.key], "zendesk_ticket_ids": tickets, "salesforce_ids": records},
        data={
            "issue": summary,
            "webhook_event": "issue.read",
            "refs_known": {
                "zendesk_ticket_ids": not zendesk_field or zendesk_field in fields,
                "salesforce_ids": not salesforce_field or salesforce_field in fields,
            },
            "from_source": True,
            "sequence_precision_ms": 1,
        },
    )


def deleted_issue(issue_id: str) -> Normalized:
    """An issue Jira no longer has: deleted, as of now."""
    return Normalized(
        type="issue.deleted",
        subject={"kind": "issue", "id": issue_id, "key": ""},
        actor={"id": None, "name": None},
        occurred_at=datetime.now(UTC),
        sequence=int(time.time() * 1000),
        refs={"jira_issue_keys": [], "zendesk_ticket_ids": [], "salesforce_ids": []},
        data={"webhook_event": "issue.read", "from_source": True, "sequence_precision_ms": 1},
    )


def _event(found: Normalized, source: str, delivery_id: str) -> Event:
    return build_event(found, source, delivery_id, datetime.now(UTC))  # type: ignore[arg-type]


def _jira_time(value: Any) -> datetime | None:
    """Parse Jira's ``2026-11-30T04:38:12.345+0000``."""
    if not isinstance(value, str):
        return None
    text = value
    if len(text) > 5 and text[-5] in "+-" and text[-4:].isdigit():
        text = text[:-2] + ":" + text[-2:]
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
