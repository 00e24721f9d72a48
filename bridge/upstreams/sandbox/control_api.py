"""The control API under ``/_sandbox``: reset, state, seeding, call log and faults (docs/sandbox.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bridge.upstreams.sandbox.emulation import json_response, no_content
from bridge.upstreams.sandbox.faults import APIS, FaultError
from bridge.upstreams.sandbox.quotas import QuotaError

if TYPE_CHECKING:
    from bridge.upstreams.sandbox.app import Sandbox


def refused(message: str, status: int = 400) -> Response:
    """Answer a control call the sandbox cannot carry out."""
    return json_response({"error": message}, status)


async def read_json(request: Request) -> Any:
    """Return a control call's JSON body; raise ``ValueError`` saying why it does not parse."""
    try:
        return orjson.loads(await request.body())
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"body is not valid JSON: {exc.msg}") from None


def control_routes(sandbox: Sandbox) -> list[Route]:
    """The routes of the control API for ``sandbox``."""

    async def reset(request: Request) -> Response:
        sandbox.reset(keep_ids=request.query_params.get("keep_ids") == "true")
        return json_response({"reset": True})

    async def state(request: Request) -> Response:
        return json_response(sandbox.state())

    async def seed_issue(request: Request) -> Response:
        try:
            body = await read_json(request)
            if not isinstance(body, dict) or not isinstance(body.get("key"), str):
                raise ValueError('the body must be {"key": "ABC-1", "id"?: "10001", "fields"?: {...}}')
            issue_id, fields = body.get("id"), body.get("fields")
            if fields is not None and not isinstance(fields, dict):
                raise ValueError("fields must be an object")
            issue = sandbox.issues.seed(body["key"], None if issue_id is None else str(issue_id), fields)
        except ValueError as exc:
            return refused(str(exc))
        return json_response(issue.as_json(), 201)

    async def change_issue(request: Request) -> Response:
        # An edit on the Jira site that no webhook reported: fields, a move (new key, same id).
        try:
            body = await read_json(request)
            if not isinstance(body, dict) or set(body) - {"fields", "key"}:
                raise ValueError('the body must be {"fields"?: {...}, "key"?: "NEW-1"} (a move keeps the id)')
            fields, key = body.get("fields"), body.get("key")
            if fields is not None and not isinstance(fields, dict):
                raise ValueError("fields must be an object")
            if key is not None and not isinstance(key, str):
                raise ValueError("key must be a string")
            issue = sandbox.issues.update(request.path_params["issue"], fields, key)
        except KeyError as exc:
            return refused(str(exc.args[0]), 404)
        except ValueError as exc:
            return refused(str(exc))
        return json_response(issue.as_json())

    async def delete_issue(request: Request) -> Response:
        try:
            sandbox.issues.delete(request.path_params["issue"])
        except KeyError as exc:
            return refused(str(exc.args[0]), 404)
        return no_content()

    async def calls(request: Request) -> Response:
        api = request.query_params.get("api") or None
        if api is not None and api not in APIS:
            return refused(f"api must be one of {', '.join(APIS)}")
        return json_response(sandbox.calls.as_json(api))

    async def clear_calls(request: Request) -> Response:
        sandbox.calls.clear()
        return no_content()

    async def add_fault(request: Request) -> Response:
        try:
            fault = sandbox.faults.add(await read_json(request))
        except (ValueError, FaultError) as exc:
            return refused(str(exc))
        return json_response({"id": fault.id}, 201)

    async def list_faults(request: Request) -> Response:
        return json_response([fault.as_json() for fault in sandbox.faults.faults])

    async def clear_faults(request: Request) -> Response:
        sandbox.faults.clear()
        return no_content()

    async def remove_fault(request: Request) -> Response:
        if sandbox.faults.remove(request.path_params["fault_id"]):
            return no_content()
        return refused(f"no fault {request.path_params['fault_id']}", 404)

    async def set_quota(request: Request) -> Response:
        try:
            quota = sandbox.quotas.set(await read_json(request))
        except (ValueError, QuotaError) as exc:
            return refused(str(exc))
        return json_response(quota.as_json(), 201)

    async def list_quotas(request: Request) -> Response:
        return json_response([quota.as_json() for quota in sandbox.quotas.quotas.values()])

    async def clear_quotas(request: Request) -> Response:
        sandbox.quotas.clear()
        return no_content()

    return [
        Route("/reset", reset, methods=["POST"]),
        Route("/quotas", set_quota, methods=["POST"]),
        Route("/quotas", list_quotas, methods=["GET"]),
        Route("/quotas", clear_quotas, methods=["DELETE"]),
        Route("/state", state, methods=["GET"]),
        Route("/jira/issues", seed_issue, methods=["POST"]),
        Route("/jira/issues/{issue}", change_issue, methods=["PATCH"]),
        Route("/jira/issues/{issue}", delete_issue, methods=["DELETE"]),
        Route("/calls", calls, methods=["GET"]),
        Route("/calls", clear_calls, methods=["DELETE"]),
        Route("/faults", add_fault, methods=["POST"]),
        Route("/faults", list_faults, methods=["GET"]),
        Route("/faults", clear_faults, methods=["DELETE"]),
        Route("/faults/{fault_id}", remove_fault, methods=["DELETE"]),
        # Seeding one upstream's records (a JSM integration...): routes of that upstream's emulation.
        *(route for api in sandbox.apis.values() for route in api.control_routes()),
    ]
