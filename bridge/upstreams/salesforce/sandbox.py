"""The Salesforce connector's associations on a Jira Data Center site.

https://appfire.atlassian.net/wiki/spaces/CSFJIRA/pages/2375843900/POST+api+associations

Bearer PAT. Answers and errors are ``{data, message, success}``. At most 1000 associations per issue:
a request that would leave more changes nothing and answers 400. ``replace=true`` removes the issue's
associations first; ``replace=false`` never duplicates one (same ``son`` and ``soid``): a repeated one
takes the flags of the request. The connector's issues are the sandbox's one issue directory.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bridge.sources.signing import same
from bridge.upstreams.sandbox.config import SALESFORCE_PREFIX, SandboxConfig
from bridge.upstreams.sandbox.emulation import ApiProblem, EmulatedApi, bearer_token, json_body, json_response
from bridge.upstreams.sandbox.issues import Issue, IssueDirectory

ASSOCIATIONS_PER_ISSUE_MAX = 1000
"""Most associations one Jira issue may have."""

PATH = "/rest/com.servicerocket.jira.salesforce/1.0/api/external/associations"
"""The associations resource below the site."""

_FLAGS = ("viewOnly", "autoPush", "autoPull")


def _association(item: Any, position: int) -> dict[str, Any]:
    """Return one association with its flags defaulted, or raise 400 saying what is wrong."""
    if not isinstance(item, dict):
        raise ApiProblem(400, f"association {position} must be an object")
    for name in ("son", "soid"):
        if not isinstance(item.get(name), str) or not item[name].strip():
            raise ApiProblem(400, f"association {position}: {name} is required")
    for name in _FLAGS:
        if not isinstance(item.get(name, False), bool):
            raise ApiProblem(400, f"association {position}: {name} must be true or false")
    return {"son": item["son"], "soid": item["soid"], **{name: item.get(name, False) for name in _FLAGS}}


class SalesforceApi(EmulatedApi):
    """Associations per Jira issue, keyed by (son, soid)."""

    name = "salesforce"
    prefix = SALESFORCE_PREFIX

    def __init__(self, config: SandboxConfig, issues: IssueDirectory) -> None:
        super().__init__(config, issues)
        issues.on_delete.append(self._forget)

    def reset(self) -> None:
        # issue id → (son, soid) → association
        self.associations: dict[str, dict[tuple[str, str], dict[str, Any]]] = {}

    def _forget(self, issue_id: str) -> None:
        # The connector's associations go with the deleted issue.
        self.associations.pop(issue_id, None)

    def authenticate(self, request: Request) -> str | None:
        token = bearer_token(request)
        if token is None:
            return "a personal access token is required (Authorization: Bearer <PAT>)"
        return None if same(token, self.config.salesforce_pat) else "the personal access token is not valid"

    def error(self, status: int, message: str, details: dict[str, Any]) -> Response:
        return json_response({"data": None, "message": message, "success": False}, status)

    def routes(self) -> Sequence[Route]:
        return [self.route(PATH, self.list_associations, ["GET"]), self.route(PATH, self.add, ["POST"])]

    def snapshot(self) -> dict[str, Any]:
        return {
            "associations": {
                self.issues.key_of(issue_id): list(by_object.values())
                for issue_id, by_object in self.associations.items()
                if by_object
            }
        }

    def _issue(self, request: Request) -> Issue:
        id_or_key = request.query_params.get("jiraIssueIdOrKey", "").strip()
        if not id_or_key:
            raise ApiProblem(400, "the jiraIssueIdOrKey query parameter is required")
        issue = self.issues.find(id_or_key)
        if issue is None:
            raise ApiProblem(404, f"Jira work item {id_or_key} was not found")
        return issue

    async def list_associations(self, request: Request) -> Response:
        issue = self._issue(request)
        found = self.associations.get(issue.id, {}).values()
        return json_response([{"jiraIssueId": issue.id, **association} for association in found])

    async def add(self, request: Request) -> Response:
        issue = self._issue(request)
        replace_text = request.query_params.get("replace", "false").lower()
        if replace_text not in ("true", "false"):
            raise ApiProblem(400, f"replace must be true or false, got {replace_text!r}")
        body = await json_body(request)
        if not isinstance(body, list):
            raise ApiProblem(400, "the body must be a JSON array of associations")
        given = [_association(item, position) for position, item in enumerate(body)]
        current = {} if replace_text == "true" else dict(self.associations.get(issue.id, {}))
        for association in given:
            current[(association["son"], association["soid"])] = association
        if len(current) > ASSOCIATIONS_PER_ISSUE_MAX:
            raise ApiProblem(
                400,
                f"Jira work item {issue.key} would have {len(current)} associations; "
                f"at most {ASSOCIATIONS_PER_ISSUE_MAX} are allowed",
            )
        self.associations[issue.id] = current
        return json_response({"data": given, "message": "Associations added successfully", "success": True})


API = SalesforceApi
"""This upstream's emulation, as the sandbox builds it."""
