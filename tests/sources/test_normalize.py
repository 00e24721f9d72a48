"""Every inbound shape the contract lists, normalized from realistic fixtures (tests/samples/) into event v1."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import orjson
import pytest

from bridge.errors import DeliveryRejected
from bridge.event import build_event
from bridge.settings import Settings
from bridge.sources import Delivery, jira, zendesk

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
SETTINGS = Settings(
    jira_zendesk_field="customfield_10050",
    jira_salesforce_field="customfield_10060",
    zendesk_base_url="https://acme.zendesk.com",
    jira_bridge_account_id="bridge-account",
    zendesk_bridge_user_id="900",
)
TICKET_KEYS = ["SUP-42", "SUP-43", "SUP-44"]

# The contract's event, version 1, as a JSON Schema.
EVENT_V1 = {
    "type": "object",
    "required": ["version", "id", "source", "type", "delivery_id", "occurred_at", "sequence", "actor", "subject",
                 "refs", "data", "received_at"],
    "additionalProperties": False,
    "properties": {
        "version": {"const": 1},
        "id": {"type": "string", "minLength": 1},
        "source": {"enum": ["jira", "zendesk"]},
        "type": {"enum": ["issue.created", "issue.updated", "issue.deleted", "comment.created", "comment.updated",
                          "comment.deleted", "issuelink.created", "issuelink.deleted", "ticket.created",
                          "ticket.updated", "ticket.solved", "ticket.deleted"]},
        "delivery_id": {"type": "string", "minLength": 1},
        "occurred_at": {"type": "string", "pattern": r"^\d{4}-\d\d-\d\dT"},
        "sequence": {"type": "integer", "minimum": 0},
        "actor": {"type": "object", "required": ["id", "name"]},
        "subject": {"type": "object", "required": ["kind", "id"],
                    "properties": {"kind": {"enum": ["issue", "comment", "issuelink", "ticket"]},
                                   "id": {"type": "string"}, "key": {"type": "string"}}},
        "refs": {"type": "object", "required": ["jira_issue_keys", "zendesk_ticket_ids", "salesforce_ids"],
                 "additionalProperties": False,
                 "properties": {name: {"type": "array", "items": {"type": "string"}}
                                for name in ("jira_issue_keys", "zendesk_ticket_ids", "salesforce_ids")}},
        "data": {"type": "object"},
        "received_at": {"type": "string"},
    },
}  # fmt: skip


def _load(source: str, name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = orjson.loads((SAMPLES / source / f"{name}.json").read_bytes())
    return loaded


JIRA_CASES = [
    # fixture, type, subject, sequence, actor id, zendesk ids, salesforce ids
    ("cloud_issue_created", "issue.created", {"kind": "issue", "id": "10042", "key": "SUP-42"}, 1795600000000,
     "5b10a2844c20165700ede21g", ["5101", "5102"], ["500J80000019IF9IAM", "500J80000019IF9IAN"]),
    ("cloud_issue_updated", "issue.updated", {"kind": "issue", "id": "10042", "key": "SUP-42"}, 1795600060000,
     "5b10a2844c20165700ede21g", ["5103"], ["500J80000019IF9IAM", "500J80000019IF9IAN"]),
    ("cloud_issue_deleted", "issue.deleted", {"kind": "issue", "id": "10042", "key": "SUP-42"}, 1795600120000,
     "5b10a2844c20165700ede21g", ["5101", "5102"], ["500J80000019IF9IAM", "500J80000019IF9IAN"]),
    ("cloud_comment_created", "comment.created", {"kind": "comment", "id": "10400"}, 1795600180000,
     "5b10a2844c20165700ede21g", [], []),
    ("cloud_comment_updated", "comment.updated", {"kind": "comment", "id": "10400"}, 1795600240000,
     "5b10a2844c20165700ede21g", [], []),
    ("cloud_comment_deleted", "comment.deleted", {"kind": "comment", "id": "10400"}, 1795600300000,
     "5b10a2844c20165700ede21g", [], []),
    ("cloud_issuelink_created", "issuelink.created", {"kind": "issuelink", "id": "10300"}, 1795600360000,
     None, [], []),
    ("cloud_issuelink_deleted", "issuelink.deleted", {"kind": "issuelink", "id": "10300"}, 1795600420000,
     None, [], []),
    ("dc_issue_updated", "issue.updated", {"kind": "issue", "id": "10042", "key": "SUP-42"}, 1795600480000,
     "JIRAUSER10100", ["5104", "5105"], ["500J80000019IF9IAM", "500J80000019IF9IAN"]),
]  # fmt: skip


@pytest.mark.parametrize(("name", "kind", "subject", "sequence", "actor", "tickets", "records"), JIRA_CASES)
def test_jira_fixture_normalizes_to_event_v1(
    name: str,
    kind: str,
    subject: dict[str, str],
    sequence: int,
    actor: str | None,
    tickets: list[str],
    records: list[str],
) -> None:
    found = jira.normalize(_load("jira", name), SETTINGS)
    event = build_event(found, "jira", "delivery-1", datetime.now(UTC))

    jsonschema.validate(event, EVENT_V1)
    assert (event["type"], event["subject"], event["sequence"]) == (kind, subject, sequence)
    assert event["actor"]["id"] == actor
    assert event["refs"]["zendesk_ticket_ids"] == tickets
    assert event["refs"]["salesforce_ids"] == records
    assert event["occurred_at"].startswith(
        datetime.fromtimestamp(sequence / 1000, UTC).strftime("%Y-%m-%dT%H:%M")
    )


def test_jira_delivery_identity_is_site_and_identifier_else_a_content_hash() -> None:
    cloud = _load("jira", "cloud_issue_updated")
    with_id = Delivery({"x-atlassian-webhook-identifier": "69312270414585119"}, {}, b"", datetime.now(UTC))
    dc = _load("jira", "dc_issue_updated")
    without_id = Delivery({}, {}, b"", datetime.now(UTC))

    assert jira.delivery_key(cloud, with_id) == jira.delivery_key(cloud, with_id)
    assert "acme.atlassian.net" in jira.delivery_key(cloud, with_id)
    assert "69312270414585119" in jira.delivery_key(cloud, with_id)
    # Data Center without an identifier: the same event, entity and timestamp is the same delivery ...
    assert jira.delivery_key(dc, without_id) == jira.delivery_key(
        _load("jira", "dc_issue_updated"), without_id
    )
    # ... and another timestamp is another delivery.
    later = {**dc, "timestamp": dc["timestamp"] + 1}
    assert jira.delivery_key(dc, without_id) != jira.delivery_key(later, without_id)


@pytest.mark.parametrize(
    ("self_url", "site"),
    [
        ("https://acme.atlassian.net/rest/api/2/issue/10001", "acme.atlassian.net"),
        ("HTTPS://Jira.Example.COM:8443/rest/api/2/issue/1?expand=x", "jira.example.com:8443"),
        ("https://jira.example.com?a=/b", "jira.example.com"),
        # Not a host a dedupe key may carry: userinfo, IPv6 brackets, spaces, no scheme, not a URL.
        ("https://user:secret@jira.example.com/x", "unknown-site"),
        ("http://[no-ipv6", "unknown-site"),
        ("https://jira example.com/", "unknown-site"),
        ("//jira.example.com/x", "unknown-site"),
        ("jira.example.com", "unknown-site"),
        ("", "unknown-site"),
    ],
)
def test_a_jira_delivery_s_site_is_the_host_of_its_issue_url_or_unknown(self_url: str, site: str) -> None:
    payload = {"issue": {"self": self_url}}
    with_id = Delivery({"x-atlassian-webhook-identifier": "42"}, {}, b"", datetime.now(UTC))
    assert jira.delivery_key(payload, with_id) == f"{site}:42"


def _ms(moment: str) -> int:
    return int(datetime.fromisoformat(moment).replace(tzinfo=UTC).timestamp() * 1000)


ZENDESK_CASES = [
    ("subscription_ticket_created", "ticket.created", "5201", _ms("2026-11-24T11:00:00"), "8447388090494", [], False),
    ("subscription_status_solved", "ticket.solved", "5201", _ms("2026-11-24T12:30:00"), "8447388090494", [], False),
    # updated_at without seconds (13:05Z) and with them (13:10:07Z), as Zendesk renders the placeholder.
    ("trigger_solved_keys_mixed", "ticket.solved", "5202", _ms("2026-11-24T13:05:00"), None, TICKET_KEYS, True),
    ("trigger_keys_cleared", "ticket.updated", "5203", _ms("2026-11-24T13:10:07"), None, [], True),
]  # fmt: skip


@pytest.mark.parametrize(("name", "kind", "ticket", "sequence", "actor", "keys", "keys_known"), ZENDESK_CASES)
def test_zendesk_fixture_normalizes_to_event_v1(
    name: str, kind: str, ticket: str, sequence: int, actor: str | None, keys: list[str], keys_known: bool
) -> None:
    found = zendesk.normalize(_load("zendesk", name), SETTINGS)
    event = build_event(found, "zendesk", "delivery-2", datetime.now(UTC))

    jsonschema.validate(event, EVENT_V1)
    assert event["subject"] == {"kind": "ticket", "id": ticket}
    assert event["sequence"] == sequence
    assert event["actor"]["id"] == actor
    assert event["refs"]["jira_issue_keys"] == keys
    assert event["refs"]["zendesk_ticket_ids"] == [ticket]
    assert event["data"]["jira_keys_known"] is keys_known
    assert event["type"] == kind


def test_trigger_status_display_names_compare_without_case() -> None:
    for status in ("Solved", "SOLVED", "solved", "Closed"):
        payload = _load("zendesk", "trigger_keys_cleared")
        payload["ticket"]["status"] = status
        assert zendesk.normalize(payload, SETTINGS).type == "ticket.solved"


def test_events_caused_by_the_bridges_own_accounts_are_recognized() -> None:
    own = _load("jira", "cloud_issue_updated")
    own["user"]["accountId"] = "bridge-account"
    assert jira.is_own(jira.normalize(own, SETTINGS).actor, SETTINGS)
    assert not jira.is_own(jira.normalize(_load("jira", "cloud_issue_updated"), SETTINGS).actor, SETTINGS)
    mine = _load("zendesk", "subscription_ticket_created")
    mine["detail"]["actor_id"] = "900"
    assert zendesk.is_own(zendesk.normalize(mine, SETTINGS).actor, SETTINGS)


@pytest.mark.parametrize(
    ("source", "payload", "reason"),
    [
        (jira, {"timestamp": 1, "webhookEvent": "jira:worklog_updated"}, "unsupported Jira event"),
        (jira, {"webhookEvent": "jira:issue_updated", "issue": {"id": "1", "key": "A-1"}}, "timestamp"),
        (
            jira,
            {"timestamp": 1606480436302, "webhookEvent": "jira:issue_updated", "issue": {}},
            "without issue id",
        ),
        (jira, {"issue": {}}, "no webhookEvent"),
        (
            zendesk,
            {"type": "zen:event-type:user.created", "id": "x", "time": "2026-11-24T11:00:00Z"},
            "unsupported",
        ),
        (zendesk, {"hello": "world"}, ""),
    ],
)
def test_unknown_or_malformed_shapes_are_refused_with_a_reason(
    source: Any, payload: dict[str, Any], reason: str
) -> None:
    with pytest.raises(DeliveryRejected) as refused:
        source.normalize(payload, SETTINGS)
    assert refused.value.status == 400
    assert reason in str(refused.value)
