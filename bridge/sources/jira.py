"""Jira webhooks (Cloud and Data Center): verify, identify and normalize a delivery.

Body shape: https://developer.atlassian.com/cloud/jira/platform/webhooks/
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from typing import Any

from bridge.errors import DeliveryRejected
from bridge.event import Actor, Normalized, Refs, Subject
from bridge.settings import Settings
from bridge.sources import Delivery, fields, freshness, refs
from bridge.sources.fields import FieldError
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
# A site's host (and port) as it may appear in a dedupe key.
_SITE = re.compile(r"[A-Za-z0-9.-]{1,253}(?::[0-9]{1,5})?")
# The authority of an absolute URL (what urllib's urlsplit calls netloc): a regular expression costs a
# tenth of urlsplit on URLs never seen before (its cache), and a delivery's issue URL is always new.
_AUTHORITY = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://([^/?#]*)")
_COMMENT_ISSUE_ID = re.compile(r"/issue/([1-9][0-9]{0,18})/comment/")


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
        return f"{site}:{fields.delivery_id(identifier)}"
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
    try:
        return _normalize(payload, event_type, webhook_event, settings)
    except FieldError as error:
        raise DeliveryRejected(400, str(error), error.code) from None


def _normalize(
    payload: dict[str, Any], event_type: str, webhook_event: str, settings: Settings
) -> Normalized:
    if "timestamp" not in payload:
        raise DeliveryRejected(400, "Jira webhook without a numeric timestamp", "unknown_shape")
    occurred_ms = fields.epoch_ms(payload["timestamp"], "timestamp")
    kind = event_type.split(".", 1)[0]
    issue = _dict(payload.get("issue"))
    if kind == "issue":
        if not issue.get("id") or not issue.get("key"):
            raise DeliveryRejected(400, f"{webhook_event} without issue id and key", "unknown_shape")
        subject: Subject = {
            "kind": "issue",
            "id": fields.numeric_id(issue["id"], "issue.id"),
            "key": fields.jira_key(issue["key"], "issue.key"),
        }
        actor = _actor(payload.get("user"))
    elif kind == "comment":
        comment = _dict(payload.get("comment"))
        if not comment.get("id"):
            raise DeliveryRejected(400, f"{webhook_event} without comment id", "unknown_shape")
        subject = {"kind": "comment", "id": fields.numeric_id(comment["id"], "comment.id")}
        author = comment.get("updateAuthor") if event_type != "comment.created" else comment.get("author")
        actor = _actor(payload.get("user") or author or comment.get("author"))
    else:
        link = _dict(payload.get("issueLink"))
        if not link.get("id"):
            raise DeliveryRejected(400, f"{webhook_event} without issueLink id", "unknown_shape")
        subject = {"kind": "issuelink", "id": fields.numeric_id(link["id"], "issueLink.id")}
        actor = _actor(payload.get("user"))
    if issue:
        # An issue beside a comment or link is checked too: its key and id end up in calls' paths.
        fields.numeric_id(issue.get("id"), "issue.id")
        fields.jira_key(issue.get("key"), "issue.key")
    dropped: list[refs.Dropped] = []
    data = _data(payload, issue, settings)
    event_refs = _refs(issue, settings, dropped)
    if dropped:
        data["dropped_refs"] = dropped
    return Normalized(
        type=event_type,
        subject=subject,
        actor=actor,
        occurred_at=datetime.fromtimestamp(occurred_ms / 1000, UTC),
        sequence=occurred_ms,
        refs=event_refs,
        data=data,
    )


def admit(found: Normalized, delivery: Delivery, settings: Settings) -> None:
    """Refuse a body dated ahead of now or older than the replay window (BRIDGE_JIRA_MAX_AGE_S)."""
    freshness.check_not_ahead(found, delivery.received_at)
    freshness.check_not_older(found, delivery.received_at, settings.jira_max_age_s, "the body's timestamp")


def content_key(delivery: Delivery) -> str:
    """Identify what the signature covers (the body): the same body is the same delivery."""
    return freshness.content_key(delivery.body)


def is_own(actor: Actor, settings: Settings) -> bool:
    """Tell whether the bridge's own Jira account caused the event."""
    own = settings.jira_bridge_account_id
    return own is not None and actor["id"] == own


def _actor(user: Any) -> Actor:
    user = _dict(user)
    # Cloud identifies users by accountId; Data Center by key (and name).
    account = (
        fields.name(user.get("accountId")) or fields.name(user.get("key")) or fields.name(user.get("name"))
    )
    return {"id": account, "name": fields.text(user.get("displayName")) or fields.text(user.get("name"))}


def _refs(issue: dict[str, Any], settings: Settings, dropped: list[refs.Dropped]) -> Refs:
    issue_fields = _dict(issue.get("fields"))
    keys = [issue["key"]] if issue.get("key") else []
    tickets = refs.ids(issue_fields.get(settings.jira_zendesk_field)) if settings.jira_zendesk_field else []
    records = (
        refs.ids(issue_fields.get(settings.jira_salesforce_field)) if settings.jira_salesforce_field else []
    )
    return {
        "jira_issue_keys": keys,
        "zendesk_ticket_ids": refs.checked("zendesk_ticket_ids", tickets, dropped),
        "salesforce_ids": refs.checked("salesforce_ids", records, dropped),
    }


def _data(payload: dict[str, Any], issue: dict[str, Any], settings: Settings) -> dict[str, Any]:
    data: dict[str, Any] = {"site": _site(payload), "webhook_event": payload.get("webhookEvent")}
    if issue:
        data["issue"] = _issue_summary(issue)
    comment = _dict(payload.get("comment"))
    if comment:
        issue_id = issue.get("id") or _comment_issue_id(comment)
        data["comment"] = {
            "id": fields.name(comment.get("id")),
            "issue_id": str(issue_id) if issue_id else None,
            "body": fields.text(comment.get("body"), fields.MAX_TEXT),
        }
    link = _dict(payload.get("issueLink"))
    if link:
        link_type = _dict(link.get("issueLinkType"))
        data["issuelink"] = {
            "id": fields.name(link.get("id")),
            "source_issue_id": _optional_id(link.get("sourceIssueId"), "issueLink.sourceIssueId"),
            "destination_issue_id": _optional_id(
                link.get("destinationIssueId"), "issueLink.destinationIssueId"
            ),
            "type": fields.text(link_type.get("name")),
        }
    changelog = _dict(payload.get("changelog"))
    items = changelog.get("items")
    if isinstance(items, list) and items:
        data["changed_fields"] = fields.texts(
            [_field_name(item) for item in items[: fields.MAX_ITEMS] if isinstance(item, dict)]
        )
        # A move to another project: the issue keeps its id; the changelog's "Key" item has the old key.
        for item in items[: fields.MAX_ITEMS]:
            previous = (
                item.get("fromString") if isinstance(item, dict) and item.get("field") == "Key" else None
            )
            if isinstance(previous, str) and fields.is_jira_key(previous):
                data["previous_key"] = previous
    if issue:
        issue_fields = _dict(issue.get("fields"))
        # A custom field the body does not carry is unknown, not empty: it must not unlink anything. One
        # not configured names nothing, for good: known and empty (an event then tells the whole state).
        zendesk_field, salesforce_field = settings.jira_zendesk_field, settings.jira_salesforce_field
        data["refs_known"] = {
            "zendesk_ticket_ids": not zendesk_field or zendesk_field in issue_fields,
            "salesforce_ids": not salesforce_field or salesforce_field in issue_fields,
        }
    data["sequence_precision_ms"] = 1
    return data


def _field_name(item: dict[str, Any]) -> Any:
    return item.get("fieldId") or item.get("field")


def _optional_id(value: Any, what: str) -> str | None:
    return None if value is None else fields.numeric_id(value, what)


def _issue_summary(issue: dict[str, Any]) -> dict[str, Any]:
    issue_fields = _dict(issue.get("fields"))
    status = _dict(issue_fields.get("status"))
    return {
        "id": issue["id"] if isinstance(issue["id"], str) else str(issue["id"]),
        "key": issue["key"],
        "summary": fields.text(issue_fields.get("summary"), fields.MAX_TEXT),
        "status": fields.text(status.get("name")),
        "status_category": fields.text(_dict(status.get("statusCategory")).get("key")),
        "issuetype": fields.text(_dict(issue_fields.get("issuetype")).get("name")),
        "project": fields.text(_dict(issue_fields.get("project")).get("key")),
        "labels": fields.texts(issue_fields.get("labels")),
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
        authority = _AUTHORITY.match(self_url) if isinstance(self_url, str) else None
        if authority and _SITE.fullmatch(authority.group(1)):
            return authority.group(1).lower()
    return "unknown-site"


def _comment_issue_id(comment: dict[str, Any]) -> str | None:
    self_url = comment.get("self")
    match = _COMMENT_ISSUE_ID.search(self_url) if isinstance(self_url, str) else None
    return match.group(1) if match else None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
