"""Jira Software Cloud remote links, as a Connect app.

https://developer.atlassian.com/cloud/jira/software/rest/api-group-remote-links/

Authenticated with a Connect JWT per request (``connect_jwt.py``), never a shared token. A bulk submit
that Jira finds too large (413; the page declares no batch limit) is split in halves and resubmitted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

import httpx
from pydantic import Field

from bridge.errors import PermanentUpstreamError
from bridge.upstreams.jira_software.connect_jwt import ConnectJwtAuth
from bridge.upstreams.models import UpstreamModel
from bridge.upstreams.transport import ApiTransport

if TYPE_CHECKING:
    from bridge.settings import Settings

BULK_PATH = "rest/remotelinks/1.0/bulk"


class SoftwareRemoteLink(UpstreamModel):
    id: str
    update_sequence_number: int = Field(alias="updateSequenceNumber")
    display_name: str = Field(alias="displayName")
    url: str
    type: str
    last_updated: str = Field(alias="lastUpdated")
    description: str | None = None
    associations: list[dict[str, Any]] | None = None
    status: dict[str, Any] | None = None
    schema_version: str | None = Field(default=None, alias="schemaVersion")


class SubmitResult(UpstreamModel):
    accepted_remote_links: list[str] = Field(default_factory=list, alias="acceptedRemoteLinks")
    rejected_remote_links: dict[str, list[dict[str, Any]]] = Field(
        default_factory=dict, alias="rejectedRemoteLinks"
    )
    unknown_associations: list[dict[str, Any]] = Field(default_factory=list, alias="unknownAssociations")

    def merge(self, other: SubmitResult) -> SubmitResult:
        return SubmitResult(
            acceptedRemoteLinks=self.accepted_remote_links + other.accepted_remote_links,
            rejectedRemoteLinks={**self.rejected_remote_links, **other.rejected_remote_links},
            unknownAssociations=self.unknown_associations + other.unknown_associations,
        )


class JiraSoftwareClient:
    """Remote links of the Connect app ``JIRA_CONNECT_APP_KEY`` on ``JIRA_BASE_URL``."""

    def __init__(self, transport: ApiTransport) -> None:
        self.transport = transport

    def submit_remote_links(
        self,
        links: Sequence[SoftwareRemoteLink],
        properties: Mapping[str, str] | None = None,
        provider_metadata: Mapping[str, str] | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> SubmitResult:
        """Submit ``links`` (upserts keyed by id; Jira ignores a sequence number not above the stored one)."""
        body: dict[str, Any] = {"remoteLinks": [link.body() for link in links]}
        if properties:
            body["properties"] = dict(properties)
        if provider_metadata:
            body["providerMetadata"] = dict(provider_metadata)
        try:
            answer = self.transport.json(
                "POST", BULK_PATH, json=body, idempotency_key=idempotency_key, expected=(200, 202)
            )
        except PermanentUpstreamError as exc:
            if exc.status != 413 or len(links) < 2:
                raise
            half = len(links) // 2
            first = self.submit_remote_links(links[:half], properties, provider_metadata)
            return first.merge(self.submit_remote_links(links[half:], properties, provider_metadata))
        return SubmitResult.model_validate(answer)

    def delete_remote_links_by_properties(
        self, properties: Mapping[str, str], *, idempotency_key: str | None = None
    ) -> None:
        """Delete every link of the app whose properties match all of ``properties`` (asynchronous)."""
        self.transport.request(
            "DELETE",
            "rest/remotelinks/1.0/bulkByProperties",
            params=dict(properties),
            idempotency_key=idempotency_key,
        )

    def get_remote_link(self, link_id: str, *, idempotency_key: str | None = None) -> SoftwareRemoteLink:
        """Return one link by its id."""
        answer = self.transport.json("GET", _link(link_id), idempotency_key=idempotency_key)
        return SoftwareRemoteLink.model_validate(answer)

    def delete_remote_link(self, link_id: str, *, idempotency_key: str | None = None) -> None:
        """Delete one link by its id (asynchronous at Jira)."""
        self.transport.request("DELETE", _link(link_id), idempotency_key=idempotency_key)

    def close(self) -> None:
        self.transport.close()


def _link(link_id: str) -> str:
    return f"rest/remotelinks/1.0/remotelink/{quote(link_id, safe='')}"


def from_settings(
    settings: Settings, transport: httpx.BaseTransport | None = None
) -> JiraSoftwareClient | None:
    """Return the client when ``JIRA_BASE_URL`` and the Connect app's key and shared secret are set."""
    if not (settings.jira_base_url and settings.jira_connect_app_key and settings.jira_connect_shared_secret):
        return None
    auth = ConnectJwtAuth(
        settings.jira_connect_app_key,
        settings.jira_connect_shared_secret.reveal(),
        urlsplit(settings.jira_base_url).path,
    )
    return JiraSoftwareClient(ApiTransport(settings.jira_base_url, auth, transport=transport))
