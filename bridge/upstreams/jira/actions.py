"""What rules may ask of Jira: create-or-update and delete an issue's remote link.

Each kind's ``ActionSpec`` (what a rule must give) sits beside the function that makes the call. A
delete of a link that is already gone counts as done: the effect wanted is its absence.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from redis import Redis

from bridge.rules.params import BOOL, ID, STR, ActionSpec
from bridge.upstreams import Action, Call, Result, delete
from bridge.upstreams.jira.client import JiraClient, RemoteLink, RemoteLinkObject

if TYPE_CHECKING:
    from bridge.upstreams import Clients

VARIABLES = "JIRA_BASE_URL, JIRA_EMAIL and JIRA_API_TOKEN"
"""What a Jira call needs set."""

_REMOTE_LINK_OPTIONAL = {
    "summary": STR,
    "status_resolved": BOOL,
    "relationship": STR,
    "application_type": STR,
    "application_name": STR,
    "icon_url": STR,
}


def remote_link_of(params: dict[str, Any]) -> RemoteLink:
    """Return the whole remote link an upsert with ``params`` writes (a link audit compares it with Jira's)."""
    return RemoteLink(
        globalId=params["global_id"],
        relationship=params.get("relationship"),
        application=(
            {"type": params.get("application_type"), "name": params.get("application_name")}
            if params.get("application_type") or params.get("application_name")
            else None
        ),
        object=RemoteLinkObject(
            url=params["url"],
            title=params["title"],
            summary=params.get("summary"),
            icon={"url16x16": params["icon_url"]} if params.get("icon_url") else None,
            status={"resolved": bool(params["status_resolved"])} if "status_resolved" in params else None,
        ),
    )


def remote_link_upsert(clients: Clients, conn: Redis, params: dict[str, Any], call: Call) -> Result:
    jira = clients.need("jira", JiraClient, VARIABLES)
    link = remote_link_of(params)
    saved = jira.upsert_remote_link(params["issue"], link, idempotency_key=call.key)
    return {"id": saved.id, "created": saved.created}


def remote_link_delete(clients: Clients, conn: Redis, params: dict[str, Any], call: Call) -> Result:
    jira = clients.need("jira", JiraClient, VARIABLES)
    return delete(
        lambda: jira.delete_remote_link_by_global_id(
            params["issue"], params["global_id"], idempotency_key=call.key
        )
    )


ACTIONS = (
    Action(
        ActionSpec(
            "jira.remote_link.upsert",
            "jira",
            "issue",
            {"issue": ID, "global_id": STR, "url": STR, "title": STR},
            _REMOTE_LINK_OPTIONAL,
            object_params=("issue", "global_id"),
        ),
        remote_link_upsert,
    ),
    Action(
        ActionSpec(
            "jira.remote_link.delete",
            "jira",
            "issue",
            {"issue": ID, "global_id": STR},
            {},
            object_params=("issue", "global_id"),
        ),
        remote_link_delete,
    ),
)
"""Jira's action kinds, each with the function that makes its call."""
