"""Realistic events for rule tests, built by the real normalizers from sample deliveries."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bridge import samples
from bridge.event import Event, build_event
from bridge.rules.model import PlannedAction
from bridge.settings import Secret, Settings
from bridge.sources import jira, zendesk

SAMPLES = Path(__file__).parent / "samples"
ZENDESK_URL = "https://example.zendesk.com"

SETTINGS = Settings(
    zendesk_base_url=ZENDESK_URL,
    zendesk_api_token=Secret("zendesk-token-must-not-leak"),
    jira_api_token=Secret("jira-token-must-not-leak"),
    jira_zendesk_field="customfield_10050",
    jira_salesforce_field="customfield_10051",
    zendesk_jira_field_id="360000000001",
    jsm_integration_id="sandbox-integration",
)
"""Settings without Connect: rule 6 stays quiet."""

CONNECT_SETTINGS = SETTINGS.replace(
    jira_connect_app_key="bridge-sandbox-app",
    jira_connect_shared_secret=Secret("connect-secret-must-not-leak"),
)
"""Settings with Connect credentials: rule 6 submits Jira Software remote links."""


def zendesk_event(payload: dict[str, Any], settings: Settings = SETTINGS) -> Event:
    """Normalize a Zendesk delivery body into an event."""
    return build_event(zendesk.normalize(payload, settings), "zendesk", "delivery-z", datetime.now(UTC))


def jira_event(payload: dict[str, Any], settings: Settings = SETTINGS) -> Event:
    """Normalize a Jira delivery body into an event."""
    return build_event(jira.normalize(payload, settings), "jira", "delivery-j", datetime.now(UTC))


def ticket(ticket_id: str = "5001", keys: str = "PROJ-1", status: str = "Open") -> Event:
    """A Zendesk trigger event (the contract's body) for a ticket referencing ``keys``."""
    return zendesk_event(samples.zendesk_trigger(ticket_id, keys, status))


def subscription(name: str, settings: Settings = SETTINGS) -> Event:
    """A Zendesk event-subscription event from ``tests/rules/samples/<name>.json``."""
    return zendesk_event(json.loads((SAMPLES / f"{name}.json").read_text()), settings)


def issue(
    key: str = "PROJ-1",
    tickets: str | None = "5001",
    salesforce: Any = None,
    event: str = "jira:issue_updated",
    issuetype: str | None = None,
    status: tuple[str, str] | None = None,
) -> Event:
    """A Jira issue event; ``status`` is (name, category key), with a changelog entry for it."""
    payload = samples.jira_issue(key, tickets or "", event=event)
    fields = payload["issue"]["fields"]
    if tickets is None:
        fields["customfield_10050"] = None
    fields["customfield_10051"] = salesforce
    if issuetype is not None:
        fields["issuetype"]["name"] = issuetype
    if status is not None:
        fields["status"]["name"], fields["status"]["statusCategory"]["key"] = status
        payload["changelog"]["items"][0]["toString"] = status[0]
    else:
        payload["changelog"]["items"][0].update(field="summary", fieldId="summary")
    return jira_event(payload)


def calls(planned: list[PlannedAction]) -> list[tuple[str, str, str]]:
    """Summarize planned actions as (rule, kind, target), in plan order."""
    return [(action.rule, action.kind, action.target) for action in planned]
