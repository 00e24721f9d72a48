"""Appfire's Connector for Salesforce & Jira (Data Center): associations of a Jira issue.

https://appfire.atlassian.net/wiki/spaces/CSFJIRA/pages/2375843900/POST+api+associations

Bearer personal access token. ``replace=false`` adds without duplicating; ``replace=true`` removes the
issue's associations first. More than 1000 per issue is refused here, before anything is sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import httpx
from pydantic import Field

from bridge.errors import RequestRefused
from bridge.upstreams.models import UpstreamModel
from bridge.upstreams.transport import ApiTransport

if TYPE_CHECKING:
    from bridge.settings import Settings

ASSOCIATIONS_PATH = "rest/com.servicerocket.jira.salesforce/1.0/api/external/associations"
MAX_ASSOCIATIONS = 1000
"""The connector's limit of associations per Jira issue."""


class Association(UpstreamModel):
    son: str
    soid: str
    view_only: bool = Field(default=False, alias="viewOnly")
    auto_push: bool = Field(default=False, alias="autoPush")
    auto_pull: bool = Field(default=False, alias="autoPull")
    jira_issue_id: str | None = Field(default=None, alias="jiraIssueId")


class AssociationsSaved(UpstreamModel):
    data: list[Association] = Field(default_factory=list)
    message: str | None = None
    success: bool | None = None


class SalesforceConnectorClient:
    """Associations on the Jira Data Center site at ``SALESFORCE_CONNECTOR_BASE_URL``."""

    def __init__(self, transport: ApiTransport) -> None:
        self.transport = transport

    def list_associations(self, issue: str, *, idempotency_key: str | None = None) -> list[Association]:
        """Return the issue's associations."""
        answer: Any = self.transport.json(
            "GET", ASSOCIATIONS_PATH, params={"jiraIssueIdOrKey": issue}, idempotency_key=idempotency_key
        )
        items = answer.get("data", []) if isinstance(answer, dict) else answer
        return [Association.model_validate(item) for item in items]

    def add_associations(
        self, issue: str, associations: Sequence[Association], *, idempotency_key: str | None = None
    ) -> AssociationsSaved:
        """Add ``associations`` to the issue; ones it already has are not duplicated."""
        return self._post(issue, associations, replace=False, idempotency_key=idempotency_key)

    def replace_associations(
        self, issue: str, associations: Sequence[Association], *, idempotency_key: str | None = None
    ) -> AssociationsSaved:
        """Make ``associations`` the issue's only ones."""
        return self._post(issue, associations, replace=True, idempotency_key=idempotency_key)

    def _post(
        self, issue: str, associations: Sequence[Association], *, replace: bool, idempotency_key: str | None
    ) -> AssociationsSaved:
        if len(associations) > MAX_ASSOCIATIONS:
            raise RequestRefused(
                f"{len(associations)} associations for {issue}: the connector allows {MAX_ASSOCIATIONS} per issue"
            )
        body = [association.body() for association in associations]
        for item in body:
            item.pop("jiraIssueId", None)
        answer = self.transport.json(
            "POST",
            ASSOCIATIONS_PATH,
            params={"jiraIssueIdOrKey": issue, "replace": "true" if replace else "false"},
            json=body,
            idempotency_key=idempotency_key,
        )
        return AssociationsSaved.model_validate(answer)

    def close(self) -> None:
        self.transport.close()


def from_settings(
    settings: Settings, transport: httpx.BaseTransport | None = None
) -> SalesforceConnectorClient | None:
    """Return the client when ``SALESFORCE_CONNECTOR_BASE_URL`` and ``SALESFORCE_CONNECTOR_PAT`` are set."""
    if not (settings.salesforce_connector_base_url and settings.salesforce_connector_pat):
        return None
    headers = {"Authorization": f"Bearer {settings.salesforce_connector_pat.reveal()}"}
    return SalesforceConnectorClient(
        ApiTransport(settings.salesforce_connector_base_url, headers=headers, transport=transport)
    )
