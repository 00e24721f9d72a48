"""Jira Cloud platform REST v2: issue remote links and get issue (key → id); v3's issue search.

https://developer.atlassian.com/cloud/jira/platform/rest/v2/api-group-issue-remote-links/

Basic auth with ``JIRA_EMAIL`` and ``JIRA_API_TOKEN``. A create-or-update by ``globalId`` replaces the
whole link (fields not sent become null), so callers always send the complete link.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx
from pydantic import Field

from bridge.upstreams.models import UpstreamModel
from bridge.upstreams.transport import ApiTransport

if TYPE_CHECKING:
    from bridge.settings import Settings


class Issue(UpstreamModel):
    id: str
    key: str
    self_url: str | None = Field(default=None, alias="self")
    fields: dict[str, Any] = Field(default_factory=dict)


class RemoteLinkObject(UpstreamModel):
    url: str
    title: str
    summary: str | None = None
    icon: dict[str, Any] | None = None
    status: dict[str, Any] | None = None


class RemoteLink(UpstreamModel):
    """A remote link as sent (no id) or as read back (with ``id`` and ``self``)."""

    id: int | None = None
    self_url: str | None = Field(default=None, alias="self")
    global_id: str | None = Field(default=None, alias="globalId")
    application: dict[str, Any] | None = None
    relationship: str | None = None
    object: RemoteLinkObject


class RemoteLinkSaved(UpstreamModel):
    """The answer of a create-or-update: the link's id, and whether it was created (201) or updated (200)."""

    id: int
    self_url: str | None = Field(default=None, alias="self")
    created: bool = False


class SearchPage(UpstreamModel):
    """One page of the enhanced issue search: its issues, and the token of the next page (None: the last)."""

    issues: list[Issue] = Field(default_factory=list)
    next_page_token: str | None = Field(default=None, alias="nextPageToken")
    is_last: bool = Field(default=True, alias="isLast")


class JiraClient:
    """Issue remote links and get issue, over one pooled connection to ``JIRA_BASE_URL``."""

    def __init__(self, transport: ApiTransport) -> None:
        self.transport = transport

    def get_issue(
        self, key_or_id: str, fields: str | None = None, *, idempotency_key: str | None = None
    ) -> Issue:
        """Return the issue (its current key: Jira resolves moved keys), narrowed to ``fields``."""
        params = {"fields": fields} if fields is not None else None
        answer = self.transport.json(
            "GET", f"rest/api/2/issue/{_segment(key_or_id)}", params=params, idempotency_key=idempotency_key
        )
        return Issue.model_validate(answer)

    def search(
        self, jql: str, fields: str, next_page_token: str | None = None, max_results: int = 100
    ) -> SearchPage:
        """Return one page of the issues ``jql`` finds, with ``fields`` (comma-separated names).

        ``GET /rest/api/3/search/jql`` (https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issue-search/):
        paged by ``nextPageToken``, absent on the last page; the older ``/search`` is gone (410).
        """
        params: dict[str, str | int] = {"jql": jql, "fields": fields, "maxResults": max_results}
        if next_page_token is not None:
            params["nextPageToken"] = next_page_token
        return SearchPage.model_validate(self.transport.json("GET", "rest/api/3/search/jql", params=params))

    def list_remote_links(
        self, issue: str, global_id: str | None = None, *, idempotency_key: str | None = None
    ) -> list[RemoteLink]:
        """Return the issue's remote links (only the one with ``global_id`` when given)."""
        params = {"globalId": global_id} if global_id is not None else None
        answer = self.transport.json(
            "GET", _links(issue), params=params, idempotency_key=idempotency_key, expected=(200,)
        )
        items = answer if isinstance(answer, list) else [answer]
        return [RemoteLink.model_validate(item) for item in items]

    def upsert_remote_link(
        self, issue: str, link: RemoteLink, *, idempotency_key: str | None = None
    ) -> RemoteLinkSaved:
        """Create the link, or replace the one with the same ``globalId``."""
        response = self.transport.request(
            "POST", _links(issue), json=link.body(), idempotency_key=idempotency_key, expected=(200, 201)
        )
        saved = RemoteLinkSaved.model_validate(response.json())
        saved.created = response.status_code == 201
        return saved

    def delete_remote_link_by_global_id(
        self, issue: str, global_id: str, *, idempotency_key: str | None = None
    ) -> None:
        """Delete the issue's link with ``global_id``."""
        self.transport.request(
            "DELETE", _links(issue), params={"globalId": global_id}, idempotency_key=idempotency_key
        )

    def get_remote_link(self, issue: str, link_id: int, *, idempotency_key: str | None = None) -> RemoteLink:
        """Return one link by its Jira id."""
        answer = self.transport.json("GET", f"{_links(issue)}/{link_id}", idempotency_key=idempotency_key)
        return RemoteLink.model_validate(answer)

    def update_remote_link(
        self, issue: str, link_id: int, link: RemoteLink, *, idempotency_key: str | None = None
    ) -> None:
        """Replace one link by its Jira id."""
        self.transport.request(
            "PUT", f"{_links(issue)}/{link_id}", json=link.body(), idempotency_key=idempotency_key
        )

    def delete_remote_link(self, issue: str, link_id: int, *, idempotency_key: str | None = None) -> None:
        """Delete one link by its Jira id."""
        self.transport.request("DELETE", f"{_links(issue)}/{link_id}", idempotency_key=idempotency_key)

    def close(self) -> None:
        self.transport.close()


def _segment(value: str) -> str:
    # An issue key or id becomes one path segment, whatever it contains.
    return quote(str(value), safe="")


def _links(issue: str) -> str:
    return f"rest/api/2/issue/{_segment(issue)}/remotelink"


def from_settings(settings: Settings, transport: httpx.BaseTransport | None = None) -> JiraClient | None:
    """Return the client when ``JIRA_BASE_URL``, ``JIRA_EMAIL`` and ``JIRA_API_TOKEN`` are set, else None."""
    if not (settings.jira_base_url and settings.jira_email and settings.jira_api_token):
        return None
    credentials = (settings.jira_email, settings.jira_api_token.reveal())
    return JiraClient(ApiTransport(settings.jira_base_url, credentials, transport=transport))
