"""What rules may ask of Zendesk: link a ticket to a Jira issue, and unlink it.

Links are named by ticket id and issue id, never by key: a Jira issue moved to another project keeps its
id and gets a new key (https://developer.zendesk.com/api-reference/ticketing/jira/links/ says to use
``issue_id`` for this reason). Zendesk has no update of a link, so a link made with an issue's old key
is deleted and made again with the new one.

Zendesk's create is not idempotent upstream, and its list filter ``filter[ticket_id]`` matches links whose
ticket id *or issue id* is the number given, so every record read back is checked field by field. A
create first consults the bridge's own index (bridge/stores/links.py); it looks at Zendesk's list only
when an earlier attempt of the same call may have made the link (its answer lost), or when Zendesk
answers that the link exists (an agent made it): one request per new link otherwise.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from redis import Redis
from redis.client import Pipeline

from bridge.errors import UpstreamInvalid, UpstreamNotFound
from bridge.rules.params import ID, STR, ActionSpec
from bridge.stores import issue_ids, links
from bridge.upstreams import Action, Call, Result
from bridge.upstreams.jira.client import JiraClient
from bridge.upstreams.zendesk.client import JiraLink, ZendeskClient

if TYPE_CHECKING:
    from bridge.upstreams import Clients

VARIABLES = "ZENDESK_BASE_URL, ZENDESK_EMAIL and ZENDESK_API_TOKEN"
"""What a Zendesk call needs set."""


def find_link(zendesk: ZendeskClient, ticket_id: str, issue_id: str) -> JiraLink | None:
    """Return Zendesk's link of exactly this ticket and issue (the list filter matches either id)."""
    for link in zendesk.iter_links(ticket_id=ticket_id):
        if link.ticket_id == ticket_id and link.issue_id == issue_id:
            return link
    return None


def _delete(zendesk: ZendeskClient, link_id: int, call: Call) -> bool:
    try:
        zendesk.delete_link(link_id, idempotency_key=call.key)
    except UpstreamNotFound:  # already gone: the effect wanted is its absence
        return False
    return True


def _issue_id(clients: Clients, conn: Redis, params: dict[str, Any]) -> str:
    """The issue's id: given, remembered for its key, or asked of Jira (which finds moved issues by old keys)."""
    if params.get("issue_id"):
        return str(params["issue_id"])
    key = str(params["issue_key"])
    remembered = issue_ids.ids(conn, [key]).get(key)
    if remembered:
        return remembered
    jira = clients.need(
        "jira", JiraClient, "JIRA_BASE_URL, JIRA_EMAIL and JIRA_API_TOKEN (to look up issue ids)"
    )
    issue = jira.get_issue(key, fields="updated")
    issue_ids.remember_keys(conn, issue.id, key, issue.key)
    return issue.id


def _read_index(pipe: Pipeline, params: dict[str, Any]) -> None:
    """Read the index's link of the ticket and issue with the call's claim (``Action.read_ahead``), when
    the plan names the issue by id."""
    if params.get("issue_id"):
        pipe.hget(links.ticket_key(str(params["ticket_id"])), str(params["issue_id"]))


def _indexed(conn: Redis, call: Call, ticket_id: str, issue_id: str) -> links.IndexedLink | None:
    """The index's link of the ticket and issue: as read with the claim (``_read_index``), or read now."""
    if call.read:
        return links.get_reply(call.read[0])
    return links.get(conn, ticket_id, issue_id)


def link_create(clients: Clients, conn: Redis, params: dict[str, Any], call: Call) -> Result:
    zendesk = clients.need("zendesk", ZendeskClient, VARIABLES)
    ticket_id, issue_key = str(params["ticket_id"]), params["issue_key"]
    issue_id = _issue_id(clients, conn, params)
    indexed = _indexed(conn, call, ticket_id, issue_id)
    if indexed is not None and indexed.issue_key == issue_key and not call.again:
        return {"id": indexed.link_id, "created": False, "reason": "in the bridge's link index"}
    found = find_link(zendesk, ticket_id, issue_id) if call.again else None
    if found is None and indexed is not None and indexed.issue_key != issue_key:
        # Made with the issue's old key: Zendesk updates no link, so it goes and comes back with the new key.
        _delete(zendesk, indexed.link_id, call)
        links.remove(conn, ticket_id, issue_id)
    elif found is not None:
        if found.issue_key == issue_key:
            _index(call, ticket_id, issue_id, issue_key, found.id)
            return {"id": found.id, "created": False, "reason": "already linked at Zendesk"}
        _delete(zendesk, found.id, call)
    try:
        link = zendesk.create_link(ticket_id, issue_id, issue_key, idempotency_key=call.key)
    except UpstreamInvalid:
        # Linked already (by an agent, or an attempt whose answer was lost): adopt or renew that link.
        found = find_link(zendesk, ticket_id, issue_id)
        if found is None:
            raise
        if found.issue_key == issue_key:
            _index(call, ticket_id, issue_id, issue_key, found.id)
            return {"id": found.id, "created": False, "reason": "already linked at Zendesk"}
        _delete(zendesk, found.id, call)
        link = zendesk.create_link(ticket_id, issue_id, issue_key, idempotency_key=call.key)
    _index(call, ticket_id, issue_id, issue_key, link.id)
    return {"id": link.id, "created": True}


def _index(call: Call, ticket_id: str, issue_id: str, issue_key: str, link_id: int) -> None:
    """Add the link to the index with the call's end (``Call.then``): a crash before it leaves the call
    unfinished, and its next attempt looks at Zendesk's list."""
    call.then.append(lambda pipe: links.add(pipe, ticket_id, issue_id, issue_key, link_id))


def link_delete(clients: Clients, conn: Redis, params: dict[str, Any], call: Call) -> Result:
    zendesk = clients.need("zendesk", ZendeskClient, VARIABLES)
    ticket_id = str(params["ticket_id"])
    try:
        issue_id = _issue_id(clients, conn, params)
    except UpstreamNotFound:
        return {"deleted": [], "reason": f"no issue {params.get('issue_key')}"}
    indexed = _indexed(conn, call, ticket_id, issue_id)
    deleted = []
    if indexed is not None and _delete(zendesk, indexed.link_id, call):
        deleted.append(indexed.link_id)
    if indexed is None or call.again:
        # Not in the index (made by an agent, or before the index knew it): look it up, field by field.
        found = find_link(zendesk, ticket_id, issue_id)
        if found is not None and _delete(zendesk, found.id, call):
            deleted.append(found.id)
    links.remove(conn, ticket_id, issue_id)
    return {"deleted": deleted}


ACTIONS = (
    Action(
        ActionSpec(
            "zendesk.jira_link.create",
            "zendesk",
            "ticket_id",
            {"ticket_id": ID, "issue_key": STR},
            {"issue_id": ID},
            object_params=("ticket_id", ("issue_id", "issue_key")),
        ),
        link_create,
        read_ahead=_read_index,
    ),
    Action(
        ActionSpec(
            "zendesk.jira_link.delete",
            "zendesk",
            "ticket_id",
            {"ticket_id": ID},
            {},
            one_of=(("issue_id", "issue_key"),),
            object_params=("ticket_id", ("issue_id", "issue_key")),
        ),
        link_delete,
        read_ahead=_read_index,
    ),
)
"""Zendesk's action kinds, each with the function that makes its calls. A rule names the issue by id
(``issue_id``); a rule that gives only ``issue_key`` has the id looked up from the key."""
