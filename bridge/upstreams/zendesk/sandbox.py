"""Zendesk's Jira links.

https://developer.zendesk.com/api-reference/ticketing/jira/links/

Basic auth as ``{email}/token:{api_token}``. Link ``id`` is an integer; ``ticket_id`` and ``issue_id``
are strings, as the page's field table and live answers have them. Show, create and delete answer on
both ``/api/services/jira/links`` (the page's paths) and ``/api/v2/jira/links``.

A second link for the same ticket and issue is refused with 422 ``RecordInvalid`` (the real behaviour
is unpublished): a client must look before it creates, and a create retried after a lost answer meets
this refusal, as it may in production.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bridge.upstreams.sandbox.config import ZENDESK_PREFIX, SandboxConfig
from bridge.upstreams.sandbox.emulation import (
    ApiProblem,
    EmulatedApi,
    api_base,
    check_basic,
    json_body,
    json_response,
    no_content,
)
from bridge.upstreams.sandbox.issues import IssueDirectory
from bridge.upstreams.zendesk.sandbox_tickets import TicketStore

PAGE_SIZE_MAX = 1000
"""Default and largest page of both list endpoints."""

_FIELDS = ("ticket_id", "issue_id", "issue_key")


def _whole_number(request: Request, name: str, default: int | None) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit():
        raise ApiProblem(
            400, f"{name} must be a non-negative integer, got {raw!r}", {"error": "InvalidValue"}
        )
    return int(raw)


class ZendeskApi(EmulatedApi):
    """The account's Jira links, ordered by id."""

    name = "zendesk"
    prefix = ZENDESK_PREFIX
    challenge = 'Basic realm="sandbox-zendesk"'

    def __init__(self, config: SandboxConfig, issues: IssueDirectory) -> None:
        self.tickets = TicketStore(config.zendesk_jira_field_id)
        super().__init__(config, issues)

    def reset(self) -> None:
        self.tickets.reset()
        self.links: dict[int, dict[str, Any]] = {}
        # ticket id or issue id → ids of its links (ascending), so filtered lists need no scan
        self.by_ref: dict[str, list[int]] = {}
        self.next_id = 1

    def authenticate(self, request: Request) -> str | None:
        refused = check_basic(request, f"{self.config.zendesk_email}/token", self.config.zendesk_api_token)
        return "Couldn't authenticate you" if refused else None

    def error(self, status: int, message: str, details: dict[str, Any]) -> Response:
        if status == 401:
            return json_response({"error": message}, status)
        kind = details.pop("error", None) or {404: "RecordNotFound", 422: "RecordInvalid"}.get(
            status, "InvalidRequest"
        )
        body: dict[str, Any] = {"error": kind, "description": message}
        if details:
            body["details"] = details
        return json_response(body, status)

    def routes(self) -> Sequence[Route]:
        routes = [
            self.route("/api/v2/jira/links", self.list_cursor, ["GET"]),
            self.route("/api/services/jira/links", self.list_since, ["GET"]),
        ]
        for base in ("/api/services/jira/links", "/api/v2/jira/links"):
            routes += [
                self.route(base, self.create, ["POST"]),
                self.route(base + "/{link_id}", self.show, ["GET"]),
                self.route(base + "/{link_id}", self.delete, ["DELETE"]),
            ]
        return routes + self.tickets.api_routes(self.route)

    def control_routes(self) -> Sequence[Route]:
        return self.tickets.control_routes()

    def snapshot(self) -> dict[str, Any]:
        return {"links": list(self.links.values()), "tickets": self.tickets.snapshot()}

    def _matching(self, wanted: str | None, after: int) -> list[dict[str, Any]]:
        # The filter takes a ticket id or an issue id (the vendor page), and the list is ordered by id.
        if wanted is None:
            return [link for link_id, link in self.links.items() if link_id > after]
        return [self.links[link_id] for link_id in self.by_ref.get(wanted, ()) if link_id > after]

    async def list_cursor(self, request: Request) -> Response:
        size = _whole_number(request, "page[size]", PAGE_SIZE_MAX) or PAGE_SIZE_MAX
        size = min(size, PAGE_SIZE_MAX)
        after = _whole_number(request, "page[after]", 0) or 0
        wanted = request.query_params.get("filter[ticket_id]") or None
        found = self._matching(wanted, after)
        page, has_more = found[:size], len(found) > size
        cursor = None
        if has_more:
            # As on the page: a URL whose page[after] is the last link id of this page.
            cursor = f"{api_base(request, ZENDESK_PREFIX)}/api/v2/jira/links"
            cursor += f"?page[after]={page[-1]['id']}&page[size]={size}"
            if wanted is not None:
                cursor += f"&filter[ticket_id]={quote(wanted)}"
        return json_response({"links": page, "meta": {"has_more": has_more, "after_cursor": cursor}})

    async def list_since(self, request: Request) -> Response:
        limit = min(_whole_number(request, "limit", PAGE_SIZE_MAX) or PAGE_SIZE_MAX, PAGE_SIZE_MAX)
        since = _whole_number(request, "since_id", 0) or 0
        ticket_id = request.query_params.get("ticket_id") or None
        found = self._matching(ticket_id, since)
        issue_id = request.query_params.get("issue_id")
        if issue_id:
            found = [link for link in found if issue_id in (link["ticket_id"], link["issue_id"])]
        return json_response({"links": found[:limit]})

    def _link(self, request: Request) -> dict[str, Any]:
        raw = request.path_params["link_id"]
        link = self.links.get(int(raw)) if raw.isdigit() else None
        if link is None:
            raise ApiProblem(404, "Not found")
        return link

    async def show(self, request: Request) -> Response:
        return json_response({"link": self._link(request)})

    async def delete(self, request: Request) -> Response:
        link = self.links.pop(self._link(request)["id"])
        for ref in {link["ticket_id"], link["issue_id"]}:
            self.by_ref[ref].remove(link["id"])
        return no_content()

    async def create(self, request: Request) -> Response:
        body = await json_body(request)
        given = body.get("link") if isinstance(body, dict) else None
        if not isinstance(given, dict):
            raise ApiProblem(400, 'the body must be {"link": {ticket_id, issue_id, issue_key}}')
        invalid: dict[str, Any] = {}
        values: dict[str, str] = {}
        for name in _FIELDS:
            value = given.get(name)
            if isinstance(value, bool) or not isinstance(value, str | int) or str(value).strip() == "":
                invalid[name] = [{"description": f"{name} is required"}]
            else:
                values[name] = str(value).strip()
        if invalid:
            raise ApiProblem(422, "Record validation errors", invalid)
        for link_id in self.by_ref.get(values["ticket_id"], ()):
            link = self.links[link_id]
            same_pair = (link["ticket_id"], link["issue_id"]) == (values["ticket_id"], values["issue_id"])
            if same_pair and self.config.zendesk_refuse_duplicate_links:
                duplicate = {
                    "issue_id": [{"description": f"is already linked to ticket {values['ticket_id']}"}]
                }
                raise ApiProblem(422, "Record validation errors", duplicate)
        link_id = self.next_id
        self.next_id += 1
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        link = {
            "created_at": now,
            "id": link_id,
            "issue_id": values["issue_id"],
            "issue_key": values["issue_key"],
            "ticket_id": values["ticket_id"],
            "updated_at": now,
            "url": f"{api_base(request, ZENDESK_PREFIX)}/api/services/jira/links/{link_id}",
        }
        self.links[link_id] = link
        for ref in {values["ticket_id"], values["issue_id"]}:
            self.by_ref.setdefault(ref, []).append(link_id)
        return json_response({"link": link}, 201)


API = ZendeskApi
"""This upstream's emulation, as the sandbox builds it."""
