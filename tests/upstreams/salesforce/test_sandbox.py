"""Salesforce connector associations over HTTP."""

from __future__ import annotations

from typing import Any

import httpx

from tests.upstreams.conftest import CONFIG

PATH = "/rest/com.servicerocket.jira.salesforce/1.0/api/external/associations"


def case(soid: str, **flags: bool) -> dict[str, Any]:
    return {"son": "Case", "soid": soid, **flags}


def post(salesforce: httpx.Client, issue: str, body: Any, replace: str | None = None) -> httpx.Response:
    params = {"jiraIssueIdOrKey": issue}
    if replace is not None:
        params["replace"] = replace
    return salesforce.post(PATH, params=params, json=body)


def listed(salesforce: httpx.Client, issue: str) -> list[dict[str, Any]]:
    response = salesforce.get(PATH, params={"jiraIssueIdOrKey": issue})
    assert response.status_code == 200
    result: list[dict[str, Any]] = response.json()
    return result


def test_add_answers_data_message_success_and_lists(salesforce: httpx.Client) -> None:
    response = post(salesforce, "ABC-1", [case("500A"), case("500B", autoPush=True)])
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    assert body["message"]
    assert body["data"][1] == {
        "son": "Case",
        "soid": "500B",
        "viewOnly": False,
        "autoPush": True,
        "autoPull": False,
    }
    found = listed(salesforce, "ABC-1")
    assert [(a["soid"], a["jiraIssueId"]) for a in found] == [("500A", "10000"), ("500B", "10000")]
    assert listed(salesforce, "10000") == found


def test_replace_false_never_duplicates(salesforce: httpx.Client) -> None:
    post(salesforce, "ABC-1", [case("500A")])
    post(salesforce, "ABC-1", [case("500A", viewOnly=True), case("500B"), case("500B")], replace="false")
    found = listed(salesforce, "ABC-1")
    assert [a["soid"] for a in found] == ["500A", "500B"]
    assert found[0]["viewOnly"] is True


def test_replace_true_removes_the_old_ones(salesforce: httpx.Client) -> None:
    post(salesforce, "ABC-1", [case("500A"), case("500B")])
    post(salesforce, "ABC-1", [case("500C")], replace="true")
    assert [a["soid"] for a in listed(salesforce, "ABC-1")] == ["500C"]
    post(salesforce, "ABC-1", [], replace="true")
    assert listed(salesforce, "ABC-1") == []


def test_more_than_1000_per_issue_is_400_and_changes_nothing(salesforce: httpx.Client) -> None:
    assert post(salesforce, "ABC-1", [case(f"A{n}") for n in range(999)]).status_code == 200
    over = post(salesforce, "ABC-1", [case("B1"), case("B2")])
    assert over.status_code == 400
    assert over.json()["success"] is False
    assert "1000" in over.json()["message"]
    assert len(listed(salesforce, "ABC-1")) == 999
    assert post(salesforce, "ABC-1", [case("B1"), case("A0")]).status_code == 200
    assert len(listed(salesforce, "ABC-1")) == 1000
    assert post(salesforce, "ABC-1", [case(f"C{n}") for n in range(1001)], replace="true").status_code == 400
    assert post(salesforce, "ABC-1", [case(f"C{n}") for n in range(1000)], replace="true").status_code == 200
    assert listed(salesforce, "ABC-1")[0]["soid"] == "C0"


def test_bad_requests_are_400(salesforce: httpx.Client) -> None:
    assert post(salesforce, "ABC-1", {"associations": [case("1")]}).status_code == 400
    assert post(salesforce, "ABC-1", [{"son": "Case"}]).status_code == 400
    assert post(salesforce, "ABC-1", [case("1", viewOnly="yes")]).status_code == 400  # type: ignore[arg-type]
    assert post(salesforce, "ABC-1", [case("1")], replace="maybe").status_code == 400
    assert salesforce.post(PATH, json=[case("1")]).status_code == 400
    assert post(salesforce, "not-a-key", [case("1")]).status_code == 404
    assert listed(salesforce, "ABC-1") == []


def test_wrong_or_missing_pat_is_401(anonymous: httpx.Client) -> None:
    url = "/salesforce" + PATH
    params = {"jiraIssueIdOrKey": "ABC-1"}
    missing = anonymous.get(url, params=params)
    assert missing.status_code == 401
    assert missing.json()["success"] is False
    assert anonymous.get(url, params=params, headers={"Authorization": "Bearer wrong"}).status_code == 401
    basic = anonymous.get(url, params=params, auth=("bridge", CONFIG.salesforce_pat))
    assert basic.status_code == 401
