"""Jira webhooks (Cloud and Data Center): verify, identify and normalize a delivery.

Body shape: https://developer.atlassian.com/cloud/jira/platform/webhooks/
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from bridge.errors import DeliveryRejected
from bridge.event import Actor, Normalized, Refs, Subject
from bridge.settings import Settings
from bridge.sources import Delivery, refs
from bridge.sources.signing import hub_signature, same

SOURCE = "jira"

EVENT_TYPES = {
    "jira:issue_created": "issue.created",
    "jira:issue_updated": "issue.updated",
    "jira:issue_deleted": "issue.deleted",
    "comment_created": "comment.created",
    "comment_updated": "comment.updated",
    "comment_deleted": "comment.deleted",
    "issuelink_created": "issuelink.created",
    "issuelink_deleted": "issuelink.deleted",
}

# The issue id inside a comment's self URL: .../rest/api/2/issue/10001/comment/10100
_COMMENT_ISSUE_ID = re.compile(r"/issue/([^/]+)/comment/")


def verify(delivery: Delivery, settings: Settings) -> None:
    """Accept a delivery signed with JIRA_WEBHOOK_SECRET or carrying ``?token=`` JIRA_WEBHOOK_TOKEN."""
    secret, token = settings.jira_webhook_secret, settings.jira_webhook_token
    if secret is None and token is None:
        raise DeliveryRejected(
            503,
            "Jira deliveries are refused: set JIRA_WEBHOOK_SECRET"
            " (or JIRA_WEBHOOK_TOKEN for sites that cannot sign)",
            "not_configured",
        )
    signature = delivery.headers.get("x-hub-signature")
    if signature is not None:
        # A signature that is present is checked even when a token would also do: it may be a forgery.
        if secret is None:
            raise DeliveryRejected(
                401, "signed delivery, but JIRA_WEBHOOK_SECRET is not set", "bad_signature"
            )
        method, _, _ = signature.partition("=")
        if method != "sha256":
            raise DeliveryRejected(401, f"unsupported signature method {method[:16]!r}", "bad_signature")
        if not same(hub_signature(secret.reveal(), delivery.body), signature):
            raise DeliveryRejected(401, "X-Hub-Signature does not match the body", "bad_signature")
        return
    given_token = delivery.query.get("token")
    if token is not None and given_token is not None:
        if not same(token.reveal(), given_token):
            raise DeliveryRejected(401, "token does not match", "bad_token")
        return
    if secret is not None:
        raise DeliveryRejected(401, "missing X-Hub-Signature header", "missing_signature")
    raise DeliveryRejected(401, "missing ?token= query parameter", "missing_token")


def delivery_key(payload: dict[str, Any], delivery: Delivery) -> str:
    """Identify a delivery: site + X-Atlassian-Webhook-Identifier, else a hash of event, entity, time."""
    site = _site(payload)
    identifier = delivery.headers.get("x-atlassian-webhook-identifier")
    if identifier:
        return f"{site}:{identifier}"
    # Data Center sends no identifier (https://confluence.atlassian.com/adminjiraserver/managing-webhooks-938846912.html):
    # the same event at the same time is one delivery.
    entity = _entity(payload)
    basis = f"{payload.get('webhookEvent')}|{entity.get('id') if entity else ''}|{payload.get('timestamp')}"
    return f"{site}:sha256:{hashlib.sha256(basis.encode()).hexdigest()[:32]}"


def normalize(payload: dict[str, Any], settings: Settings) -> Normalized:
    """Turn a Jira webhook body into a normalized event; refuse bodies that are not one."""
    webhook_event = payload.get("webhookEvent")
    if not isinstance(webhook_event, str):
        raise DeliveryRejected(400, "not a Jira webhook: no webhookEvent", "unknown_shape")
    event_type = EVENT_TYPES.get(webhook_event)
    if event_type is None:
        raise DeliveryRejected(
            400,
            f"unsupported Jira event {webhook_event[:64]!r}:"
            " subscribe to issue, comment and issue link events",
            "unknown_event",
        )
    occurred_ms = _timestamp_ms(payload.get("timestamp"))
    kind = event_type.split(".", 1)[0]
    issue = _dict(payload.get("issue"))
    if kind == "issue":
        if not issue.get("id") or not issue.get("key"):
            raise DeliveryRejected(400, f"{webhook_event} without issue id and key", "unknown_shape")
        subject: Subject = {"kind": "issue", "id": str(issue["id"]), "key": str(issue["key"])}
        actor = _actor(payload.get("user"))
    elif kind == "comment":
        comment = _dict(payload.get("comment"))
        if not comment.get("id"):
            raise DeliveryRejected(400, f"{webhook_event} without comment id", "unknown_shape")
        subject = {"kind": "comment", "id": str(comment["id"])}
        author = comment.get("updateAuthor") if event_type != "comment.created" else comment.get("author")
        actor = _actor(payload.get("user") or author or comment.get("author"))
    else:
        link = _dict(payload.get("issueLink"))
        if not link.get("id"):
            raise DeliveryRejected(400, f"{webhook_event} without issueLink id", "unknown_shape")
        subject = {"kind": "issuelink", "id": str(link["id"])}
        actor = _actor(payload.get("user"))
    return Normalized(
        type=event_type,
        subject=subject,
        actor=actor,
        occurred_at=datetime.fromtimestamp(occurred_ms / 1000, UTC),
        sequence=occurred_ms,
        refs=_refs(issue, settings),
        data=_data(payload, issue, settings),
    )


def is_own(actor: Actor, settings: Settings) -> bool:
    """Tell whether the bridge's own Jira account caused the event."""
    own = settings.jira_bridge_account_id
    return own is not None and actor["id"] == own


def _timestamp_ms(value: Any) -> int:
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return int(value)
    if isinstance(value, str) and value.isdigit():
        return int(value)
    raise DeliveryRejected(400, "Jira webhook without a numeric timestamp", "unknown_shape")


def _actor(user: Any) -> Actor:
    user = _dict(user)
    # Cloud identifies users by accountId; Data Center by key (and name).
    account = user.get("accountId") or user.get("key") or user.get("name")
    name = user.get("displayName") or user.get("name")
    return {"id": str(account) if account else None, "name": str(name) if name else None}


def _refs(issue: dict[str, Any], settings: Settings) -> Refs:
    fields = _dict(issue.get("fields"))
    keys = [str(issue["key"])] if issue.get("key") else []
    tickets = refs.ids(fields.get(settings.jira_zendesk_field)) if settings.jira_zendesk_field else []
    records = refs.ids(fields.get(settings.jira_salesforce_field)) if settings.jira_salesforce_field else []
    return {"jira_issue_keys": keys, "zendesk_ticket_ids": tickets, "salesforce_ids": records}


def _data(payload: dict[str, Any], issue: dict[str, Any], settings: Settings) -> dict[str, Any]:
    data: dict[str, Any] = {"site": _site(payload), "webhook_event": payload.get("webhookEvent")}
    if issue:
        data["issue"] = _issue_summary(issue)
    comment = _dict(payload.get("comment"))
    if comment:
        issue_id = issue.get("id") or _comment_issue_id(comment)
        data["comment"] = {
            "id": str(comment.get("id")),
            "issue_id": str(issue_id) if issue_id else None,
            "body": comment.get("body"),
        }
    link = _dict(payload.get("issueLink"))
    if link:
        link_type = _dict(link.get("issueLinkType"))
        data["issuelink"] = {
            "id": str(link.get("id")),
            "source_issue_id": str(link.get("sourceIssueId")),
            "destination_issue_id": str(link.get("destinationIssueId")),
            "type": link_type.get("name"),
        }
    changelog = _dict(payload.get("changelog"))
    if changelog.get("items"):
        data["changed_fields"] = [
            item.get("fieldId") or item.get("field") for item in changelog["items"] if isinstance(item, dict)
        ]
    return data


def _issue_summary(issue: dict[str, Any]) -> dict[str, Any]:
    fields = _dict(issue.get("fields"))
    status = _dict(fields.get("status"))
    return {
        "id": str(issue.get("id")),
        "key": issue.get("key"),
        "summary": fields.get("summary"),
        "status": status.get("name"),
        "status_category": _dict(status.get("statusCategory")).get("key"),
        "issuetype": _dict(fields.get("issuetype")).get("name"),
        "project": _dict(fields.get("project")).get("key"),
        "labels": [str(label) for label in fields.get("labels") or [] if isinstance(label, str)],
    }


def _entity(payload: dict[str, Any]) -> dict[str, Any]:
    for name in ("comment", "issueLink", "issue"):
        entity = _dict(payload.get(name))
        if entity:
            return entity
    return {}


def _site(payload: dict[str, Any]) -> str:
    """The Jira site that sent the event: host of ``issue.self`` or ``comment.self``."""
    for name in ("issue", "comment"):
        self_url = _dict(payload.get(name)).get("self")
        if isinstance(self_url, str):
            host = urlsplit(self_url).netloc
            if host:
                return host.lower()
    return "unknown-site"


def _comment_issue_id(comment: dict[str, Any]) -> str | None:
    match = _COMMENT_ISSUE_ID.search(str(comment.get("self", "")))
    return match.group(1) if match else None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
