"""JSM ops integration actions.

https://developer.atlassian.com/cloud/jira/service-desk-ops/rest/v2/api-group-integration-actions/

Basic auth (email:API token). Errors are ``{code, message}``, as api.atlassian.com answers. The
configured integration always exists; others are seeded through the control API. Actions keep the
order of their integration; ``PATCH …/actions/{id}/order`` with ``successorId`` moves an action just
before that one (to the end without one). Action names are unique within an integration (a sandbox
choice: the real rule is unpublished, and ``bridge jsm apply`` matches actions by name).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bridge.upstreams.sandbox.config import JSM_PREFIX
from bridge.upstreams.sandbox.control_api import read_json, refused
from bridge.upstreams.sandbox.emulation import (
    ApiProblem,
    EmulatedApi,
    check_basic,
    json_body,
    json_response,
    no_content,
)

PAGE_SIZE_DEFAULT = 50
"""Actions per page when ``size`` is not given."""

FIRST_ACTION_ID = 1704982046651000000
"""Action ids are long digit strings, as on the page."""

_REQUIRED = ("type", "name", "domain", "direction")
_PATCHABLE = {"name", "enabled", "filter", "typeSpecificProperties", "fieldMappings", "actionMapping"}
_SUMMARY = ("id", "name", "type", "direction", "domain", "actionMappingType", "groupType")
_FILTERS = ("type", "direction", "domain", "name")


@dataclass
class Integration:
    """An integration's actions, in order."""

    actions: dict[str, dict[str, Any]] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)

    def named(self, name: str) -> str | None:
        return next((action_id for action_id in self.order if self.actions[action_id]["name"] == name), None)


def check_new_action(body: Any) -> dict[str, Any]:
    """Return a create body, or raise 400 naming what is missing or wrong."""
    if not isinstance(body, dict):
        raise ApiProblem(400, "the body must be a JSON object")
    for name in _REQUIRED:
        if not isinstance(body.get(name), str) or not body[name].strip():
            raise ApiProblem(400, f"{name} is required")
    if body["direction"] not in ("incoming", "outgoing"):
        raise ApiProblem(400, "direction must be incoming or outgoing")
    if not isinstance(body.get("filter"), dict):
        raise ApiProblem(400, "filter is required")
    group = body.get("groupType") or None
    if group is not None and group not in ("forwarding", "updating", "checkbox"):
        raise ApiProblem(400, "groupType must be forwarding, updating or checkbox")
    if body["direction"] == "outgoing" and group is None:
        raise ApiProblem(400, "groupType is required for an outgoing action")
    _check_changes(body)
    return body


def _check_changes(body: dict[str, Any]) -> None:
    if "enabled" in body and not isinstance(body["enabled"], bool):
        raise ApiProblem(400, "enabled must be true or false")
    for name in ("filter", "typeSpecificProperties", "fieldMappings", "actionMapping"):
        if body.get(name) is not None and not isinstance(body[name], dict):
            raise ApiProblem(400, f"{name} must be an object")


def summary(action: dict[str, Any]) -> dict[str, Any]:
    """An action as the list shows it."""
    mapping = action.get("actionMapping") or {}
    found = {**action, "actionMappingType": mapping.get("type")}
    return {name: found[name] for name in _SUMMARY if found.get(name) is not None}


class JsmApi(EmulatedApi):
    """Integrations and their ordered actions."""

    name = "jsm"
    prefix = JSM_PREFIX
    challenge = 'Basic realm="sandbox-jsm"'

    def reset(self) -> None:
        self.integrations: dict[str, Integration] = {self.config.jsm_integration_id: Integration()}
        self.ids = itertools.count(FIRST_ACTION_ID)

    def authenticate(self, request: Request) -> str | None:
        return check_basic(request, self.config.jsm_email, self.config.jsm_api_token)

    def error(self, status: int, message: str, details: dict[str, Any]) -> Response:
        return json_response({"code": status, "message": message}, status)

    def routes(self) -> Sequence[Route]:
        base = "/v1/integrations/{integration}/actions"
        return [
            self.route(base, self.list_actions, ["GET"]),
            self.route(base, self.create, ["POST"]),
            self.route(base + "/{action_id}", self.get, ["GET"]),
            self.route(base + "/{action_id}", self.update, ["PATCH"]),
            self.route(base + "/{action_id}", self.delete, ["DELETE"]),
            self.route(base + "/{action_id}/order", self.reorder, ["PATCH"]),
        ]

    def snapshot(self) -> dict[str, Any]:
        return {
            "integrations": {
                integration_id: [integration.actions[action_id] for action_id in integration.order]
                for integration_id, integration in self.integrations.items()
            }
        }

    def control_routes(self) -> Sequence[Route]:
        return [Route("/jsm/integrations", self._seed_integration, methods=["POST"])]

    async def _seed_integration(self, request: Request) -> Response:
        try:
            body = await read_json(request)
        except ValueError as exc:
            return refused(str(exc))
        if not isinstance(body, dict) or not isinstance(body.get("id"), str) or not body["id"]:
            return refused('the body must be {"id": "<integration id>", "actions"?: [...]}')
        actions = body.get("actions") or []
        if not isinstance(actions, list):
            return refused("actions must be a list")
        try:
            created = self.seed(body["id"], actions)
        except ApiProblem as problem:
            return refused(problem.message)
        return json_response({"id": body["id"], "actions": created}, 201)

    def seed(self, integration_id: str, actions: list[Any]) -> list[dict[str, Any]]:
        """Create (or empty) an integration and give it ``actions``; raise ApiProblem for a bad one."""
        integration = Integration()
        for body in actions:
            self._add(integration, check_new_action(body))
        self.integrations[integration_id] = integration
        return [integration.actions[action_id] for action_id in integration.order]

    def _add(self, integration: Integration, body: dict[str, Any]) -> dict[str, Any]:
        if integration.named(body["name"]) is not None:
            raise ApiProblem(400, f"an action named {body['name']!r} already exists in this integration")
        action = {**body, "id": str(next(self.ids)), "enabled": body.get("enabled", False)}
        integration.actions[action["id"]] = action
        integration.order.append(action["id"])
        return action

    def _integration(self, request: Request) -> Integration:
        integration = self.integrations.get(request.path_params["integration"])
        if integration is None:
            raise ApiProblem(404, f"integration {request.path_params['integration']} was not found")
        return integration

    def _action_id(self, request: Request, integration: Integration) -> str:
        action_id: str = request.path_params["action_id"]
        if action_id not in integration.actions:
            raise ApiProblem(404, f"integration action {action_id} was not found")
        return action_id

    async def list_actions(self, request: Request) -> Response:
        integration = self._integration(request)
        params = request.query_params
        offset, size = _number(params.get("offset"), 0), _number(params.get("size"), PAGE_SIZE_DEFAULT)
        if size < 1:
            raise ApiProblem(400, "size must be at least 1")
        wanted = {name: params[name] for name in _FILTERS if params.get(name)}
        found = [
            integration.actions[action_id]
            for action_id in integration.order
            if all(integration.actions[action_id].get(k) == v for k, v in wanted.items())
        ]
        links: dict[str, str] = {}
        if offset + size < len(found):
            query = urlencode({**wanted, "offset": offset + size, "size": size})
            links["next"] = f"/v1/integrations/{request.path_params['integration']}/actions?{query}"
        values = [summary(action) for action in found[offset : offset + size]]
        return json_response({"links": links, "values": values})

    async def create(self, request: Request) -> Response:
        integration = self._integration(request)
        return json_response(self._add(integration, check_new_action(await json_body(request))))

    async def get(self, request: Request) -> Response:
        integration = self._integration(request)
        return json_response(integration.actions[self._action_id(request, integration)])

    async def update(self, request: Request) -> Response:
        integration = self._integration(request)
        action_id = self._action_id(request, integration)
        changes = await json_body(request)
        if not isinstance(changes, dict):
            raise ApiProblem(400, "the body must be a JSON object")
        unknown = sorted(set(changes) - _PATCHABLE)
        if unknown:
            raise ApiProblem(
                400, f"cannot change {', '.join(unknown)}; changeable: {', '.join(sorted(_PATCHABLE))}"
            )
        _check_changes(changes)
        if "name" in changes:
            owner = integration.named(changes["name"])
            if owner is not None and owner != action_id:
                raise ApiProblem(
                    400, f"an action named {changes['name']!r} already exists in this integration"
                )
        integration.actions[action_id].update(changes)
        return json_response(integration.actions[action_id])

    async def delete(self, request: Request) -> Response:
        integration = self._integration(request)
        action_id = self._action_id(request, integration)
        del integration.actions[action_id]
        integration.order.remove(action_id)
        return no_content()

    async def reorder(self, request: Request) -> Response:
        integration = self._integration(request)
        action_id = self._action_id(request, integration)
        body = await json_body(request)
        successor = body.get("successorId") if isinstance(body, dict) else None
        if successor is not None and successor not in integration.actions:
            raise ApiProblem(400, f"successorId {successor!r} is not an action of this integration")
        if successor == action_id:
            raise ApiProblem(400, "an action cannot be its own successor")
        integration.order.remove(action_id)
        position = integration.order.index(successor) if successor is not None else len(integration.order)
        integration.order.insert(position, action_id)
        return Response(b"", 200)


def _number(raw: str | None, default: int) -> int:
    if raw is None or raw == "":
        return default
    if not raw.isdigit():
        raise ApiProblem(400, f"{raw!r} is not a non-negative integer")
    return int(raw)


API = JsmApi
"""This upstream's emulation, as the sandbox builds it."""
