"""What rules may ask of Zendesk: link a ticket to a Jira issue, and unlink it.

Zendesk's link create is not idempotent upstream, so it is made safe here: the bridge's link index and
Zendesk's own list are checked before anything is created. Zendesk names the issue by its id, which the
Jira client resolves from the key (cached a day, ``bridge.stores.issue_ids``): the one place an
upstream's actions lean on another upstream's client.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from redis import Redis

from bridge.errors import UpstreamNotFound
from bridge.rules.params import ID, STR, ActionSpec
from bridge.stores import issue_ids, links
from bridge.upstreams import Action, Result
from bridge.upstreams.jira.client import JiraClient
from bridge.upstreams.zendesk.client import ZendeskClient

if TYPE_CHECKING:
    from bridge.upstreams import Clients

VARIABLES = "ZENDESK_BASE_URL, ZENDESK_EMAIL and ZENDESK_API_TOKEN"
"""What a Zendesk call needs set."""


def _issue_id(clients: Clients, conn: Redis, issue_key: str) -> str:
    cached = issue_ids.get(conn, issue_key)
    if cached is not None:
        return cached
    jira = clients.need(
        "jira", JiraClient, "JIRA_BASE_URL, JIRA_EMAIL and JIRA_API_TOKEN (to resolve issue ids)"
    )
    issue = jira.get_issue(issue_key, fields="summary")
    issue_ids.put(conn, issue_key, issue.id)
    return issue.id


def link_create(clients: Clients, conn: Redis, params: dict[str, Any], key: str) -> Result:
    zendesk = clients.need("zendesk", ZendeskClient, VARIABLES)
    ticket_id, issue_key = str(params["ticket_id"]), params["issue_key"]
    known = links.link_id(conn, ticket_id, issue_key)
    if known is not None:
        return {"id": known, "created": False, "reason": "in the bridge's link index"}
    issue_id = _issue_id(clients, conn, issue_key)
    for existing in zendesk.iter_links(ticket_id=ticket_id):
        if existing.ticket_id == ticket_id and existing.issue_id == issue_id:
            links.add(conn, ticket_id, issue_key, existing.id)
            return {"id": existing.id, "created": False, "reason": "already linked at Zendesk"}
    link = zendesk.create_link(ticket_id, issue_id, issue_key, idempotency_key=key)
    links.add(conn, ticket_id, issue_key, link.id)
    return {"id": link.id, "created": True}


def link_delete(clients: Clients, conn: Redis, params: dict[str, Any], key: str) -> Result:
    zendesk = clients.need("zendesk", ZendeskClient, VARIABLES)
    ticket_id, issue_key = str(params["ticket_id"]), params["issue_key"]
    ids = {links.link_id(conn, ticket_id, issue_key)}
    ids |= {link.id for link in zendesk.iter_links(ticket_id=ticket_id) if link.issue_key == issue_key}
    deleted = []
    for zendesk_link_id in sorted(found for found in ids if found is not None):
        try:
            zendesk.delete_link(zendesk_link_id, idempotency_key=key)
            deleted.append(zendesk_link_id)
        except UpstreamNotFound:  # already gone: the effect wanted is its absence
            pass
    links.remove(conn, ticket_id, issue_key)
    return {"deleted": deleted}


ACTIONS = (
    Action(
        ActionSpec(
            "zendesk.jira_link.create", "zendesk", "ticket_id", {"ticket_id": ID, "issue_key": STR}, {}
        ),
        link_create,
    ),
    Action(
        ActionSpec(
            "zendesk.jira_link.delete", "zendesk", "ticket_id", {"ticket_id": ID, "issue_key": STR}, {}
        ),
        link_delete,
    ),
)
"""Zendesk's action kinds, each with the function that makes its calls."""
