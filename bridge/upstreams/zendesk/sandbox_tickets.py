"""Zendesk's tickets, as far as the bridge reads them: show, show many, the incremental export.

https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/ and
https://developer.zendesk.com/api-reference/ticketing/ticket-management/incremental_exports/

A ticket's ``updated_at`` has whole seconds; a soft-deleted ticket answers 404 ``RecordNotFound`` on show
(it can be restored for 30 days), and the export lists it with status ``deleted``; a permanently deleted
one is gone from both. The control API changes tickets as an agent would, without any webhook (a dropped
delivery): ``PUT /_sandbox/zendesk/tickets/{id}``, ``DELETE`` (``?permanent=true``) and ``…/restore``.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bridge.upstreams.sandbox.config import ZENDESK_PREFIX
from bridge.upstreams.sandbox.control_api import read_json, refused
from bridge.upstreams.sandbox.emulation import ApiProblem, api_base, json_response

STATUSES = ("new", "open", "pending", "hold", "solved", "closed")
"""A ticket's statuses (the export adds ``deleted``)."""

EXPORT_PAGE_MAX = 1000
"""Largest page of the incremental export (``per_page``)."""

SHOW_MANY_MAX = 100
"""Most ids ``show_many`` takes."""


@dataclass
class Ticket:
    """One ticket: what the bridge reads of it. Times are epoch seconds."""

    id: int
    subject: str = ""
    status: str = "new"
    priority: str | None = None
    custom_fields: dict[str, Any] = field(default_factory=dict)
    created_at: int = 0
    updated_at: int = 0
    deleted: bool = False

    def as_json(self, base: str) -> dict[str, Any]:
        """The ticket as the Tickets API shows it."""
        fields = [{"id": int(f) if f.isdigit() else f, "value": v} for f, v in self.custom_fields.items()]
        return {
            "url": f"{base}/api/v2/tickets/{self.id}.json",
            "id": self.id,
            "created_at": _iso(self.created_at),
            "updated_at": _iso(self.updated_at),
            "subject": self.subject,
            "raw_subject": self.subject,
            "status": "deleted" if self.deleted else self.status,
            "priority": self.priority,
            "custom_fields": fields,
            "fields": fields,
        }


def _iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _seconds(value: Any) -> int | None:
    """Epoch seconds of an ISO 8601 time or a number; None when absent; ValueError when malformed."""
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, str):
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return int((moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp())
    raise ValueError("updated_at must be an ISO 8601 time or epoch seconds")


class TicketStore:
    """The account's tickets, and the routes that read and change them."""

    def __init__(self, jira_field_id: str) -> None:
        self.jira_field_id = jira_field_id
        self.reset()

    def reset(self) -> None:
        self.tickets: dict[int, Ticket] = {}

    def snapshot(self) -> list[dict[str, Any]]:
        return [ticket.as_json("") for ticket in self.tickets.values()]

    # The API

    def api_routes(self, route: Any) -> list[Route]:
        """The Tickets API's routes, made with the emulation's authenticating ``route`` factory."""
        return [
            route("/api/v2/tickets/show_many.json", self.show_many, ["GET"]),
            route("/api/v2/tickets/show_many", self.show_many, ["GET"]),
            route("/api/v2/incremental/tickets/cursor.json", self.export, ["GET"]),
            route("/api/v2/tickets/{ticket_id}", self.show, ["GET"]),
        ]

    def _live(self, raw: str) -> Ticket:
        raw = raw.removesuffix(".json")
        ticket = self.tickets.get(int(raw)) if raw.isascii() and raw.isdigit() else None
        if ticket is None or ticket.deleted:
            raise ApiProblem(404, "Not found")
        return ticket

    async def show(self, request: Request) -> Response:
        ticket = self._live(request.path_params["ticket_id"])
        return json_response({"ticket": ticket.as_json(api_base(request, ZENDESK_PREFIX))})

    async def show_many(self, request: Request) -> Response:
        raw = [part for part in request.query_params.get("ids", "").split(",") if part]
        if not raw or len(raw) > SHOW_MANY_MAX or not all(part.isascii() and part.isdigit() for part in raw):
            raise ApiProblem(400, f"ids must be 1 to {SHOW_MANY_MAX} ticket ids separated by commas")
        base = api_base(request, ZENDESK_PREFIX)
        found = [self.tickets.get(int(part)) for part in raw]
        return json_response({"tickets": [t.as_json(base) for t in found if t is not None and not t.deleted]})

    async def export(self, request: Request) -> Response:
        """The cursor-based incremental export: tickets by update time, then id, ``per_page`` at a time."""
        per_page = _number(request.query_params.get("per_page"), EXPORT_PAGE_MAX, "per_page")
        per_page = max(1, min(per_page, EXPORT_PAGE_MAX))
        cursor = request.query_params.get("cursor")
        if cursor:
            try:
                updated_at, ticket_id = orjson.loads(base64.urlsafe_b64decode(cursor))
                after = (int(updated_at), int(ticket_id))
            except (ValueError, TypeError):
                raise ApiProblem(400, "cursor is not one this export gave") from None
        else:
            start = _number(request.query_params.get("start_time"), None, "start_time")
            after = (start - 1, 2**62)
        ordered = sorted(self.tickets.values(), key=lambda t: (t.updated_at, t.id))
        rest = [t for t in ordered if (t.updated_at, t.id) > tuple(after)]
        page = rest[:per_page]
        end = len(rest) <= per_page
        last = (page[-1].updated_at, page[-1].id) if page else after
        next_cursor = base64.urlsafe_b64encode(orjson.dumps(list(last))).decode()
        base = api_base(request, ZENDESK_PREFIX)
        return json_response(
            {
                "tickets": [ticket.as_json(base) for ticket in page],
                "after_cursor": next_cursor,
                "after_url": f"{base}/api/v2/incremental/tickets/cursor.json?cursor={next_cursor}",
                "before_cursor": None,
                "before_url": None,
                "end_of_stream": end,
            }
        )

    # The control API

    def control_routes(self) -> list[Route]:
        return [
            Route("/zendesk/tickets/{ticket_id}", self._put, methods=["PUT"]),
            Route("/zendesk/tickets/{ticket_id}", self._delete, methods=["DELETE"]),
            Route("/zendesk/tickets/{ticket_id}/restore", self._restore, methods=["POST"]),
        ]

    def change(self, ticket_id: int, body: dict[str, Any]) -> Ticket:
        """Create or edit a ticket (``subject``, ``status``, ``priority``, ``jira_keys``, ``custom_fields``,
        ``updated_at``); raise ValueError naming what is wrong."""
        unknown = set(body) - {"subject", "status", "priority", "jira_keys", "custom_fields", "updated_at"}
        if unknown:
            raise ValueError(f"unknown ticket fields: {', '.join(sorted(unknown))}")
        ticket = self.tickets.get(ticket_id)
        if ticket is not None and ticket.deleted:
            raise ValueError(f"ticket {ticket_id} is deleted: restore it first")
        status = body.get("status")
        if status is not None and status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}")
        custom = body.get("custom_fields") or {}
        if not isinstance(custom, dict):
            raise ValueError("custom_fields must be an object of field id → value")
        if ticket is None:
            ticket = self.tickets[ticket_id] = Ticket(ticket_id)
            ticket.created_at = int(time.time())
        for name in ("subject", "status", "priority"):
            if name in body:
                setattr(ticket, name, body[name])
        ticket.custom_fields.update({str(key): value for key, value in custom.items()})
        if "jira_keys" in body:
            ticket.custom_fields[self.jira_field_id] = body["jira_keys"]
        self._touch(ticket, body.get("updated_at"))
        return ticket

    def _touch(self, ticket: Ticket, updated_at: Any) -> None:
        given = _seconds(updated_at)
        ticket.updated_at = given if given is not None else int(time.time())

    async def _put(self, request: Request) -> Response:
        raw = request.path_params["ticket_id"]
        try:
            body = await read_json(request)
            if not raw.isascii() or not raw.isdigit():
                raise ValueError("the ticket id must be digits")
            if not isinstance(body, dict):
                raise ValueError("the body must be an object")
            ticket = self.change(int(raw), body)
        except ValueError as exc:
            return refused(str(exc))
        return json_response(ticket.as_json(""))

    def _find(self, request: Request) -> Ticket | None:
        raw = request.path_params["ticket_id"]
        return self.tickets.get(int(raw)) if raw.isascii() and raw.isdigit() else None

    async def _delete(self, request: Request) -> Response:
        ticket = self._find(request)
        if ticket is None or (ticket.deleted and request.query_params.get("permanent") != "true"):
            return refused("no such ticket", 404)
        if request.query_params.get("permanent") == "true":
            del self.tickets[ticket.id]
        else:
            ticket.deleted = True
            self._touch(ticket, request.query_params.get("updated_at"))
        return json_response({"deleted": ticket.id})

    async def _restore(self, request: Request) -> Response:
        ticket = self._find(request)
        if ticket is None or not ticket.deleted:
            return refused("no soft-deleted ticket to restore", 404)
        ticket.deleted = False
        self._touch(ticket, request.query_params.get("updated_at"))
        return json_response(ticket.as_json(""))


def _number(raw: str | None, default: int | None, name: str) -> int:
    if raw is None or raw == "":
        if default is None:
            raise ApiProblem(400, f"{name} or cursor is required")
        return default
    if not raw.isascii() or not raw.isdigit():
        raise ApiProblem(400, f"{name} must be a whole number, got {raw!r}")
    return int(raw)
