"""Jira Software Cloud remote links for a Connect app.

https://developer.atlassian.com/cloud/jira/software/rest/api-group-remote-links/

Authenticated by a Connect JWT. The real API applies submissions and deletions asynchronously; the
sandbox applies them before answering, so a test can read its effect at once. A submission whose
``updateSequenceNumber`` is not greater than the stored one is ignored but still listed as accepted.
Errors use the API's documented shape ``[{message, errorTraceId}]``.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bridge.upstreams.jira_software import sandbox_jwt
from bridge.upstreams.jira_software.sandbox_schema import link_problems, properties_problems
from bridge.upstreams.sandbox.config import JIRA_PREFIX, SandboxConfig
from bridge.upstreams.sandbox.emulation import ApiProblem, EmulatedApi, json_body, json_response, no_content
from bridge.upstreams.sandbox.issues import IssueDirectory

BASE = "/rest/remotelinks/1.0"
"""The API's path below the Jira site."""


class JiraSoftwareApi(EmulatedApi):
    """Remote links of one Connect provider, keyed by link id."""

    name = "jira_software"
    prefix = JIRA_PREFIX
    paths = BASE + "/"

    def __init__(self, config: SandboxConfig, issues: IssueDirectory) -> None:
        self.trace_ids = itertools.count(1)
        super().__init__(config, issues)

    def reset(self) -> None:
        # link id → {"link": data as stored, "properties": the submission's properties}
        self.links: dict[str, dict[str, Any]] = {}

    def authenticate(self, request: Request) -> str | None:
        raw_path: bytes | None = request.scope.get("raw_path")
        path = raw_path.decode("latin-1") if raw_path else quote(request.scope["path"])
        # The qsh path is relative to the site's base URL, as Jira strips its context path.
        relative = path[len(JIRA_PREFIX) :] if path.startswith(JIRA_PREFIX) else path
        raw_query = request.scope.get("query_string", b"").decode("latin-1")
        try:
            token = sandbox_jwt.token_of(request.headers.get("authorization"), raw_query)
            sandbox_jwt.verify(
                token,
                app_key=self.config.connect_app_key,
                shared_secret=self.config.connect_shared_secret,
                method=request.method,
                path=relative,
                raw_query=raw_query,
            )
        except sandbox_jwt.JwtRefused as refused:
            return str(refused)
        return None

    def error(self, status: int, message: str, details: dict[str, Any]) -> Response:
        problems = details.get("problems") or [message]
        return json_response([self._error_item(problem) for problem in problems], status)

    def _error_item(self, message: str) -> dict[str, str]:
        return {"message": message, "errorTraceId": f"sandbox-{next(self.trace_ids):08x}"}

    def routes(self) -> Sequence[Route]:
        return [
            self.route(BASE + "/bulk", self.submit, ["POST"]),
            self.route(BASE + "/bulkByProperties", self.delete_by_properties, ["DELETE"]),
            self.route(BASE + "/remotelink/{link_id}", self.get_link, ["GET"]),
            self.route(BASE + "/remotelink/{link_id}", self.delete_link, ["DELETE"]),
        ]

    def snapshot(self) -> dict[str, Any]:
        return {"remote_links": list(self.links.values())}

    async def submit(self, request: Request) -> Response:
        body = await json_body(request)
        if not isinstance(body, dict) or not isinstance(body.get("remoteLinks"), list):
            raise ApiProblem(400, "the body must be an object with a remoteLinks array")
        submitted: list[Any] = body["remoteLinks"]
        if not submitted:
            raise ApiProblem(400, "remoteLinks must hold at least one remote link")
        if len(submitted) > self.config.jsw_max_batch:
            raise ApiProblem(413, f"{len(submitted)} remote links is too many in one request: send fewer")
        problems = properties_problems(body.get("properties"))
        if problems:
            raise ApiProblem(400, problems[0], {"problems": problems})
        properties = body.get("properties") or {}
        accepted: list[str] = []
        rejected: dict[str, list[dict[str, str]]] = {}
        unknown: dict[str, list[str]] = {}
        for position, link in enumerate(submitted):
            link_problems_found = link_problems(link)
            if link_problems_found:
                name = str(link.get("id", position)) if isinstance(link, dict) else str(position)
                rejected[name] = [self._error_item(problem) for problem in link_problems_found]
                continue
            self._collect_unknown(link, unknown)
            self._store(link, properties)
            accepted.append(str(link["id"]))
        unknown_list = [{"associationType": kind, "values": values} for kind, values in unknown.items()]
        answer = {
            "acceptedRemoteLinks": accepted,
            "rejectedRemoteLinks": rejected,
            "unknownAssociations": unknown_list,
        }
        return json_response(answer, 202)

    def _store(self, link: dict[str, Any], properties: dict[str, Any]) -> None:
        stored = self.links.get(link["id"])
        if stored is not None and int(link["updateSequenceNumber"]) <= int(
            stored["link"]["updateSequenceNumber"]
        ):
            return  # out of order or repeated: ignored, yet accepted
        self.links[link["id"]] = {"link": link, "properties": dict(properties)}

    def _collect_unknown(self, link: dict[str, Any], unknown: dict[str, list[str]]) -> None:
        for association in link.get("associations") or []:
            kind = association["associationType"]
            for value in association["values"]:
                # The sandbox has no services: every service id or key is unknown to it.
                if kind != "issueKeys" or self.issues.find(value) is None:
                    found = unknown.setdefault(kind, [])
                    if value not in found:
                        found.append(value)

    async def delete_by_properties(self, request: Request) -> Response:
        wanted = {k: v for k, v in request.query_params.items() if k != "_updateSequenceNumber"}
        if not wanted:
            raise ApiProblem(400, "give at least one property to delete by (?name=value)")
        for link_id in [
            link_id
            for link_id, stored in self.links.items()
            if all(stored["properties"].get(name) == value for name, value in wanted.items())
        ]:
            del self.links[link_id]
        return no_content(202)

    async def get_link(self, request: Request) -> Response:
        stored = self.links.get(request.path_params["link_id"])
        if stored is None:
            raise ApiProblem(404, f"no remote link with id {request.path_params['link_id']!r}")
        return json_response(stored["link"])

    async def delete_link(self, request: Request) -> Response:
        self.links.pop(request.path_params["link_id"], None)
        return no_content(202)


API = JiraSoftwareApi
"""This upstream's emulation, as the sandbox builds it."""
