"""Realistic sample deliveries, signed as their senders sign them (``bridge send-sample``, tests, benches)."""

from __future__ import annotations

import copy
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from typing import Any

import orjson

from bridge.sources.signing import hub_signature, zendesk_signature

DEV_JIRA_WEBHOOK_SECRET = "dev-jira-webhook-secret"  # noqa: S105 (dev only)
"""Signing secret ``bridge dev`` configures for Jira deliveries (never used outside dev)."""

DEV_ZENDESK_WEBHOOK_SECRET = "dev-zendesk-webhook-secret"  # noqa: S105 (dev only)
"""Signing secret ``bridge dev`` configures for Zendesk deliveries (never used outside dev)."""


@dataclass(frozen=True)
class SignedDelivery:
    """A request ready to send: path, headers and body bytes."""

    path: str
    headers: dict[str, str]
    body: bytes


def load(name: str) -> dict[str, Any]:
    """Return a copy of the packaged sample ``name`` (e.g. ``jira_issue_updated``)."""
    text = resources.files(__package__).joinpath(f"{name}.json").read_bytes()
    return copy.deepcopy(orjson.loads(text))


def jira_issue(
    key: str = "PROJ-1",
    ticket_ids: str = "5001",
    event: str = "jira:issue_updated",
    field: str = "customfield_10050",
    issue_id: str | None = None,
) -> dict[str, Any]:
    """Return a Jira Cloud issue event for ``key`` (issue ``issue_id``, the sample's own by default) whose
    ``field`` holds ``ticket_ids``, stamped now."""
    payload = load("jira_issue_updated")
    payload["webhookEvent"] = event
    payload["timestamp"] = int(time.time() * 1000)
    issue = payload["issue"]
    issue["key"] = key
    if issue_id is not None:
        issue["id"] = issue_id
        issue["self"] = issue["self"].rsplit("/", 1)[0] + f"/{issue_id}"
    issue["fields"][field] = ticket_ids
    if issue_id is not None:
        issue["id"] = issue_id
        issue["self"] = issue["self"].rsplit("/", 1)[0] + f"/{issue_id}"
    return payload


def zendesk_trigger(ticket_id: str = "5001", keys: str = "PROJ-1", status: str = "Open") -> dict[str, Any]:
    """Return a Zendesk trigger delivery (the README's trigger body) for ``ticket_id`` referencing ``keys``."""
    payload = load("zendesk_trigger")
    ticket = payload["ticket"]
    ticket.update(id=ticket_id, jira_issue_keys=keys, status=status)
    ticket["url"] = ticket["url"].rsplit("/", 1)[0] + f"/{ticket_id}"
    ticket["updated_at"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return payload


def sign_jira(payload: dict[str, Any], secret: str, identifier: str | None = None) -> SignedDelivery:
    """Sign a Jira delivery with ``X-Hub-Signature`` as Jira Cloud does."""
    body = orjson.dumps(payload)
    return SignedDelivery(
        "/webhooks/jira",
        {
            "Content-Type": "application/json; charset=UTF-8",
            "User-Agent": "Atlassian Webhook HTTP Client",
            "X-Atlassian-Webhook-Identifier": identifier or str(uuid.uuid4().int % 10**17),
            "X-Atlassian-Webhook-Flow": "Primary",
            "X-Hub-Signature": hub_signature(secret, body),
        },
        body,
    )


def sign_zendesk(
    payload: dict[str, Any], secret: str, invocation_id: str | None = None, at: datetime | None = None
) -> SignedDelivery:
    """Sign a Zendesk delivery as Zendesk does: base64 HMAC over timestamp + body."""
    body = orjson.dumps(payload)
    timestamp = (at or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return SignedDelivery(
        "/webhooks/zendesk",
        {
            "Content-Type": "application/json",
            "User-Agent": "Zendesk Webhook",
            "X-Zendesk-Webhook-Id": "01HSAMPLEWEBHOOK0000000000",
            "X-Zendesk-Webhook-Invocation-Id": invocation_id or str(uuid.uuid4().int % 10**12),
            "X-Zendesk-Webhook-Signature-Timestamp": timestamp,
            "X-Zendesk-Webhook-Signature": zendesk_signature(secret, timestamp, body),
        },
        body,
    )
