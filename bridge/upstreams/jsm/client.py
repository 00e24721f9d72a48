"""Jira Service Management ops: an integration's actions (endpoints marked experimental).

https://developer.atlassian.com/cloud/jira/service-desk-ops/rest/v2/api-group-integration-actions/

Basic auth with ``JSM_EMAIL`` and ``JSM_API_TOKEN``; the base URL runs up to and including the cloud id.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, urlsplit

import httpx
from pydantic import Field

from bridge.upstreams.models import UpstreamModel
from bridge.upstreams.transport import ApiTransport

if TYPE_CHECKING:
    from bridge.settings import Settings

PAGE_SIZE = 50
"""The API's default page size."""


class IntegrationAction(UpstreamModel):
    id: str | None = None
    name: str
    type: str
    direction: str | None = None
    domain: str | None = None
    group_type: str | None = Field(default=None, alias="groupType")
    action_mapping_type: str | None = Field(default=None, alias="actionMappingType")
    enabled: bool | None = None
    filter: dict[str, Any] | None = None


class ActionPage(UpstreamModel):
    values: list[IntegrationAction] = Field(default_factory=list)
    links: dict[str, Any] = Field(default_factory=dict)


class JsmOpsClient:
    """Integration actions at ``JSM_OPS_BASE_URL``."""

    def __init__(self, transport: ApiTransport) -> None:
        self.transport = transport

    def iter_actions(
        self, integration_id: str, *, idempotency_key: str | None = None, **filters: str
    ) -> Iterator[IntegrationAction]:
        """Yield every action of the integration, following ``links.next`` page by page."""
        offset = 0
        while True:
            params: dict[str, str | int] = {**filters, "offset": offset, "size": PAGE_SIZE}
            page = ActionPage.model_validate(
                self.transport.json(
                    "GET", _actions(integration_id), params=params, idempotency_key=idempotency_key
                )
            )
            yield from page.values
            following = page.links.get("next")
            if not following or not page.values:
                return
            # Only the next offset is taken from the link: the bridge never follows a URL it was sent.
            query = dict(parse_qsl(urlsplit(str(following)).query))
            offset = int(query.get("offset", offset + len(page.values)))

    def create_action(
        self, integration_id: str, action: Mapping[str, Any], *, idempotency_key: str | None = None
    ) -> IntegrationAction:
        """Create an action (``type``, ``name``, ``domain``, ``direction``, ``filter`` … as the page lists)."""
        answer = self.transport.json(
            "POST", _actions(integration_id), json=dict(action), idempotency_key=idempotency_key
        )
        return IntegrationAction.model_validate(answer)

    def get_action(
        self, integration_id: str, action_id: str, *, idempotency_key: str | None = None
    ) -> IntegrationAction:
        """Return one action."""
        answer = self.transport.json(
            "GET", _action(integration_id, action_id), idempotency_key=idempotency_key
        )
        return IntegrationAction.model_validate(answer)

    def update_action(
        self,
        integration_id: str,
        action_id: str,
        changes: Mapping[str, Any],
        *,
        idempotency_key: str | None = None,
    ) -> IntegrationAction:
        """Patch the fields in ``changes``."""
        answer = self.transport.json(
            "PATCH", _action(integration_id, action_id), json=dict(changes), idempotency_key=idempotency_key
        )
        return IntegrationAction.model_validate(answer)

    def delete_action(
        self, integration_id: str, action_id: str, *, idempotency_key: str | None = None
    ) -> None:
        """Delete one action."""
        self.transport.request("DELETE", _action(integration_id, action_id), idempotency_key=idempotency_key)

    def reorder_action(
        self,
        integration_id: str,
        action_id: str,
        successor_id: str | None,
        *,
        idempotency_key: str | None = None,
    ) -> None:
        """Move the action just before ``successor_id`` (None: to the end)."""
        self.transport.request(
            "PATCH",
            _action(integration_id, action_id) + "/order",
            json={"successorId": successor_id},
            idempotency_key=idempotency_key,
        )

    def close(self) -> None:
        self.transport.close()


def _actions(integration_id: str) -> str:
    return f"v1/integrations/{quote(integration_id, safe='')}/actions"


def _action(integration_id: str, action_id: str) -> str:
    return f"{_actions(integration_id)}/{quote(action_id, safe='')}"


def from_settings(settings: Settings, transport: httpx.BaseTransport | None = None) -> JsmOpsClient | None:
    """Return the client when ``JSM_OPS_BASE_URL``, ``JSM_EMAIL`` and ``JSM_API_TOKEN`` are set."""
    if not (settings.jsm_ops_base_url and settings.jsm_email and settings.jsm_api_token):
        return None
    credentials = (settings.jsm_email, settings.jsm_api_token.reveal())
    return JsmOpsClient(ApiTransport(settings.jsm_ops_base_url, credentials, transport=transport))
