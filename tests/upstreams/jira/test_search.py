"""Jira's issue search (``GET /rest/api/3/search/jql``): the sandbox serves it from its issues, paged."""

from __future__ import annotations

import httpx
import pytest

from bridge.upstreams.jira.client import JiraClient
from bridge.upstreams.jira.sandbox_search import since_ms
from bridge.upstreams.sandbox import SandboxControl
from bridge.upstreams.sandbox.emulation import ApiProblem

SEARCH = "/rest/api/3/search/jql"


def test_search_pages_the_issues_updated_since_a_time_by_update_time(
    jira_client: JiraClient, upstreams_control: SandboxControl
) -> None:
    keys = [
        upstreams_control.seed_issue(f"SRCH-{n}", fields={"customfield_10050": str(n)})["key"]
        for n in range(1, 6)
    ]
    upstreams_control.change_issue("SRCH-2", fields={"summary": "edited last"})
    found: list[str] = []
    token: str | None = None
    pages = 0
    while True:
        page = jira_client.search('updated >= "-10m" ORDER BY updated ASC', "summary,updated", token, 2)
        found += [issue.key for issue in page.issues]
        pages += 1
        assert all(set(issue.fields) == {"summary", "updated"} for issue in page.issues)
        if page.is_last:
            assert page.next_page_token is None
            break
        token = page.next_page_token
    assert pages == 3
    assert found == [key for key in keys if key != "SRCH-2"] + ["SRCH-2"]


def test_search_without_fields_gives_ids_only_and_refuses_other_queries(jira: httpx.Client) -> None:
    jira.get("/rest/api/2/issue/IDS-1")
    answer = jira.get(SEARCH, params={"jql": "updated >= '2020-01-01'"}).json()
    assert {"id", "key", "fields"} <= set(answer["issues"][0])
    assert answer["issues"][0]["fields"] == {}
    assert answer["isLast"] is True
    assert "nextPageToken" not in answer
    for jql in ("", "project = IDS", "updated >= yesterday"):
        refused = jira.get(SEARCH, params={"jql": jql})
        assert refused.status_code == 400, jql
        assert refused.json()["errorMessages"]
    assert jira.get(SEARCH, params={"jql": "updated >= -1d", "nextPageToken": "nope"}).status_code == 400


def test_search_reads_absolute_days_minutes_and_relative_bounds() -> None:
    assert since_ms('updated >= "2026-12-07 05:35"') == 1796621700000
    assert since_ms("updated >= '2026/12/07'") == 1796601600000
    assert since_ms('updated >= "-90m"', now_ms=10_000_000) == 10_000_000 - 90 * 60_000
    with pytest.raises(ApiProblem):
        since_ms('updated >= "12/07/2026"')
