"""What rules can see besides the event: a view of the settings without any secret, and ``linked``."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from bridge.event import Event
from bridge.rules.model import Linked
from bridge.settings import Settings


@dataclass(frozen=True)
class RulesSettings:
    """The settings a rule may read: base URLs, field ids and switches, never a token or secret."""

    jira_base_url: str | None = None
    zendesk_base_url: str | None = None
    salesforce_connector_base_url: str | None = None
    jsm_ops_base_url: str | None = None
    zendesk_jira_field_id: str | None = None
    jira_zendesk_field: str | None = None
    jira_salesforce_field: str | None = None
    salesforce_object_type: str = "Case"
    jsm_integration_id: str | None = None
    connect_enabled: bool = False
    """True when Jira Software remote links can be submitted (Connect app key and shared secret set)."""

    @classmethod
    def of(cls, settings: Settings) -> RulesSettings:
        """Take the non-secret part of ``settings``."""
        return cls(
            jira_base_url=settings.jira_base_url,
            zendesk_base_url=settings.zendesk_base_url,
            salesforce_connector_base_url=settings.salesforce_connector_base_url,
            jsm_ops_base_url=settings.jsm_ops_base_url,
            zendesk_jira_field_id=settings.zendesk_jira_field_id,
            jira_zendesk_field=settings.jira_zendesk_field,
            jira_salesforce_field=settings.jira_salesforce_field,
            salesforce_object_type=settings.salesforce_object_type,
            jsm_integration_id=settings.jsm_integration_id,
            connect_enabled=bool(settings.jira_connect_app_key and settings.jira_connect_shared_secret),
        )


SETTINGS_FIELDS = frozenset(field.name for field in dataclasses.fields(RulesSettings))
"""Attributes of ``settings`` in rules."""

LINKED_FIELDS = frozenset(field.name for field in dataclasses.fields(Linked))
"""Attributes of ``linked`` in rules."""


def rule_context(event: Event, settings: Settings | RulesSettings, linked: Linked) -> dict[str, Any]:
    """Return the names conditions and templates are evaluated with."""
    view = settings if isinstance(settings, RulesSettings) else RulesSettings.of(settings)
    return {"event": event, "settings": view, "linked": linked}
