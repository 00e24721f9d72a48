"""Link audit: the three views of the links — Zendesk's Jira links, the Jira remote links on the linked
issues, the bridge's index — against what the rules want for each ticket's applied state.

Three passes, each paged and resumable (the run's ``cursor:links``, ``cursor:tickets``, ``cursor:issues``):

1. **Zendesk's links** (cursor list, ``AUDIT_LINK_PAGE`` at a time): a link the index does not know (an
   agent made it, or its delivery was lost) goes into the index, and its ticket is planned again, so the
   rules see it: kept and completed when they want it, deleted when they do not.
2. **Each ticket the bridge knows** (a ``SCAN`` of the subjects), read from Zendesk 100 at a time
   (``show_many``): one whose state there differs from the applied one — deleted, even for good, with its
   delivery lost — is offered as an event. For the others, the calls the rules plan for its applied
   state (``Planner.preview``, nothing written) are checked against the upstreams — a remote link to upsert
   must be on its issue with every field the rules write (title, summary, URL, status…), a Jira Software
   link to submit must carry the issue keys, name, URL and status the rules give it; a Zendesk link to
   create must be at Zendesk; a link to delete must be gone. A Zendesk link the index remembers but Zendesk
   lost leaves the index (the create would trust it otherwise).
3. **Each issue the bridge knows**: the Salesforce associations the rules add for it must be on the issue.

A ticket out of line is planned again (``Context.replan``: once per run, on the resync lane); a re-plan
has a new version, so its calls are made anew, exactly as the rules write them. A ticket in line costs
its reads only: a second run writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Any

from bridge import defaults, keys, ordering
from bridge.connections import text
from bridge.errors import DestinationHeld, UpstreamError, UpstreamNotFound
from bridge.planner import applied_event
from bridge.resync import catchup
from bridge.resync.catchup import DONE
from bridge.resync.context import Context
from bridge.rules.model import PlannedAction
from bridge.stores import links, runs, subjects
from bridge.upstreams.jira.actions import remote_link_of
from bridge.upstreams.jira.client import JiraClient, RemoteLink
from bridge.upstreams.jira_software.actions import link_of
from bridge.upstreams.jira_software.client import JiraSoftwareClient, SoftwareRemoteLink
from bridge.upstreams.salesforce.client import SalesforceConnectorClient
from bridge.upstreams.zendesk.client import SHOW_MANY_MAX, JiraLink, ZendeskClient

TICKET_PATTERN = keys.SUBJECT_KEY.format(kind=ordering.TICKET, subject_id="*")
ISSUE_PATTERN = keys.SUBJECT_KEY.format(kind=ordering.ISSUE, subject_id="*")


def audit(ctx: Context, since: datetime | None = None) -> None:
    """Audit every link (Zendesk's updated since ``since`` in pass 1), then every ticket the bridge knows."""
    if ctx.run.cursors.get("links") != DONE:
        zendesk_links(ctx, since)
        ctx.run.cursors["links"] = DONE
        if not ctx.dry_run:
            runs.save_cursor(ctx.conn, ctx.run.id, "links", DONE)
    if ctx.run.cursors.get("tickets") != DONE:
        tickets(ctx)
        ctx.run.cursors["tickets"] = DONE
        if not ctx.dry_run:
            runs.save_cursor(ctx.conn, ctx.run.id, "tickets", DONE)
    issues(ctx)


def zendesk_links(ctx: Context, since: datetime | None) -> None:
    """Pass 1: Zendesk links the index does not know."""
    zendesk = ctx.clients.get("zendesk", ZendeskClient)
    if zendesk is None:
        return
    after = ctx.run.cursors.get("links")
    seen = 0
    for link in zendesk.iter_links(page_size=defaults.AUDIT_LINK_PAGE, after=after):
        seen += 1
        _check_link(ctx, link, since)
        if seen % defaults.AUDIT_LINK_PAGE == 0:
            runs.count(ctx.conn, ctx.run.id, read=defaults.AUDIT_LINK_PAGE)
            if not ctx.dry_run:
                runs.save_cursor(ctx.conn, ctx.run.id, "links", str(link.id))
            ctx.keep_going()
            ctx.page_done()
    runs.count(ctx.conn, ctx.run.id, read=seen % defaults.AUDIT_LINK_PAGE)


def _check_link(ctx: Context, link: JiraLink, since: datetime | None) -> None:
    if since is not None and link.updated_at and datetime.fromisoformat(link.updated_at) < since:
        return
    if links.get(ctx.conn, link.ticket_id, link.issue_id) is not None:
        return
    if not ctx.dry_run:
        links.add(ctx.conn, link.ticket_id, link.issue_id, link.issue_key, link.id)
    ctx.replan(ordering.TICKET, link.ticket_id, f"Zendesk link to {link.issue_key} unknown to the bridge", [])


def tickets(ctx: Context) -> None:
    """Pass 2: each ticket the bridge knows, against the upstreams."""

    def check_page(ticket_ids: list[str]) -> None:
        offered = _changed_at_source(ctx, ticket_ids)
        for ticket_id in ticket_ids:
            if ticket_id not in offered:
                check_ticket(ctx, ticket_id)

    _each_known(ctx, "tickets", TICKET_PATTERN, check_page)


def _each_known(ctx: Context, name: str, pattern: str, check_page: Callable[[list[str]], None]) -> None:
    """Page through the subjects the bridge knows (a ``SCAN`` of ``pattern`` from the run's cursor
    ``name``), handing each page's ids to ``check_page`` and saving the cursor after it."""
    cursor = int(ctx.run.cursors.get(name) or 0)
    while True:
        ctx.keep_going()
        cursor, found = ctx.conn.scan(cursor, match=pattern, count=defaults.AUDIT_LINK_PAGE)
        check_page([text(raw).rsplit(":", 1)[1] for raw in found])
        runs.count(ctx.conn, ctx.run.id, read=len(found))
        if not ctx.dry_run:
            runs.save_cursor(ctx.conn, ctx.run.id, name, str(cursor))
        if cursor == 0:
            return
        ctx.page_done()


def _changed_at_source(ctx: Context, ticket_ids: list[str]) -> set[str]:
    """Read a page of known tickets from Zendesk (``show_many``, 100 a request) and offer each whose state
    there differs from the applied one — above all a ticket deleted, even for good, whose delivery was
    lost: the export no longer lists it, and its links still look right against the applied state.
    Return the tickets offered (their event plans them; their links are checked on the next run)."""
    offered: set[str] = set()
    zendesk = ctx.clients.get("zendesk", ZendeskClient)
    if zendesk is not None:
        for start in range(0, len(ticket_ids), SHOW_MANY_MAX):
            chunk = ticket_ids[start : start + SHOW_MANY_MAX]
            try:
                shown = {str(ticket.id): ticket for ticket in ctx.read(partial(zendesk.show_many, chunk))}
            except (UpstreamError, DestinationHeld):
                runs.count(ctx.conn, ctx.run.id, errors=1)
                continue
            events = [catchup.ticket_or_deleted(ctx, ticket_id, shown.get(ticket_id)) for ticket_id in chunk]
            offered |= {event["subject"]["id"] for event in ctx.offer(events)}
    return offered


def issues(ctx: Context) -> None:
    """Pass 3: each issue the bridge knows, against its Salesforce associations (added, never removed, by
    the rules: an association to add must be on the issue)."""
    if ctx.clients.get("salesforce", SalesforceConnectorClient) is None:
        return

    def check_page(issue_ids: list[str]) -> None:
        for issue_id in issue_ids:
            check_issue(ctx, issue_id)

    _each_known(ctx, "issues", ISSUE_PATTERN, check_page)


def check_issue(ctx: Context, issue_id: str) -> bool:
    """Check one issue's Salesforce associations against the rules'; plan it again when one is missing."""
    stored = subjects.load(ctx.conn, ordering.ISSUE, issue_id)
    salesforce = ctx.clients.get("salesforce", SalesforceConnectorClient)
    if stored is None or salesforce is None:
        return False
    _, _, _, actions = ctx.planner().preview(applied_event(stored, f"audit:{ctx.run.id}"))
    wanted = [action for action in actions if action.kind == "salesforce.associations.add"]
    if not wanted:
        return False
    try:
        present = {
            (found.son, found.soid) for found in ctx.read(lambda: salesforce.list_associations(issue_id))
        }
    except (UpstreamError, DestinationHeld):
        runs.count(ctx.conn, ctx.run.id, errors=1)
        return False
    missing = [
        f"{item['son']} {item['soid']}"
        for action in wanted
        for item in action.params.get("associations") or []
        if (item.get("son"), item.get("soid")) not in present
    ]
    if not missing:
        return False
    ctx.replan(ordering.ISSUE, issue_id, f"Salesforce association missing: {', '.join(missing)}", actions)
    return True


def check_ticket(ctx: Context, ticket_id: str) -> bool:
    """Check one ticket's links against what the rules want; plan it again when they differ (True)."""
    stored = subjects.load(ctx.conn, ordering.TICKET, ticket_id)
    if stored is None:
        return False
    _, _, _, actions = ctx.planner().preview(applied_event(stored, f"audit:{ctx.run.id}"))
    try:
        drifts = ctx.read(lambda: _drifts(ctx, ticket_id, actions))
    except (UpstreamError, DestinationHeld):
        runs.count(ctx.conn, ctx.run.id, errors=1)
        return False
    if not drifts:
        return False
    ctx.replan(ordering.TICKET, ticket_id, "; ".join(drifts), actions)
    return True


def _drifts(ctx: Context, ticket_id: str, actions: list[PlannedAction]) -> list[str]:
    """What differs upstream from the calls the rules plan (empty: the ticket is in line)."""
    jira = ctx.clients.get("jira", JiraClient)
    zendesk = ctx.clients.get("zendesk", ZendeskClient)
    software = ctx.clients.get("jira_software", JiraSoftwareClient)
    at_zendesk: list[JiraLink] | None = None
    drifts: list[str] = []
    for action in actions:
        params = action.params
        if action.kind.startswith("jira.remote_link.") and jira is not None:
            found = _remote_link(jira, str(params["issue"]), str(params["global_id"]))
            issue = str(params["issue"])
            if action.kind == "jira.remote_link.upsert":
                if found is None:
                    drifts.append(f"remote link missing on issue {issue}")
                elif not _contains(found.body(), remote_link_of(params).body()):
                    drifts.append(f"remote link on issue {issue} differs from the rules'")
            elif found is not None:
                drifts.append(f"remote link on issue {issue} the rules do not want")
        elif action.kind.startswith("jira_software.remote_link.") and software is not None:
            link_id = str(params["id"])
            at_jira = _software_link(software, link_id)
            if action.kind == "jira_software.remote_link.submit":
                if at_jira is None:
                    drifts.append(f"Jira Software link {link_id} missing")
                elif _software_fields(at_jira) != _software_fields(link_of(params)):
                    drifts.append(f"Jira Software link {link_id} differs from the rules'")
            elif at_jira is not None:
                drifts.append(f"Jira Software link {link_id} the rules do not want")
        elif action.kind.startswith("zendesk.jira_link.") and zendesk is not None and params.get("issue_id"):
            if at_zendesk is None:
                # Zendesk matches the filter against ticket and issue ids: keep this ticket's links only.
                at_zendesk = [link for link in zendesk.iter_links(ticket_id) if link.ticket_id == ticket_id]
            issue_id = str(params["issue_id"])
            present = any(link.issue_id == issue_id for link in at_zendesk)
            if action.kind == "zendesk.jira_link.create" and not present:
                drifts.append(f"Zendesk link to {params.get('issue_key') or issue_id} missing")
                if not ctx.dry_run:
                    links.remove(ctx.conn, ticket_id, issue_id)  # else the create trusts the index
            elif action.kind == "zendesk.jira_link.delete" and present:
                drifts.append(f"Zendesk link to issue {issue_id} the rules do not want")
    return drifts


def _remote_link(jira: JiraClient, issue: str, global_id: str) -> RemoteLink | None:
    try:
        found = jira.list_remote_links(issue, global_id=global_id)
    except UpstreamNotFound:
        return None  # Jira answers 404 for a globalId the issue has no link with
    # A record read back is checked field by field: the link asked for, not any link of the issue.
    return next((link for link in found if link.global_id == global_id), None)


def _software_link(software: JiraSoftwareClient, link_id: str) -> SoftwareRemoteLink | None:
    try:
        return software.get_remote_link(link_id)
    except UpstreamNotFound:
        return None


def _software_fields(link: SoftwareRemoteLink) -> tuple[Any, ...]:
    """What the rules write of a Jira Software link (its sequence number and update time are each plan's)."""
    keys = sorted(
        str(key) for association in link.associations or [] for key in association.get("values", [])
    )
    status = link.status or {}
    return (
        link.display_name,
        link.url,
        link.type,
        link.description,
        keys,
        status.get("label"),
        status.get("appearance") if status else None,
    )


def _contains(found: Any, wanted: Any) -> bool:
    """Whether ``found`` holds every field ``wanted`` has, with the same value (Jira adds its own)."""
    if isinstance(wanted, dict):
        return isinstance(found, dict) and all(
            _contains(found.get(name), value) for name, value in wanted.items()
        )
    return bool(found == wanted)
