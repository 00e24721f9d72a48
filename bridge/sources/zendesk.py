"""Zendesk webhooks: verify, identify and normalize a delivery.

Two body shapes arrive (https://developer.zendesk.com/api-reference/event-connectors/webhooks/webhooks/):
event subscriptions (``type: zen:event-type:ticket.*``,
https://developer.zendesk.com/api-reference/webhooks/event-types/ticket-events) and trigger webhooks with
the body README.md tells admins to paste.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from typing import Any

from bridge.errors import DeliveryRejected
from bridge.event import Actor, Normalized, Refs
from bridge.settings import Settings
from bridge.sources import Delivery, fields, freshness, refs
from bridge.sources.fields import FieldError
from bridge.sources.signing import same, zendesk_signature

SOURCE = "zendesk"

_TYPE_PREFIX = "zen:event-type:"
_DELETED_EVENTS = {
    "ticket.soft_deleted": "soft",
    "ticket.permanently_deleted": "permanent",
    "ticket.deleted": "soft",
}
# A soft-deleted ticket can be restored for 30 days (https://support.zendesk.com/hc/en-us/articles/4408883872538).
_RESTORED_EVENTS = {"ticket.undeleted", "ticket.restored"}
_PRECISION_SECOND_MS = 1000
_PRECISION_MINUTE_MS = 60_000
"""Zendesk's clocks: ``updated_at`` of the Tickets API and of events has whole seconds; a trigger's
``{{ticket.updated_at_with_timestamp}}`` may render whole minutes."""
_SOLVED_STATUSES = {"solved", "closed"}
_TRIGGER_EVENTS = {"ticket.created", "ticket.updated", "ticket.solved", "ticket.deleted"}
_SUBJECT = re.compile(r"zen:ticket:([0-9]{1,19})")
_MINUTES_ONLY = re.compile(r"T[0-9]{1,2}:[0-9]{2}(?!:)")


def verify(delivery: Delivery, settings: Settings, now: datetime | None = None) -> None:
    """Check the HMAC over timestamp + body and that the timestamp is within the tolerance."""
    secret = settings.zendesk_webhook_secret
    if secret is None:
        raise DeliveryRejected(
            503, "Zendesk deliveries are refused: set ZENDESK_WEBHOOK_SECRET", "not_configured"
        )
    signature = delivery.headers.get("x-zendesk-webhook-signature")
    timestamp = delivery.headers.get("x-zendesk-webhook-signature-timestamp")
    if not signature or not timestamp:
        raise DeliveryRejected(
            401,
            "missing X-Zendesk-Webhook-Signature or X-Zendesk-Webhook-Signature-Timestamp",
            "missing_signature",
        )
    # The signature is checked first, so that a forged timestamp cannot tell anything apart.
    if not same(zendesk_signature(secret.reveal(), timestamp, delivery.body), signature):
        raise DeliveryRejected(401, "X-Zendesk-Webhook-Signature does not match", "bad_signature")
    signed_at = parse_time(timestamp)
    if signed_at is None:
        raise DeliveryRejected(401, "X-Zendesk-Webhook-Signature-Timestamp is not ISO 8601", "bad_timestamp")
    skew = abs(((now or delivery.received_at) - signed_at).total_seconds())
    if skew > settings.signature_tolerance_s:
        raise DeliveryRejected(
            401,
            f"signature timestamp is {int(skew)} s from now (tolerance {settings.signature_tolerance_s} s)",
            "stale_timestamp",
        )


def delivery_key(payload: dict[str, Any], delivery: Delivery) -> str:
    """Identify a delivery: X-Zendesk-Webhook-Invocation-Id, else the event's own ``id``, else a hash."""
    invocation = delivery.headers.get("x-zendesk-webhook-invocation-id")
    if invocation:
        return f"invocation:{fields.delivery_id(invocation)}"
    event_id = payload.get("id")
    if isinstance(event_id, str | int) and not isinstance(event_id, bool) and str(event_id):
        return f"event:{fields.delivery_id(str(event_id))}"
    webhook = delivery.headers.get("x-zendesk-webhook-id", "")
    return "sha256:" + hashlib.sha256(webhook.encode() + b"|" + delivery.body).hexdigest()[:32]


def normalize(payload: dict[str, Any], settings: Settings) -> Normalized:
    """Turn either Zendesk body shape into a normalized event; refuse bodies that are neither."""
    try:
        if isinstance(payload.get("type"), str):
            return _normalize_subscription(payload, settings)
        if isinstance(payload.get("ticket"), dict):
            return _normalize_trigger(payload, settings)
    except FieldError as error:
        raise DeliveryRejected(400, str(error), error.code) from None
    raise DeliveryRejected(400, "not a Zendesk ticket webhook: neither `type` nor `ticket`", "unknown_shape")


def admit(found: Normalized, delivery: Delivery, settings: Settings) -> None:
    """Refuse a ticket time ahead of now (the signature timestamp's age is checked by ``verify``)."""
    freshness.check_not_ahead(found, delivery.received_at)


def content_key(delivery: Delivery) -> str:
    """Identify what the signature covers: its timestamp and the body."""
    timestamp = delivery.headers.get("x-zendesk-webhook-signature-timestamp", "")
    return freshness.content_key(timestamp.encode("latin-1"), delivery.body)


def is_own(actor: Actor, settings: Settings) -> bool:
    """Tell whether the bridge's own Zendesk user caused the event."""
    own = settings.zendesk_bridge_user_id
    return own is not None and actor["id"] == own


def parse_time(text: Any) -> datetime | None:
    """Parse Zendesk's ISO 8601 times (with or without seconds, ``Z``, nanoseconds) as UTC."""
    if not isinstance(text, str) or not text or len(text) > 64:
        return None
    cleaned = text.strip().replace(" ", "T", 1)
    # Python parses at most microseconds: cut nanosecond fractions Zendesk sends in `time`.
    cleaned = re.sub(r"(\.\d{6})\d+", r"\1", cleaned)
    try:
        moment = datetime.fromisoformat(cleaned)
        # 9999-12-31T23:59:59-01:00 is a valid text whose UTC time does not exist.
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def _normalize_subscription(payload: dict[str, Any], settings: Settings) -> Normalized:
    full_type = payload["type"]
    if not full_type.startswith(_TYPE_PREFIX + "ticket."):
        raise DeliveryRejected(
            400, f"unsupported Zendesk event {full_type[:64]!r}: subscribe to ticket events", "unknown_event"
        )
    name = full_type[len(_TYPE_PREFIX) :]
    detail = _dict(payload.get("detail"))
    change = _dict(payload.get("event"))
    subject = payload.get("subject")
    match = _SUBJECT.fullmatch(subject) if isinstance(subject, str) else None
    given_id = detail.get("id") or (match.group(1) if match else None)
    if given_id is None:
        raise DeliveryRejected(400, f"{name} without a ticket id", "unknown_shape")
    ticket_id = fields.numeric_id(given_id, "detail.id")
    status = _status(detail.get("status"))
    current = _status(change.get("current"))
    deleted = _DELETED_EVENTS.get(name) or (
        "soft" if name == "ticket.status_changed" and current == "deleted" else None
    )
    if deleted:
        event_type = "ticket.deleted"
    elif name == "ticket.created":
        event_type = "ticket.created"
    elif name == "ticket.status_changed" and current in _SOLVED_STATUSES:
        event_type = "ticket.solved"
    else:
        event_type = "ticket.updated"
    occurred = parse_time(payload.get("time")) or parse_time(detail.get("updated_at"))
    if occurred is None:
        raise DeliveryRejected(400, f"{name} without a time", "unknown_shape")
    fields.in_range(occurred, "time")
    updated = fields.in_range(parse_time(detail.get("updated_at")) or occurred, "detail.updated_at")
    precision = _PRECISION_SECOND_MS
    # A deletion or a restore need not move ``updated_at``: its own time orders it after the last edit.
    if (deleted or name in _RESTORED_EVENTS) and occurred > updated:
        updated, precision = occurred, 1
    actor_id = fields.name(detail.get("actor_id")) or fields.name(change.get("actor_id"))
    dropped: list[refs.Dropped] = []
    keys = _subscription_keys(detail, change, settings, dropped)
    return Normalized(
        type=event_type,
        subject={"kind": "ticket", "id": ticket_id},
        actor={"id": actor_id, "name": None},
        occurred_at=occurred,
        sequence=_ms(updated),
        refs=_refs(ticket_id, keys or []),
        data=_with_dropped(
            {
                "status": current if name == "ticket.status_changed" and current else status,
                "subject": fields.text(detail.get("subject"), fields.MAX_TEXT),
                "priority": _status(detail.get("priority")) or None,
                "url": _ticket_url(settings, ticket_id, None),
                "event": name,
                "jira_keys_known": keys is not None,
                "account_id": fields.integer(payload.get("account_id")),
                "deleted": deleted,
                "sequence_precision_ms": precision,
            },
            dropped,
        ),
    )


def _normalize_trigger(payload: dict[str, Any], settings: Settings) -> Normalized:
    ticket = payload["ticket"]
    if not ticket.get("id"):
        raise DeliveryRejected(400, "trigger body without a numeric ticket.id", "unknown_shape")
    ticket_id = fields.numeric_id(ticket["id"], "ticket.id")
    event_name = payload.get("event") or "ticket.updated"
    if not isinstance(event_name, str) or event_name not in _TRIGGER_EVENTS:
        raise DeliveryRejected(400, f"unsupported trigger event {str(event_name)[:64]!r}", "unknown_event")
    status = _status(ticket.get("status"))
    if event_name == "ticket.updated" and status in _SOLVED_STATUSES:
        event_name = "ticket.solved"
    updated = parse_time(ticket.get("updated_at"))
    if updated is None:
        raise DeliveryRejected(400, "trigger body without a parseable ticket.updated_at", "unknown_shape")
    fields.in_range(updated, "ticket.updated_at")
    # "2013-12-12T05:35Z": a time without seconds stands for the whole minute.
    raw_updated = str(ticket.get("updated_at"))
    precision = _PRECISION_MINUTE_MS if _MINUTES_ONLY.search(raw_updated) else _PRECISION_SECOND_MS
    actor_id = fields.name(payload.get("actor_id")) or fields.name(ticket.get("updated_by_id"))
    dropped: list[refs.Dropped] = []
    keys = refs.checked("jira_issue_keys", refs.jira_keys(ticket.get("jira_issue_keys")), dropped)
    return Normalized(
        type=event_name,
        subject={"kind": "ticket", "id": ticket_id},
        actor={"id": actor_id, "name": None},
        occurred_at=updated,
        sequence=_ms(updated),
        refs=_refs(ticket_id, keys),
        data=_with_dropped(
            {
                "status": status,
                "subject": fields.text(ticket.get("subject"), fields.MAX_TEXT),
                "priority": _status(ticket.get("priority")) or None,
                "url": _ticket_url(settings, ticket_id, ticket.get("url")),
                "event": event_name,
                # The trigger body always carries the field: empty means the keys were cleared.
                "jira_keys_known": True,
                "deleted": "soft" if event_name == "ticket.deleted" else None,
                "sequence_precision_ms": precision,
            },
            dropped,
        ),
    )


def _status(value: Any) -> str:
    """A status or priority as rules compare it: lower case, "" when the body has none.

    Zendesk renders the display name (``Open``) in triggers and upper case (``OPEN``) in event
    subscriptions; custom statuses keep their own names. Anything but a text is no status.
    """
    found = fields.text(value.strip() if isinstance(value, str) else None)
    return found.lower() if found else ""


def _with_dropped(data: dict[str, Any], dropped: list[refs.Dropped]) -> dict[str, Any]:
    if dropped:
        data["dropped_refs"] = dropped
    return data


def _subscription_keys(
    detail: dict[str, Any], change: dict[str, Any], settings: Settings, dropped: list[refs.Dropped]
) -> list[str] | None:
    """Jira keys from the configured ticket field, in the snapshot or in a custom-field change.

    None when the event does not carry the field at all: "no keys" and "not told" must stay apart, or a
    priority change would look like every key having been removed from the ticket.
    """
    field_id = settings.zendesk_jira_field_id
    if field_id is None:
        return None
    custom_fields = detail.get("custom_fields")
    for custom in custom_fields if isinstance(custom_fields, list) else []:
        if isinstance(custom, dict) and fields.name(custom.get("id")) == field_id:
            return refs.checked("jira_issue_keys", refs.jira_keys(custom.get("value")), dropped)
    changed_field = _dict(change.get("field") or change.get("custom_field"))
    if fields.name(changed_field.get("id", change.get("field_id"))) == field_id:
        return refs.checked("jira_issue_keys", refs.jira_keys(change.get("current")), dropped)
    return None


def _refs(ticket_id: str, jira_keys: list[str]) -> Refs:
    return {"jira_issue_keys": jira_keys, "zendesk_ticket_ids": [ticket_id], "salesforce_ids": []}


def _ticket_url(settings: Settings, ticket_id: str, given: Any) -> str | None:
    if isinstance(given, str) and given.strip():
        url = given.strip()
        # {{ticket.link}} renders without a scheme ("example.zendesk.com/agent/tickets/1").
        found = fields.http_url(url if url.startswith(("http://", "https://")) else f"https://{url}")
        if found is not None:
            return found
    if settings.zendesk_base_url:
        return f"{settings.zendesk_base_url}/agent/tickets/{ticket_id}"
    return None


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
