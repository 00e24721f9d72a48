"""What rules may ask of Jira Software: submit and delete a Connect app's remote link.

A delete of a link that is already gone counts as done; a link the bulk answer lists as rejected is a
permanent failure, with Jira's reasons. Submits take many links per request: the drain jobs merge the
waiting submits of different links into one (``remote_links_submit``).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from redis import Redis

from bridge.errors import PermanentUpstreamError, UpstreamError
from bridge.rules.params import ID, INT, KEYS, STR, ActionSpec
from bridge.upstreams import Action, Call, Result, delete
from bridge.upstreams.jira_software.client import JiraSoftwareClient, SoftwareRemoteLink

if TYPE_CHECKING:
    from bridge.upstreams import Clients

VARIABLES = "JIRA_CONNECT_APP_KEY and JIRA_CONNECT_SHARED_SECRET"
"""What a Jira Software call needs set (besides JIRA_BASE_URL)."""


def remote_link_submit(clients: Clients, conn: Redis, params: dict[str, Any], call: Call) -> Result:
    result = remote_links_submit(clients, conn, [(params, call)])[0]
    if isinstance(result, UpstreamError):
        raise result
    return result


def remote_links_submit(
    clients: Clients, conn: Redis, items: list[tuple[dict[str, Any], Call]]
) -> list[Result | UpstreamError]:
    """Submit many remote links in one bulk request (the client splits it when Jira answers 413); each
    link's answer is its own: accepted, or rejected with Jira's reasons (a permanent error of that one)."""
    software = clients.need("jira_software", JiraSoftwareClient, VARIABLES)
    links = [_link(params, call) for params, call in items]
    keys = [call.key for _, call in items]
    # One request, one key: the calls' own keys when alone, else a digest of them all.
    key = keys[0] if len(keys) == 1 else "bulk-" + hashlib.sha256("\n".join(keys).encode()).hexdigest()[:40]
    result = software.submit_remote_links(links, idempotency_key=key)
    answers: list[Result | UpstreamError] = []
    for link in links:
        if link.id in result.rejected_remote_links:
            reasons = str(result.rejected_remote_links[link.id])
            answers.append(PermanentUpstreamError("POST", "rest/remotelinks/1.0/bulk", 202, reasons))
        else:
            answers.append({"accepted": [link.id]})
    return answers


def _link(params: dict[str, Any], call: Call) -> SoftwareRemoteLink:
    status = None
    if params.get("status_appearance") or params.get("status_label"):
        status = {
            "appearance": params.get("status_appearance", "default"),
            "label": params.get("status_label"),
        }
    return SoftwareRemoteLink(
        id=params["id"],
        # Jira keeps the link with the highest number: the plan's version grows with every plan.
        updateSequenceNumber=params.get("update_sequence_number") or call.version,
        displayName=params["display_name"],
        url=params["url"],
        type=params["type"],
        lastUpdated=params.get("last_updated") or datetime.now(UTC).isoformat(),
        description=params.get("description"),
        associations=[{"associationType": "issueKeys", "values": list(params["issue_keys"])}],
        status=status,
    )


def link_of(params: dict[str, Any]) -> SoftwareRemoteLink:
    """The remote link a submit with ``params`` writes (its sequence number aside: each plan's own)."""
    return _link(params, Call("", 0))


def remote_link_delete(clients: Clients, conn: Redis, params: dict[str, Any], call: Call) -> Result:
    software = clients.need("jira_software", JiraSoftwareClient, VARIABLES)
    return delete(lambda: software.delete_remote_link(params["id"], idempotency_key=call.key))


ACTIONS = (
    Action(
        ActionSpec(
            "jira_software.remote_link.submit",
            "jira_software",
            "id",
            {
                "id": ID,
                "issue_keys": KEYS,
                "display_name": STR,
                "url": STR,
                "type": STR,
            },
            {
                "update_sequence_number": INT,
                "last_updated": STR,
                "description": STR,
                "status_appearance": STR,
                "status_label": STR,
            },
        ),
        remote_link_submit,
        remote_links_submit,
    ),
    Action(
        ActionSpec("jira_software.remote_link.delete", "jira_software", "id", {"id": ID}, {}),
        remote_link_delete,
    ),
)
"""Jira Software's action kinds, each with the function that makes its call."""
