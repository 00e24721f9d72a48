"""Resync one subject on demand (``bridge resync zendesk 5001``, ``bridge resync jira PROJ-1``, the
dashboard's button): read it from its source now, put its state through the rules when it differs from the
applied one, and audit the links of the tickets it concerns (``audit.check_ticket``)."""

from __future__ import annotations

from bridge import ordering
from bridge.errors import BadParameter, UpstreamNotFound
from bridge.event import Event
from bridge.resync import catchup
from bridge.resync.audit import check_ticket
from bridge.resync.context import Context
from bridge.sources import current
from bridge.sources.refs import JIRA_KEY
from bridge.stores import links, subjects
from bridge.upstreams.jira.client import JiraClient
from bridge.upstreams.zendesk.client import Ticket, ZendeskClient

SOURCES = ("zendesk", "jira")
"""What a subject is named by: a Zendesk ticket id, a Jira issue key or id."""


def parse(subject: str) -> tuple[str, str]:
    """Split ``zendesk:5001`` / ``jira:PROJ-1``; raise ``BadParameter`` for anything else."""
    source, _, ident = subject.partition(":")
    ident = ident.strip()
    if source not in SOURCES or not ident:
        raise BadParameter(f"a subject is zendesk:<ticket id> or jira:<issue key or id>, not {subject!r}")
    digits = ident.isascii() and ident.isdigit()
    if source == "zendesk" and not digits:
        raise BadParameter(f"a Zendesk ticket id is digits, not {ident!r}")
    if source == "jira" and not (digits or JIRA_KEY.fullmatch(ident.upper())):
        raise BadParameter(f"a Jira issue is named by its key (PROJ-1) or its id (digits), not {ident!r}")
    return source, ident


def resync_subject(ctx: Context, subject: str) -> None:
    """Read the subject, offer its state to the rules, then audit the links of its tickets."""
    source, ident = parse(subject)
    event = ctx.read(lambda: _read(ctx, source, ident))
    ctx.offer([event])
    if source == "zendesk":
        tickets = {ident}
    else:
        issue_id = event["subject"]["id"]
        tickets = set(links.tickets_of(ctx.conn, issue_id)) | subjects.named_by(
            ctx.conn, ordering.ISSUE, issue_id
        )
    for ticket_id in sorted(tickets):
        check_ticket(ctx, ticket_id)


def _read(ctx: Context, source: str, ident: str) -> Event:
    if source == "zendesk":
        zendesk = ctx.clients.need(
            "zendesk", ZendeskClient, "ZENDESK_BASE_URL, ZENDESK_EMAIL and ZENDESK_API_TOKEN"
        )
        try:
            ticket: Ticket | None = zendesk.get_ticket(ident)
        except UpstreamNotFound:
            ticket = None
        return catchup.ticket_or_deleted(ctx, ident, ticket)
    jira = ctx.clients.need("jira", JiraClient, "JIRA_BASE_URL, JIRA_EMAIL and JIRA_API_TOKEN")
    try:
        return catchup.issue_event(ctx, jira.get_issue(ident, fields=current.issue_fields(ctx.settings)))
    except UpstreamNotFound:
        if not ident.isdigit():
            raise BadParameter(f"Jira has no issue {ident} (a deleted issue is resynced by its id)") from None
        return catchup.as_event(ctx, current.deleted_issue(ident), "jira")
