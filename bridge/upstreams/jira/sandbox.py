"""Jira Cloud platform REST v2: get issue, and issue remote links (v3's issue search: sandbox_search.py).

https://developer.atlassian.com/cloud/jira/platform/rest/v2/api-group-issue-remote-links/

Basic auth (email:API token). Errors are Jira's ErrorCollection ``{errorMessages, errors, status}``.
A POST whose ``globalId`` is already on the issue replaces that link whole ("fields without values in
the request are set to null"): nothing of the old link survives but its id.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bridge.upstreams.sandbox.config import JIRA_PREFIX, SandboxConfig
from bridge.upstreams.sandbox.emulation import (
    ApiProblem,
    EmulatedApi,
    api_base,
    check_basic,
    json_body,
    json_response,
    no_content,
)
from bridge.upstreams.sandbox.issues import Issue, IssueDirectory

GLOBAL_ID_MAX = 255
"""Longest ``globalId`` Jira stores."""

LINKS_PER_ISSUE_MAX = 2000
"""Remote links one issue may hold (Jira Cloud issue limits)."""

FIRST_LINK_ID = 10000
"""Id of the first remote link."""

_NO_ISSUE = "Issue does not exist or you do not have permission to see it."


def select_fields(fields: dict[str, Any], spec: str | None) -> dict[str, Any]:
    """Narrow ``fields`` as Jira's ``fields=`` does: names, ``*all``/``*navigable``, ``-name`` to exclude."""
    if not spec:
        return fields
    tokens = [token.strip() for token in spec.split(",") if token.strip()]
    if any(token in ("*all", "*navigable") for token in tokens):
        chosen = dict(fields)
    else:
        chosen = {name: fields[name] for name in tokens if name in fields}
    for token in tokens:
        if token.startswith("-"):
            chosen.pop(token[1:], None)
    return chosen


def check_link_body(body: Any) -> dict[str, Any]:
    """Return a remote link body, or raise 400 naming each problem (as Jira's ``errors`` map)."""
    if not isinstance(body, dict):
        raise ApiProblem(400, "the body must be a JSON object")
    errors: dict[str, str] = {}
    remote = body.get("object")
    if not isinstance(remote, dict):
        errors["object"] = "'object' is required."
    else:
        for name in ("url", "title"):
            if not isinstance(remote.get(name), str) or not remote[name].strip():
                errors[name] = f"'{name}' is required."
    global_id = body.get("globalId")
    if global_id is not None and (not isinstance(global_id, str) or len(global_id) > GLOBAL_ID_MAX):
        errors["globalId"] = f"'globalId' must be a string of at most {GLOBAL_ID_MAX} characters."
    if errors:
        raise ApiProblem(400, "", errors)
    return body


class JiraApi(EmulatedApi):
    """Issues and their remote links."""

    name = "jira"
    prefix = JIRA_PREFIX
    challenge = 'Basic realm="sandbox-jira"'

    def __init__(self, config: SandboxConfig, issues: IssueDirectory) -> None:
        super().__init__(config, issues)
        # Jira deletes an issue's remote links with the issue.
        issues.on_delete.append(self._forget)

    def reset(self) -> None:
        # issue id → link id → link; issue id → globalId → link id
        self.links: dict[str, dict[int, dict[str, Any]]] = {}
        self.global_ids: dict[str, dict[str, int]] = {}
        self.next_link_id = FIRST_LINK_ID

    def _forget(self, issue_id: str) -> None:
        self.links.pop(issue_id, None)
        self.global_ids.pop(issue_id, None)

    def authenticate(self, request: Request) -> str | None:
        return check_basic(request, self.config.jira_email, self.config.jira_api_token)

    def error(self, status: int, message: str, details: dict[str, Any]) -> Response:
        body = {"errorMessages": [message] if message else [], "errors": details, "status": status}
        return json_response(body, status)

    def routes(self) -> Sequence[Route]:
        # The search module reads fields with ``select_fields`` from this one: imported here, not above.
        from bridge.upstreams.jira.sandbox_search import IssueSearch

        base = "/rest/api/2/issue/{issue}"
        return [
            self.route(base, self.get_issue, ["GET"]),
            self.route(base + "/remotelink", self.list_links, ["GET"]),
            self.route(base + "/remotelink", self.upsert_link, ["POST"]),
            self.route(base + "/remotelink", self.delete_by_global_id, ["DELETE"]),
            self.route(base + "/remotelink/{link_id}", self.get_link, ["GET"]),
            self.route(base + "/remotelink/{link_id}", self.put_link, ["PUT"]),
            self.route(base + "/remotelink/{link_id}", self.delete_link, ["DELETE"]),
            self.route("/rest/api/3/search/jql", IssueSearch(self.issues).search, ["GET"]),
        ]

    def snapshot(self) -> dict[str, Any]:
        return {
            "issues": self.issues.snapshot(),
            # Keys issues had before a move, by issue id (they still find the issue).
            "aliases": dict(self.issues.aliases),
            "remote_links": {
                self.issues.key_of(issue_id): list(links.values())
                for issue_id, links in self.links.items()
                if links
            },
        }

    def _issue(self, request: Request) -> Issue:
        issue = self.issues.find(request.path_params["issue"])
        if issue is None:
            raise ApiProblem(404, _NO_ISSUE)
        return issue

    def _link_id(self, request: Request, issue: Issue) -> int:
        raw = request.path_params["link_id"]
        if raw.isdigit() and int(raw) in self.links.get(issue.id, {}):
            return int(raw)
        raise ApiProblem(404, f"No remote link with id {raw} on issue {issue.key}.")

    async def get_issue(self, request: Request) -> Response:
        issue = self._issue(request)
        fields = select_fields(issue.fields, request.query_params.get("fields"))
        self_url = f"{api_base(request, JIRA_PREFIX)}/rest/api/2/issue/{issue.id}"
        return json_response({"id": issue.id, "key": issue.key, "self": self_url, "fields": fields})

    async def list_links(self, request: Request) -> Response:
        issue = self._issue(request)
        links = self.links.get(issue.id, {})
        global_id = request.query_params.get("globalId")
        if global_id is None:
            return json_response(list(links.values()))
        link_id = self.global_ids.get(issue.id, {}).get(global_id)
        if link_id is None:
            raise ApiProblem(404, f"No remote link with globalId {global_id!r} on issue {issue.key}.")
        return json_response(links[link_id])

    async def upsert_link(self, request: Request) -> Response:
        issue = self._issue(request)
        body = check_link_body(await json_body(request))
        links = self.links.setdefault(issue.id, {})
        global_ids = self.global_ids.setdefault(issue.id, {})
        link_id = global_ids.get(body["globalId"]) if body.get("globalId") is not None else None
        created = link_id is None
        if link_id is None:
            if len(links) >= LINKS_PER_ISSUE_MAX:
                raise ApiProblem(400, f"Issue {issue.key} already has {LINKS_PER_ISSUE_MAX} remote links.")
            link_id = self.next_link_id
            self.next_link_id += 1
        link = self._store(request, issue, link_id, body)
        return json_response({"id": link_id, "self": link["self"]}, 201 if created else 200)

    async def put_link(self, request: Request) -> Response:
        issue = self._issue(request)
        link_id = self._link_id(request, issue)
        body = check_link_body(await json_body(request))
        owner = self.global_ids.get(issue.id, {}).get(body.get("globalId") or "")
        if owner is not None and owner != link_id:
            raise ApiProblem(400, "", {"globalId": f"Remote link {owner} already has this globalId."})
        self._store(request, issue, link_id, body)
        return no_content()

    def _store(self, request: Request, issue: Issue, link_id: int, body: dict[str, Any]) -> dict[str, Any]:
        """Replace link ``link_id`` with ``body`` whole, keeping the globalId index right."""
        links = self.links.setdefault(issue.id, {})
        global_ids = self.global_ids.setdefault(issue.id, {})
        old = links.get(link_id)
        if old is not None and old.get("globalId") is not None:
            global_ids.pop(old["globalId"], None)
        self_url = f"{api_base(request, JIRA_PREFIX)}/rest/api/2/issue/{issue.key}/remotelink/{link_id}"
        link = {**body, "id": link_id, "self": self_url}
        links[link_id] = link
        if body.get("globalId") is not None:
            global_ids[body["globalId"]] = link_id
        return link

    async def delete_by_global_id(self, request: Request) -> Response:
        issue = self._issue(request)
        global_id = request.query_params.get("globalId")
        if not global_id:
            raise ApiProblem(400, "The globalId query parameter is required.")
        link_id = self.global_ids.get(issue.id, {}).pop(global_id, None)
        if link_id is None:
            raise ApiProblem(404, f"No remote link with globalId {global_id!r} on issue {issue.key}.")
        del self.links[issue.id][link_id]
        return no_content()

    async def get_link(self, request: Request) -> Response:
        issue = self._issue(request)
        link_id = self._link_id(request, issue)
        return json_response(self.links[issue.id][link_id])

    async def delete_link(self, request: Request) -> Response:
        issue = self._issue(request)
        link_id = self._link_id(request, issue)
        link = self.links[issue.id].pop(link_id)
        if link.get("globalId") is not None:
            self.global_ids[issue.id].pop(link["globalId"], None)
        return no_content()


API = JiraApi
"""This upstream's emulation, as the sandbox builds it."""
