"""Zendesk Support: links between tickets and Jira issues, and the tickets themselves (read only).

https://developer.zendesk.com/api-reference/ticketing/jira/links/
https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/
https://developer.zendesk.com/api-reference/ticketing/ticket-management/incremental_exports/

Basic auth as ``{email}/token:{api_token}``. The cursor list is an iterator over every page; the
deprecated ``since_id`` list is kept for accounts that still depend on it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import httpx
from pydantic import Field, field_validator

from bridge.upstreams.models import UpstreamModel
from bridge.upstreams.transport import ApiTransport

if TYPE_CHECKING:
    from bridge.settings import Settings

LINKS_PATH = "api/v2/jira/links"
"""The cursor-paginated list."""
SERVICE_PATH = "api/services/jira/links"
"""Create, show, delete and the deprecated ``since_id`` list live here (the page's paths)."""

SHOW_MANY_MAX = 100
"""Most ids one ``show_many`` request takes (Zendesk's limit)."""


class JiraLink(UpstreamModel):
    id: int
    ticket_id: str
    issue_id: str
    issue_key: str
    url: str | None = None
    created_at: str | None = None
    updated_at: str | None = None

    @field_validator("ticket_id", "issue_id", mode="before")
    @classmethod
    def _as_text(cls, value: Any) -> str:
        # The docs disagree on string vs integer; live answers carry strings. Compare as text.
        return str(value)


class Ticket(UpstreamModel):
    """A ticket as the Tickets API shows it (only what the bridge reads is typed)."""

    id: int
    subject: str | None = None
    status: str = ""
    priority: str | None = None
    updated_at: str
    url: str | None = None
    custom_fields: list[dict[str, Any]] = Field(default_factory=list)

    def field(self, field_id: str) -> Any:
        """Return the value of custom field ``field_id`` (None when the ticket has none)."""
        for custom in self.custom_fields:
            if str(custom.get("id")) == field_id:
                return custom.get("value")
        return None


class ExportPage(UpstreamModel):
    tickets: list[Ticket] = Field(default_factory=list)
    after_cursor: str | None = None
    end_of_stream: bool = True


class LinkPage(UpstreamModel):
    links: list[JiraLink] = Field(default_factory=list)
    meta: dict[str, Any] = Field(default_factory=dict)


class ZendeskClient:
    """Jira links of the Zendesk account at ``ZENDESK_BASE_URL``."""

    def __init__(self, transport: ApiTransport) -> None:
        self.transport = transport

    def iter_links(
        self,
        ticket_id: str | None = None,
        page_size: int = 100,
        *,
        idempotency_key: str | None = None,
        after: str | None = None,
    ) -> Iterator[JiraLink]:
        """Yield every link (of ``ticket_id``, which Zendesk matches against ticket and issue ids), one page
        at a time (after the link id ``after``, when given)."""
        while True:
            params: dict[str, str | int] = {"page[size]": page_size}
            if ticket_id is not None:
                params["filter[ticket_id]"] = ticket_id
            if after is not None:
                params["page[after]"] = after
            page = LinkPage.model_validate(
                self.transport.json("GET", LINKS_PATH, params=params, idempotency_key=idempotency_key)
            )
            yield from page.links
            if not page.meta.get("has_more") or not page.links:
                return
            # The cursor is the last link's id (``after_cursor`` may be a URL carrying it).
            after = str(page.links[-1].id)

    def list_links_since(
        self,
        since_id: int | None = None,
        limit: int | None = None,
        ticket_id: str | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> list[JiraLink]:
        """Return one page of the deprecated list: links with an id above ``since_id``."""
        params: dict[str, str | int] = {}
        if since_id is not None:
            params["since_id"] = since_id
        if limit is not None:
            params["limit"] = limit
        if ticket_id is not None:
            params["ticket_id"] = ticket_id
        answer = self.transport.json("GET", SERVICE_PATH, params=params, idempotency_key=idempotency_key)
        return LinkPage.model_validate(answer).links

    def get_link(self, link_id: int, *, idempotency_key: str | None = None) -> JiraLink:
        """Return one link."""
        answer = self.transport.json("GET", f"{SERVICE_PATH}/{int(link_id)}", idempotency_key=idempotency_key)
        return JiraLink.model_validate(answer.get("link", answer))

    def create_link(
        self, ticket_id: str, issue_id: str, issue_key: str, *, idempotency_key: str | None = None
    ) -> JiraLink:
        """Link a ticket to an issue (not idempotent upstream: callers look up existing links first)."""
        body = {"link": {"ticket_id": str(ticket_id), "issue_id": str(issue_id), "issue_key": issue_key}}
        answer = self.transport.json(
            "POST", SERVICE_PATH, json=body, idempotency_key=idempotency_key, expected=(200, 201)
        )
        return JiraLink.model_validate(answer.get("link", answer))

    def delete_link(self, link_id: int, *, idempotency_key: str | None = None) -> None:
        """Delete one link."""
        self.transport.request("DELETE", f"{SERVICE_PATH}/{int(link_id)}", idempotency_key=idempotency_key)

    def get_ticket(self, ticket_id: str, *, idempotency_key: str | None = None) -> Ticket:
        """Return a ticket; raise ``UpstreamNotFound`` when it is deleted (soft or for good) or unknown."""
        answer = self.transport.json(
            "GET", f"api/v2/tickets/{int(ticket_id)}.json", idempotency_key=idempotency_key
        )
        return Ticket.model_validate(answer["ticket"])

    def show_many(self, ticket_ids: Sequence[str]) -> list[Ticket]:
        """Return the tickets of ``ticket_ids`` (at most ``SHOW_MANY_MAX``) that Zendesk shows: one
        missing from the answer is deleted (soft or for good) or unknown.

        https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/#show-multiple-tickets
        """
        if len(ticket_ids) > SHOW_MANY_MAX:
            raise ValueError(f"show_many takes at most {SHOW_MANY_MAX} ids, not {len(ticket_ids)}")
        ids = ",".join(str(int(ticket_id)) for ticket_id in ticket_ids)
        answer = self.transport.json("GET", "api/v2/tickets/show_many.json", params={"ids": ids})
        return [Ticket.model_validate(ticket) for ticket in answer.get("tickets", [])]

    def export_tickets(
        self, start_time: int | None = None, cursor: str | None = None, per_page: int = 1000
    ) -> ExportPage:
        """Return one page of the incremental ticket export, from ``start_time`` (epoch s) or a ``cursor``.

        Soft-deleted tickets come with status ``deleted``; the page's ``after_cursor`` goes on where it
        stopped, and ``end_of_stream`` says whether anything was left.
        """
        params: dict[str, str | int] = {"per_page": per_page}
        if cursor is not None:
            params["cursor"] = cursor
        elif start_time is not None:
            params["start_time"] = start_time
        answer = self.transport.json("GET", "api/v2/incremental/tickets/cursor.json", params=params)
        return ExportPage.model_validate(answer)

    def close(self) -> None:
        self.transport.close()


def from_settings(settings: Settings, transport: httpx.BaseTransport | None = None) -> ZendeskClient | None:
    """Return the client when ``ZENDESK_BASE_URL``, ``ZENDESK_EMAIL`` and ``ZENDESK_API_TOKEN`` are set."""
    if not (settings.zendesk_base_url and settings.zendesk_email and settings.zendesk_api_token):
        return None
    credentials = (f"{settings.zendesk_email}/token", settings.zendesk_api_token.reveal())
    return ZendeskClient(ApiTransport(settings.zendesk_base_url, credentials, transport=transport))
