"""What rules may ask of JSM ops: create, update and delete an integration's action.

Actions are named by id or by name (looked up in the integration's list). Create is not idempotent
upstream: an action of that name made by an earlier, crashed attempt counts as made. A delete of an
action that is already gone counts as done.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from redis import Redis

from bridge.errors import UpstreamNotFound
from bridge.rules.params import DICT, ID, ActionSpec
from bridge.upstreams import Action, Call, Result, delete
from bridge.upstreams.jsm.client import JsmOpsClient

if TYPE_CHECKING:
    from bridge.upstreams import Clients

VARIABLES = "JSM_OPS_BASE_URL, JSM_EMAIL and JSM_API_TOKEN"
"""What a JSM call needs set."""


def _action_id(clients: Clients, params: dict[str, Any]) -> str | None:
    if params.get("action_id"):
        return str(params["action_id"])
    jsm = clients.need("jsm", JsmOpsClient, VARIABLES)
    for action in jsm.iter_actions(params["integration_id"]):
        if action.name == params["action_name"]:
            return action.id
    return None


def integration_action_create(clients: Clients, conn: Redis, params: dict[str, Any], call: Call) -> Result:
    jsm = clients.need("jsm", JsmOpsClient, VARIABLES)
    name = params["action"].get("name")
    for existing in jsm.iter_actions(params["integration_id"]):
        if name is not None and existing.name == name:
            return {"id": existing.id, "created": False, "reason": "an action of that name exists"}
    created = jsm.create_action(params["integration_id"], params["action"], idempotency_key=call.key)
    return {"id": created.id, "created": True}


def integration_action_update(clients: Clients, conn: Redis, params: dict[str, Any], call: Call) -> Result:
    jsm = clients.need("jsm", JsmOpsClient, VARIABLES)
    action_id = _action_id(clients, params)
    if action_id is None:
        raise UpstreamNotFound(
            "PATCH", "integration action", 404, f"no action named {params.get('action_name')!r}"
        )
    updated = jsm.update_action(
        params["integration_id"], action_id, params["changes"], idempotency_key=call.key
    )
    return {"id": updated.id}


def integration_action_delete(clients: Clients, conn: Redis, params: dict[str, Any], call: Call) -> Result:
    jsm = clients.need("jsm", JsmOpsClient, VARIABLES)
    action_id = _action_id(clients, params)
    if action_id is None:
        return {"deleted": False, "reason": "not found"}
    return delete(lambda: jsm.delete_action(params["integration_id"], action_id, idempotency_key=call.key))


ACTIONS = (
    Action(
        ActionSpec(
            "jsm.integration_action.create",
            "jsm",
            "integration_id",
            {"integration_id": ID, "action": DICT},
            {},
        ),
        integration_action_create,
    ),
    Action(
        ActionSpec(
            "jsm.integration_action.update",
            "jsm",
            "integration_id",
            {"integration_id": ID, "changes": DICT},
            {},
            one_of=(("action_name", "action_id"),),
            object_params=("integration_id", ("action_name", "action_id")),
        ),
        integration_action_update,
    ),
    Action(
        ActionSpec(
            "jsm.integration_action.delete",
            "jsm",
            "integration_id",
            {"integration_id": ID},
            {},
            one_of=(("action_name", "action_id"),),
            object_params=("integration_id", ("action_name", "action_id")),
        ),
        integration_action_delete,
    ),
)
"""JSM's action kinds, each with the function that makes its calls."""
