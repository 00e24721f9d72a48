"""The sandbox app: the five emulated APIs under their prefixes, and the control API beside them."""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import Receive, Scope, Send

from bridge.sandbox.api import EmulatedApi
from bridge.sandbox.calls import CallLog
from bridge.sandbox.config import (
    CONTROL_PREFIX,
    JIRA_PREFIX,
    JSM_PREFIX,
    SALESFORCE_PREFIX,
    ZENDESK_PREFIX,
    SandboxConfig,
)
from bridge.sandbox.control_api import control_routes
from bridge.sandbox.faults import FaultTable
from bridge.sandbox.gateway import Gateway
from bridge.sandbox.issues import IssueDirectory
from bridge.sandbox.jira import JiraApi
from bridge.sandbox.jira_software import JiraSoftwareApi
from bridge.sandbox.jsm import JsmApi
from bridge.sandbox.salesforce import SalesforceApi
from bridge.sandbox.zendesk import ZendeskApi


class Sandbox:
    """Everything the sandbox holds in memory: the APIs' records, the call log and the faults."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.issues = IssueDirectory(config.auto_issues)
        self.jira = JiraApi(config, self.issues)
        self.jira_software = JiraSoftwareApi(config, self.issues)
        self.zendesk = ZendeskApi(config)
        self.salesforce = SalesforceApi(config, self.issues)
        self.jsm = JsmApi(config)
        self.apis: dict[str, EmulatedApi] = {
            api.name: api for api in (self.jira, self.jira_software, self.zendesk, self.salesforce, self.jsm)
        }
        self.calls = CallLog()
        self.faults = FaultTable()

    def reset(self) -> None:
        """Forget every record, call and fault."""
        self.issues.reset()
        for api in self.apis.values():
            api.reset()
        self.calls.clear()
        self.faults.clear()

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
            super().__call__, sandbox.apis, sandbox.calls, sandbox.faults, sandbox.config.latency_s
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.gateway(scope, receive, send)


def create_app(config: SandboxConfig | None = None) -> SandboxApp:
    """Build a sandbox with fresh in-memory state."""
    sandbox = Sandbox(config or SandboxConfig())
    routes: list[BaseRoute] = [
        Mount(
            JIRA_PREFIX,
            routes=[*sandbox.jira.routes(), *sandbox.jira_software.routes(), _not_found(sandbox.jira)],
        ),
        Mount(ZENDESK_PREFIX, routes=[*sandbox.zendesk.routes(), _not_found(sandbox.zendesk)]),
        Mount(SALESFORCE_PREFIX, routes=[*sandbox.salesforce.routes(), _not_found(sandbox.salesforce)]),
        Mount(JSM_PREFIX, routes=[*sandbox.jsm.routes(), _not_found(sandbox.jsm)]),
        Mount(CONTROL_PREFIX, routes=control_routes(sandbox)),
    ]
    return SandboxApp(sandbox, routes)
