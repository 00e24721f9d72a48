"""What rules may ask of Jira Software: submit and delete a Connect app's remote link.

A delete of a link that is already gone counts as done; a link the bulk answer lists as rejected is a
permanent failure, with Jira's reasons.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from redis import Redis

from bridge.errors import PermanentUpstreamError
from bridge.rules.params import ID, INT, KEYS, STR, ActionSpec
from bridge.upstreams import Action, Call, Result, delete
from bridge.upstreams.jira_software.client import JiraSoftwareClient, SoftwareRemoteLink

if TYPE_CHECKING:
    from bridge.upstreams import Clients

VARIABLES = "JIRA_CONNECT_APP_KEY and JIRA_CONNECT_SHARED_SECRET"
"""What a Jira Software call needs set (besides JIRA_BASE_URL)."""


def remote_link_submit(clients: Clients, conn: Redis, params: dict[str, Any], call: Call) -> Result:
    software = clients.need("jira_software", JiraSoftwareClient, VARIABLES)
    status = None
    if params.get("status_appearance") or params.get("status_label"):
        status = {
            "appearance": params.get("status_appearance", "default"),
            "label": params.get("status_label"),
        }
    link = SoftwareRemoteLink(
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
    result = software.submit_remote_links([link], idempotency_key=call.key)
    if params["id"] in result.rejected_remote_links:
        raise PermanentUpstreamError(
            "POST", "rest/remotelinks/1.0/bulk", 202, str(result.rejected_remote_links[params["id"]])
        )
    return {"accepted": result.accepted_remote_links}


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
    ),
    Action(
        ActionSpec("jira_software.remote_link.delete", "jira_software", "id", {"id": ID}, {}),
        remote_link_delete,
    ),
)
"""Jira Software's action kinds, each with the function that makes its call."""
