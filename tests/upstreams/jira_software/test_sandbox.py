"""Jira Software remote links behind Connect JWT authentication, over HTTP."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from bridge.upstreams.jira_software.sandbox_jwt import canonical_request
from bridge.upstreams.sandbox import SandboxConfig
from tests.upstreams.conftest import (
    ConnectJwt,
    ServeSandbox,
    atlassian_canonical_request,
    client,
    connect_jwt,
)

BULK = "/rest/remotelinks/1.0/bulk"


def link(link_id: str = "zendesk-5001", sequence: int = 1, **extra: Any) -> dict[str, Any]:
    return {
        "schemaVersion": "1.0",
        "id": link_id,
        "updateSequenceNumber": sequence,
        "displayName": f"Zendesk #{link_id}",
        "url": "https://z.example/tickets/5001",
        "type": "other",
        "lastUpdated": "2026-11-25T02:00:00.000Z",
        "associations": [{"associationType": "issueKeys", "values": ["ABC-1"]}],
        "status": {"appearance": "inprogress", "label": "Open"},
        **extra,
    }


def test_submit_accepts_and_stores(jsw: httpx.Client) -> None:
    response = jsw.post(BULK, json={"remoteLinks": [link("a"), link("b")], "properties": {"ticket": "5001"}})
    assert response.status_code == 202
    assert response.json() == {
        "acceptedRemoteLinks": ["a", "b"],
        "rejectedRemoteLinks": {},
        "unknownAssociations": [],
    }
    stored = jsw.get("/rest/remotelinks/1.0/remotelink/a")
    assert stored.status_code == 200
    assert stored.json()["displayName"] == "Zendesk #a"


def test_each_link_is_validated_on_its_own(jsw: httpx.Client) -> None:
    bad_type = link("bad", type="ticket")
    no_sequence = {key: value for key, value in link("nosequence").items() if key != "updateSequenceNumber"}
    bad_key = link("badkey", associations=[{"associationType": "issueKeys", "values": ["not a key"]}])
    long_name = link("long", displayName="x" * 256)
    body = {"remoteLinks": [link("good"), bad_type, no_sequence, bad_key, long_name]}
    result = jsw.post(BULK, json=body).json()
    assert result["acceptedRemoteLinks"] == ["good"]
    assert set(result["rejectedRemoteLinks"]) == {"bad", "nosequence", "badkey", "long"}
    assert all(item["message"] and item["errorTraceId"] for item in result["rejectedRemoteLinks"]["bad"])
    assert jsw.get("/rest/remotelinks/1.0/remotelink/bad").status_code == 404


def test_older_or_equal_sequence_is_ignored_but_accepted(jsw: httpx.Client) -> None:
    jsw.post(BULK, json={"remoteLinks": [link("a", 10, displayName="ten")]})
    for sequence in (10, 9):
        answer = jsw.post(BULK, json={"remoteLinks": [link("a", sequence, displayName="stale")]}).json()
        assert answer["acceptedRemoteLinks"] == ["a"]
    assert jsw.get("/rest/remotelinks/1.0/remotelink/a").json()["displayName"] == "ten"
    jsw.post(BULK, json={"remoteLinks": [link("a", 11, displayName="eleven")]})
    assert jsw.get("/rest/remotelinks/1.0/remotelink/a").json()["displayName"] == "eleven"


def test_unknown_associations_are_reported(serve_sandbox: ServeSandbox) -> None:
    running = serve_sandbox(SandboxConfig(auto_issues=False))
    with client(running.url + "/jira", ConnectJwt()) as jsw:
        associations = [
            {"associationType": "issueKeys", "values": ["ABC-1"]},
            {"associationType": "serviceIdOrKeys", "values": ["svc-1"]},
        ]
        answer = jsw.post(BULK, json={"remoteLinks": [link("a", associations=associations)]}).json()
    assert answer["acceptedRemoteLinks"] == ["a"]
    assert answer["unknownAssociations"] == [
        {"associationType": "issueKeys", "values": ["ABC-1"]},
        {"associationType": "serviceIdOrKeys", "values": ["svc-1"]},
    ]


def test_batch_over_the_limit_is_413(serve_sandbox: ServeSandbox) -> None:
    running = serve_sandbox(SandboxConfig(jsw_max_batch=3))
    with client(running.url + "/jira", ConnectJwt()) as jsw:
        too_many = jsw.post(BULK, json={"remoteLinks": [link(str(n)) for n in range(4)]})
        assert too_many.status_code == 413
        assert too_many.json()[0]["message"]
        assert jsw.post(BULK, json={"remoteLinks": [link(str(n)) for n in range(3)]}).status_code == 202
        assert jsw.get("/rest/remotelinks/1.0/remotelink/3").status_code == 404


def test_malformed_request_is_400(jsw: httpx.Client) -> None:
    assert jsw.post(BULK, json={"remoteLinks": []}).status_code == 400
    assert jsw.post(BULK, json={"links": [link()]}).status_code == 400
    bad_properties = jsw.post(BULK, json={"remoteLinks": [link()], "properties": {"_hidden": "x"}})
    assert bad_properties.status_code == 400
    assert isinstance(bad_properties.json(), list)
    assert bad_properties.json()[0]["errorTraceId"]


def test_delete_by_properties_matches_all_of_them(jsw: httpx.Client) -> None:
    jsw.post(BULK, json={"remoteLinks": [link("a")], "properties": {"ticket": "1", "site": "s"}})
    jsw.post(BULK, json={"remoteLinks": [link("b")], "properties": {"ticket": "2", "site": "s"}})
    jsw.post(BULK, json={"remoteLinks": [link("c")], "properties": {"ticket": "1", "site": "t"}})
    deleted = jsw.delete("/rest/remotelinks/1.0/bulkByProperties", params={"ticket": "1", "site": "s"})
    assert deleted.status_code == 202
    found = {name: jsw.get(f"/rest/remotelinks/1.0/remotelink/{name}").status_code for name in "abc"}
    assert found == {"a": 404, "b": 200, "c": 200}
    assert jsw.delete("/rest/remotelinks/1.0/bulkByProperties").status_code == 400


def test_delete_by_id(jsw: httpx.Client) -> None:
    jsw.post(BULK, json={"remoteLinks": [link("a")]})
    assert jsw.delete("/rest/remotelinks/1.0/remotelink/a").status_code == 202
    assert jsw.get("/rest/remotelinks/1.0/remotelink/a").status_code == 404
    assert jsw.delete("/rest/remotelinks/1.0/remotelink/a").status_code == 202


def _post_with(http: httpx.Client, token: str | None, path: str = "/jira" + BULK) -> httpx.Response:
    headers = {"Authorization": f"JWT {token}"} if token is not None else {}
    return http.post(path, json={"remoteLinks": [link()]}, headers=headers)


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(None, id="missing"),
        pytest.param(
            connect_jwt("POST", BULK, secret="another-shared-secret-of-at-least-32-bytes"), id="wrong-secret"
        ),
        pytest.param(connect_jwt("POST", BULK, issuer="another-app"), id="wrong-iss"),
        pytest.param(connect_jwt("POST", BULK, now=time.time() - 3600), id="expired"),
        pytest.param(connect_jwt("POST", "/rest/remotelinks/1.0/remotelink/x"), id="qsh-other-path"),
        pytest.param(connect_jwt("GET", BULK), id="qsh-other-method"),
        pytest.param(connect_jwt("POST", "/jira" + BULK), id="qsh-with-context-path"),
        pytest.param("not.a.jwt", id="garbage"),
    ],
)
def test_bad_connect_jwt_is_401(anonymous: httpx.Client, token: str | None) -> None:
    response = _post_with(anonymous, token)
    assert response.status_code == 401
    assert isinstance(response.json(), list)
    assert response.json()[0]["message"]


def test_qsh_covers_the_query(anonymous: httpx.Client) -> None:
    path = "/rest/remotelinks/1.0/bulkByProperties"
    signed = connect_jwt("DELETE", path, [("ticket", "1"), ("site", "a b")])
    headers = {"Authorization": f"JWT {signed}"}
    url = "/jira" + path
    assert anonymous.delete(url, params={"site": "a b", "ticket": "1"}, headers=headers).status_code == 202
    assert anonymous.delete(url, params={"site": "a b", "ticket": "2"}, headers=headers).status_code == 401


def test_canonical_request_follows_atlassians_example() -> None:
    # The example of Atlassian's "Understanding JWT" page, built by both the sandbox and the tests' code.
    query = "zee_last=param&repeated=parameter%201&first=param&repeated=parameter%202"
    expected = "GET&/path/to/service&first=param&repeated=parameter%201,parameter%202&zee_last=param"
    assert canonical_request("get", "/path/to/service", query) == expected
    params = [
        ("zee_last", "param"),
        ("repeated", "parameter 1"),
        ("first", "param"),
        ("repeated", "parameter 2"),
    ]
    assert atlassian_canonical_request("GET", "/path/to/service", params) == expected
    assert (
        canonical_request("POST", "/rest/remotelinks/1.0/bulk/", "jwt=x")
        == "POST&/rest/remotelinks/1.0/bulk&"
    )
    assert canonical_request("GET", "", "") == "GET&/&"


def test_jwt_may_come_as_a_query_parameter(anonymous: httpx.Client) -> None:
    path = "/rest/remotelinks/1.0/remotelink/a"
    token = connect_jwt("GET", path)
    # The jwt parameter itself is left out of the canonical query.
    assert anonymous.get("/jira" + path, params={"jwt": token}).status_code == 404
    assert anonymous.get("/jira" + path, params={"jwt": "x" + token}).status_code == 401
