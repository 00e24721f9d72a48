"""Jira's enhanced issue search, as far as the bridge reads it: ``GET /rest/api/3/search/jql``.

https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issue-search/

Paged by ``nextPageToken`` (absent on the last page, which says ``isLast``); only ``id`` comes back unless
``fields`` names more; a query without a restriction is refused (400), as Jira Cloud refuses unbounded
searches. The emulation understands the one query the bridge asks — ``updated >= <date>`` with an
optional ``ORDER BY updated [ASC]`` — where the date is ``"yyyy-MM-dd HH:mm"`` or ``"yyyy/MM/dd HH:mm"``
(UTC here; a real site reads it in the searching user's time zone), a day ``"yyyy-MM-dd"``, or a
relative ``"-90m"`` / ``"-2h"`` / ``"-1d"`` (minutes, hours, days before now). Anything else is 400.
"""

from __future__ import annotations

import base64
import re
import time
from datetime import UTC, datetime

import orjson
from starlette.requests import Request
from starlette.responses import Response

from bridge.upstreams.jira.sandbox import select_fields
from bridge.upstreams.sandbox.emulation import ApiProblem, json_response
from bridge.upstreams.sandbox.issues import Issue, IssueDirectory

PAGE_MAX = 100
"""Largest ``maxResults`` when fields are asked for (Jira allows up to 5,000 ids alone)."""

PAGE_DEFAULT = 50
"""``maxResults`` when none is given."""

_QUERY = re.compile(
    r"^\s*updated\s*>=\s*(?P<date>\"[^\"]*\"|'[^']*'|-?\d+[mhd]?)\s*(?:order\s+by\s+updated(?:\s+asc)?\s*)?$",
    re.IGNORECASE,
)
_RELATIVE = {"m": 60_000, "h": 3_600_000, "d": 86_400_000}


def since_ms(jql: str, now_ms: int | None = None) -> int:
    """Return the epoch ms a query's ``updated >=`` bound stands for; raise ``ApiProblem`` 400 otherwise."""
    found = _QUERY.match(jql or "")
    if found is None:
        raise ApiProblem(400, "The sandbox's search understands only 'updated >= <date> [ORDER BY updated]'.")
    raw = found["date"].strip("\"'")
    relative = re.fullmatch(r"-(\d+)([mhd])", raw)
    if relative:
        now = now_ms if now_ms is not None else int(time.time() * 1000)
        return now - int(relative[1]) * _RELATIVE[relative[2]]
    for layout in ("%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M", "%Y-%m-%d", "%Y/%m/%d"):
        try:
            return int(datetime.strptime(raw, layout).replace(tzinfo=UTC).timestamp() * 1000)
        except ValueError:
            continue
    raise ApiProblem(400, f"Date value '{raw}' for field 'updated' is invalid.")


def updated_ms(issue: Issue) -> int:
    """Epoch ms of an issue's ``fields.updated`` (``2026-11-30T04:38:12.345+0000``)."""
    text = str(issue.fields.get("updated") or "")
    try:
        return int(datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp() * 1000)
    except ValueError:
        return 0


class IssueSearch:
    """The search route over a site's issues."""

    def __init__(self, issues: IssueDirectory) -> None:
        self.issues = issues

    async def search(self, request: Request) -> Response:
        params = request.query_params
        since = since_ms(params.get("jql", ""))
        spec = params.get("fields")
        largest = PAGE_MAX if spec else 5000
        raw_max = params.get("maxResults") or str(PAGE_DEFAULT)
        if not raw_max.isdigit():
            raise ApiProblem(400, f"maxResults must be a number, got {raw_max!r}")
        size = max(1, min(int(raw_max), largest))
        after = _token(params.get("nextPageToken"))
        ordered = sorted(
            ((updated_ms(issue), int(issue.id), issue) for issue in self.issues.by_id.values()),
            key=lambda entry: (entry[0], entry[1]),
        )
        rest = [e for e in ordered if e[0] >= since and (after is None or (e[0], e[1]) > after)]
        page = rest[:size]
        body: dict[str, object] = {
            "issues": [
                {
                    "id": issue.id,
                    "key": issue.key,
                    "fields": select_fields(issue.fields, spec) if spec else {},
                }
                for _, _, issue in page
            ],
            "isLast": len(rest) <= size,
        }
        if len(rest) > size:
            last = page[-1]
            body["nextPageToken"] = base64.urlsafe_b64encode(orjson.dumps([last[0], last[1]])).decode()
        return json_response(body)


def _token(raw: str | None) -> tuple[int, int] | None:
    if not raw:
        return None
    try:
        updated, issue_id = orjson.loads(base64.urlsafe_b64decode(raw))
        return int(updated), int(issue_id)
    except (ValueError, TypeError):
        raise ApiProblem(400, "The nextPageToken is not one this search gave.") from None
