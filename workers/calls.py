"""Each action kind as calls of the clients: translate a planned action's params into upstream requests.

One function per kind, looked up in ``CALLS``. Deletes of what is already gone count as done (the
effect wanted is its absence). Zendesk's link create is made safe here: the issue id is resolved from
the key, then the bridge's index and Zendesk's own list are checked before anything is created.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from redis import Redis

from bridge import constants, linkindex
from bridge.clients import Clients
from bridge.clients.errors import PermanentUpstreamError
from bridge.clients.jira import RemoteLink, RemoteLinkObject
from bridge.clients.jira_software import SoftwareRemoteLink
from bridge.clients.salesforce import Association
from bridge.errors import BridgeError
from bridge.redis_conn import text

Result = dict[str, Any]
Call = Callable[[Clients, Redis, dict[str, Any], str], Result]
Client = TypeVar("Client")

ISSUE_ID_KEY = constants.KEY_PREFIX + "issue-id:{issue_key}"
ISSUE_ID_TTL_S = 24 * 3600
"""Issue ids never change, but a key can move to another issue; a day bounds how long a move goes unseen."""


class NotConfigured(BridgeError):
    """An action needs an upstream whose variables are not set."""


def _need(client: Client | None, variables: str) -> Client:
    if client is None:
        raise NotConfigured(f"this action needs {variables} to be set")
    return client


def _gone(error: PermanentUpstreamError) -> bool:
    return error.status == 404


def remote_link_upsert(clients: Clients, conn: Redis, params: dict[str, Any], key: str) -> Result:
    jira = _need(clients.jira, "JIRA_BASE_URL, JIRA_EMAIL and JIRA_API_TOKEN")
    link = RemoteLink(
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
    saved = jira.upsert_remote_link(params["issue"], link, idempotency_key=key)
    return {"id": saved.id, "created": saved.created}


def remote_link_delete(clients: Clients, conn: Redis, params: dict[str, Any], key: str) -> Result:
    jira = _need(clients.jira, "JIRA_BASE_URL, JIRA_EMAIL and JIRA_API_TOKEN")
    try:
        jira.delete_remote_link_by_global_id(params["issue"], params["global_id"], idempotency_key=key)
    except PermanentUpstreamError as error:
        if not _gone(error):
            raise
        return {"deleted": False, "reason": "not found"}
    return {"deleted": True}


def software_link_submit(clients: Clients, conn: Redis, params: dict[str, Any], key: str) -> Result:
    software = _need(clients.jira_software, "JIRA_CONNECT_APP_KEY and JIRA_CONNECT_SHARED_SECRET")
    status = None
    if params.get("status_appearance") or params.get("status_label"):
        status = {
            "appearance": params.get("status_appearance", "default"),
            "label": params.get("status_label"),
        }
    link = SoftwareRemoteLink(
        id=params["id"],
        updateSequenceNumber=params["update_sequence_number"],
        displayName=params["display_name"],
        url=params["url"],
        type=params["type"],
        lastUpdated=params.get("last_updated") or datetime.now(UTC).isoformat(),
        description=params.get("description"),
        associations=[{"associationType": "issueKeys", "values": list(params["issue_keys"])}],
        status=status,
    )
    result = software.submit_remote_links([link], idempotency_key=key)
    if params["id"] in result.rejected_remote_links:
        raise PermanentUpstreamError(
            "POST", "rest/remotelinks/1.0/bulk", 202, str(result.rejected_remote_links[params["id"]])
        )
    return {"accepted": result.accepted_remote_links}


def software_link_delete(clients: Clients, conn: Redis, params: dict[str, Any], key: str) -> Result:
    software = _need(clients.jira_software, "JIRA_CONNECT_APP_KEY and JIRA_CONNECT_SHARED_SECRET")
    try:
        software.delete_remote_link(params["id"], idempotency_key=key)
    except PermanentUpstreamError as error:
        if not _gone(error):
            raise
        return {"deleted": False, "reason": "not found"}
    return {"deleted": True}


def _issue_id(clients: Clients, conn: Redis, issue_key: str) -> str:
    cached = conn.get(ISSUE_ID_KEY.format(issue_key=issue_key))
    if cached is not None:
        return text(cached)
    jira = _need(clients.jira, "JIRA_BASE_URL, JIRA_EMAIL and JIRA_API_TOKEN (to resolve issue ids)")
    issue = jira.get_issue(issue_key, fields="summary")
    conn.set(ISSUE_ID_KEY.format(issue_key=issue_key), issue.id, ex=ISSUE_ID_TTL_S)
    return issue.id


def zendesk_link_create(clients: Clients, conn: Redis, params: dict[str, Any], key: str) -> Result:
    zendesk = _need(clients.zendesk, "ZENDESK_BASE_URL, ZENDESK_EMAIL and ZENDESK_API_TOKEN")
    ticket_id, issue_key = str(params["ticket_id"]), params["issue_key"]
    known = linkindex.link_id(conn, ticket_id, issue_key)
    if known is not None:
        return {"id": known, "created": False, "reason": "in the bridge's link index"}
    issue_id = _issue_id(clients, conn, issue_key)
    for existing in zendesk.iter_links(ticket_id=ticket_id):
        if existing.ticket_id == ticket_id and existing.issue_id == issue_id:
            linkindex.add(conn, ticket_id, issue_key, existing.id)
            return {"id": existing.id, "created": False, "reason": "already linked at Zendesk"}
    link = zendesk.create_link(ticket_id, issue_id, issue_key, idempotency_key=key)
    linkindex.add(conn, ticket_id, issue_key, link.id)
    return {"id": link.id, "created": True}


def zendesk_link_delete(clients: Clients, conn: Redis, params: dict[str, Any], key: str) -> Result:
    zendesk = _need(clients.zendesk, "ZENDESK_BASE_URL, ZENDESK_EMAIL and ZENDESK_API_TOKEN")
    ticket_id, issue_key = str(params["ticket_id"]), params["issue_key"]
    ids = {linkindex.link_id(conn, ticket_id, issue_key)}
    ids |= {link.id for link in zendesk.iter_links(ticket_id=ticket_id) if link.issue_key == issue_key}
    deleted = []
    for zendesk_link_id in sorted(found for found in ids if found is not None):
        try:
            zendesk.delete_link(zendesk_link_id, idempotency_key=key)
            deleted.append(zendesk_link_id)
        except PermanentUpstreamError as error:
            if not _gone(error):
                raise
    linkindex.remove(conn, ticket_id, issue_key)
    return {"deleted": deleted}


def _associations(params: dict[str, Any]) -> list[Association]:
    return [Association.model_validate(item) for item in params["associations"]]


def associations_add(clients: Clients, conn: Redis, params: dict[str, Any], key: str) -> Result:
    salesforce = _need(clients.salesforce, "SALESFORCE_CONNECTOR_BASE_URL and SALESFORCE_CONNECTOR_PAT")
    saved = salesforce.add_associations(params["issue"], _associations(params), idempotency_key=key)
    return {"message": saved.message}


def associations_replace(clients: Clients, conn: Redis, params: dict[str, Any], key: str) -> Result:
    salesforce = _need(clients.salesforce, "SALESFORCE_CONNECTOR_BASE_URL and SALESFORCE_CONNECTOR_PAT")
    saved = salesforce.replace_associations(params["issue"], _associations(params), idempotency_key=key)
    return {"message": saved.message}


def _action_id(clients: Clients, params: dict[str, Any]) -> str | None:
    if params.get("action_id"):
        return str(params["action_id"])
    jsm = _need(clients.jsm, "JSM_OPS_BASE_URL, JSM_EMAIL and JSM_API_TOKEN")
    for action in jsm.iter_actions(params["integration_id"]):
        if action.name == params["action_name"]:
            return action.id
    return None


def integration_action_create(clients: Clients, conn: Redis, params: dict[str, Any], key: str) -> Result:
    jsm = _need(clients.jsm, "JSM_OPS_BASE_URL, JSM_EMAIL and JSM_API_TOKEN")
    # Create is not idempotent upstream: an action of that name made by an earlier, crashed attempt counts.
    name = params["action"].get("name")
    for existing in jsm.iter_actions(params["integration_id"]):
        if name is not None and existing.name == name:
            return {"id": existing.id, "created": False, "reason": "an action of that name exists"}
    created = jsm.create_action(params["integration_id"], params["action"], idempotency_key=key)
    return {"id": created.id, "created": True}


def integration_action_update(clients: Clients, conn: Redis, params: dict[str, Any], key: str) -> Result:
    jsm = _need(clients.jsm, "JSM_OPS_BASE_URL, JSM_EMAIL and JSM_API_TOKEN")
    action_id = _action_id(clients, params)
    if action_id is None:
        raise PermanentUpstreamError(
            "PATCH", "integration action", 404, f"no action named {params.get('action_name')!r}"
        )
    updated = jsm.update_action(params["integration_id"], action_id, params["changes"], idempotency_key=key)
    return {"id": updated.id}


def integration_action_delete(clients: Clients, conn: Redis, params: dict[str, Any], key: str) -> Result:
    jsm = _need(clients.jsm, "JSM_OPS_BASE_URL, JSM_EMAIL and JSM_API_TOKEN")
    action_id = _action_id(clients, params)
    if action_id is None:
        return {"deleted": False, "reason": "not found"}
    try:
        jsm.delete_action(params["integration_id"], action_id, idempotency_key=key)
    except PermanentUpstreamError as error:
        if not _gone(error):
            raise
        return {"deleted": False, "reason": "not found"}
    return {"deleted": True}


CALLS: dict[str, Call] = {
    "jira.remote_link.upsert": remote_link_upsert,
    "jira.remote_link.delete": remote_link_delete,
    "jira_software.remote_link.submit": software_link_submit,
    "jira_software.remote_link.delete": software_link_delete,
    "zendesk.jira_link.create": zendesk_link_create,
    "zendesk.jira_link.delete": zendesk_link_delete,
    "salesforce.associations.add": associations_add,
    "salesforce.associations.replace": associations_replace,
    "jsm.integration_action.create": integration_action_create,
    "jsm.integration_action.update": integration_action_update,
    "jsm.integration_action.delete": integration_action_delete,
}
"""Every action kind of ``bridge.rules.actions.ACTIONS``, as upstream calls."""
