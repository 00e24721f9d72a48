"""Catch-up from the sources: every ticket and issue changed since a time, as an ordinary event.

- Zendesk: ``GET /api/v2/incremental/tickets/cursor.json?start_time=<s>``, then ``?cursor=<after_cursor>``
  until ``end_of_stream`` (https://developer.zendesk.com/api-reference/ticketing/ticket-management/incremental_exports/);
  soft-deleted tickets come with status ``deleted``; ``start_time`` must be a minute old.
- Jira: ``GET /rest/api/3/search/jql`` with ``updated >= "-<minutes>m" ORDER BY updated ASC``, paged by
  ``nextPageToken`` (https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issue-search/).
  The bound is relative ("minutes ago") because JQL reads an absolute date in the searching user's time
  zone, which the bridge cannot know; it is rounded up to whole minutes, so a change at the edge is read
  twice rather than never (a state read twice is applied once).

Each page is handled whole (``Context.offer``) before the next is read, and the run's record keeps where
it got to (the export's cursor; the newest ``updated`` handled), so memory holds one page and a run killed
half-way goes on from its last page. The export has a rate limit of its own (10 requests a minute, 30 with
High Volume): a run asks it at most ``BRIDGE_ZENDESK_EXPORT_PER_MINUTE`` times a minute, for pages of 1,000.

A catch-up's event is a delivery like any other, not a fresh read (``data.from_source`` false): it may wait
in the resync lane while live deliveries overtake it, and must then lose to them. When its state and a
delivered one overlap in time and differ, the planner reads the source, as for any tie.
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime
from functools import partial

from bridge import defaults
from bridge.event import Event, Normalized, Source, build_event
from bridge.resync.context import Context
from bridge.sources import current
from bridge.stores import runs
from bridge.upstreams.jira.client import Issue, JiraClient
from bridge.upstreams.zendesk.client import Ticket, ZendeskClient


def catch_up(ctx: Context, since: datetime) -> None:
    """Offer every ticket, then every issue, changed since ``since`` (each source configured)."""
    if ctx.clients.get("zendesk", ZendeskClient) is not None and ctx.run.cursors.get("zendesk") != DONE:
        tickets(ctx, since)
        _done(ctx, "zendesk")
    if ctx.clients.get("jira", JiraClient) is not None and ctx.run.cursors.get("jira") != DONE:
        issues(ctx, since)
        _done(ctx, "jira")


DONE = "done"
"""A pass's cursor once the pass is over (a run resumed goes on with the next pass)."""


def _done(ctx: Context, name: str) -> None:
    ctx.run.cursors[name] = DONE
    if not ctx.dry_run:
        runs.save_cursor(ctx.conn, ctx.run.id, name, DONE)


def tickets(ctx: Context, since: datetime) -> None:
    """Page through Zendesk's incremental export from ``since`` (or the run's saved cursor)."""
    zendesk = ctx.clients.get("zendesk", ZendeskClient)
    assert zendesk is not None
    cursor = ctx.run.cursors.get("zendesk")
    start = min(int(since.timestamp()), int(time.time()) - defaults.ZENDESK_EXPORT_LAG_S)
    interval = 60.0 / ctx.settings.zendesk_export_per_minute
    while True:
        ctx.keep_going()
        # The export's own rate limit (BRIDGE_ZENDESK_EXPORT_PER_MINUTE), across a run's jobs: a 429 from it
        # would pause every Zendesk call of the bridge (bridge/guard.py).
        ctx.not_before(float(ctx.run.cursors.get("zendesk_at") or 0) + interval)
        ctx.run.cursors["zendesk_at"] = str(time.time())
        runs.save_cursor(ctx.conn, ctx.run.id, "zendesk_at", ctx.run.cursors["zendesk_at"])
        page = ctx.read(
            partial(
                zendesk.export_tickets,
                start_time=None if cursor else start,
                cursor=cursor,
                per_page=defaults.ZENDESK_EXPORT_PAGE,
            )
        )
        ctx.offer([ticket_event(ctx, ticket) for ticket in page.tickets])
        if page.after_cursor:
            cursor = page.after_cursor
            if not ctx.dry_run:
                runs.save_cursor(ctx.conn, ctx.run.id, "zendesk", cursor)
        if page.end_of_stream or not page.tickets:
            return
        ctx.page_done()


def issues(ctx: Context, since: datetime) -> None:
    """Page through Jira's issues updated since ``since`` (or the newest ``updated`` the run handled)."""
    jira = ctx.clients.get("jira", JiraClient)
    assert jira is not None
    saved = ctx.run.cursors.get("jira")
    bound_ms = int(saved) if saved else int(since.timestamp() * 1000)
    minutes = max(1, math.ceil((time.time() * 1000 - bound_ms) / 60_000))
    jql = f'updated >= "-{minutes}m" ORDER BY updated ASC'
    fields = current.issue_fields(ctx.settings)
    token: str | None = None
    while True:
        ctx.keep_going()
        page = ctx.read(partial(jira.search, jql, fields, token, defaults.RESYNC_PAGE))
        events = [issue_event(ctx, issue) for issue in page.issues]
        ctx.offer(events)
        if events and not ctx.dry_run:
            runs.save_cursor(ctx.conn, ctx.run.id, "jira", str(max(event["sequence"] for event in events)))
        if page.is_last or not page.next_page_token or not page.issues:
            return
        token = page.next_page_token
        ctx.page_done()


def ticket_event(ctx: Context, ticket: Ticket) -> Event:
    """A ticket of the export as a catch-up's event."""
    found = current.normalize_ticket(ticket, ctx.settings)
    # The export has no agent URL: the URL a delivery told stays (one made up here would differ from it
    # and make an unchanged ticket look changed); the rules fall back to ZENDESK_BASE_URL's.
    found.data["url"] = None
    found.data["from_source"] = False
    found.data["resync"] = ctx.run.id
    return as_event(ctx, found, "zendesk")


def ticket_or_deleted(ctx: Context, ticket_id: str, ticket: Ticket | None) -> Event:
    """A ticket read from Zendesk as a catch-up's event; ``None`` (Zendesk shows it no more): deleted."""
    if ticket is None:
        # Ordered as a read (of ``show_many``'s, just made), as a deletion the Tickets API told.
        return as_event(ctx, current.as_read(current.deleted_ticket(ticket_id), time.time()), "zendesk")
    return ticket_event(ctx, ticket)


def issue_event(ctx: Context, issue: Issue) -> Event:
    """An issue of the search as a catch-up's event."""
    found = current.normalize_issue(issue, ctx.settings)
    found.data["from_source"] = False
    found.data["resync"] = ctx.run.id
    return as_event(ctx, found, "jira")


def as_event(ctx: Context, found: Normalized, source: Source) -> Event:
    """Stamp what was read as a run's event (``delivery_id`` ``resync:<run>:<kind>:<id>:<sequence>``)."""
    subject = found.subject
    delivery = f"resync:{ctx.run.id}:{subject['kind']}:{subject['id']}:{found.sequence}"
    return build_event(found, source, delivery, datetime.now(UTC))
