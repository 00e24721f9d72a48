"""The sandbox app: every upstream's emulated API under its prefix, and the control API beside them.

The emulations come from the upstreams' registry (``bridge/upstreams/<name>/sandbox.py``, ``API``); APIs
of one site share its mount (Jira's platform and Jira Software routes are both under ``/jira``).
"""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import Receive, Scope, Send

from bridge.upstreams import DESTINATIONS, room
from bridge.upstreams.sandbox.call_log import CallLog
from bridge.upstreams.sandbox.config import CONTROL_PREFIX, SandboxConfig
from bridge.upstreams.sandbox.control_api import control_routes
from bridge.upstreams.sandbox.emulation import EmulatedApi
from bridge.upstreams.sandbox.faults import FaultTable
from bridge.upstreams.sandbox.gateway import Gateway
from bridge.upstreams.sandbox.issues import IssueDirectory
from bridge.upstreams.sandbox.quotas import QuotaTable


class Sandbox:
    """Everything the sandbox holds in memory: the APIs' records, the call log and the faults."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.issues = IssueDirectory(config.auto_issues)
        self.apis: dict[str, EmulatedApi] = {
            name: room(name, "sandbox").API(config, self.issues) for name in DESTINATIONS
        }
        self.calls = CallLog()
        self.faults = FaultTable()
        self.quotas = QuotaTable()

    def reset(self, keep_ids: bool = False) -> None:
        """Forget every record, call and fault (``keep_ids``: new issues go on from the ids given so far,
        as on a real site, so that a bridge that remembers ids from before the reset meets no other issue
        under one of them)."""
        next_id = self.issues.next_id
        self.issues.reset()
        if keep_ids:
            self.issues.next_id = next_id
        for api in self.apis.values():
            api.reset()
        self.calls.clear()
        self.faults.clear()
        self.quotas.clear()

    def state(self) -> dict[str, Any]:
        """Every API's state as JSON-safe data."""
        return {name: api.snapshot() for name, api in self.apis.items()}


def _not_found(api: EmulatedApi) -> Route:
    """A last route under an API's prefix: unknown paths answer 404 in that API's error shape."""

    async def endpoint(request: Request) -> Response:
        return api.error(404, f"no such resource: {request.method} {request.url.path}", {})

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
    return Route("/{unknown:path}", endpoint, methods=methods, include_in_schema=False)


class SandboxApp(Starlette):
    """A Starlette app whose calls pass the gateway (call log, latency, faults) before anything else."""

    def __init__(self, sandbox: Sandbox, routes: list[BaseRoute]) -> None:
        super().__init__(routes=routes)
        self.sandbox = sandbox
        self.state.sandbox = sandbox
        self.gateway = Gateway(
            super().__call__,
            sandbox.apis,
            sandbox.calls,
            sandbox.faults,
            sandbox.config.latency_s,
            sandbox.quotas,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.gateway(scope, receive, send)


def create_app(config: SandboxConfig | None = None) -> SandboxApp:
    """Build a sandbox with fresh in-memory state."""
    sandbox = Sandbox(config or SandboxConfig())
    sites: dict[str, list[EmulatedApi]] = {}
    for api in sandbox.apis.values():
        sites.setdefault(api.prefix, []).append(api)
    routes: list[BaseRoute] = [
        # Unknown paths of a site answer in the error shape of its first API.
        Mount(prefix, routes=[*(route for api in apis for route in api.routes()), _not_found(apis[0])])
        for prefix, apis in sites.items()
    ]
    routes.append(Mount(CONTROL_PREFIX, routes=control_routes(sandbox)))
    return SandboxApp(sandbox, routes)
