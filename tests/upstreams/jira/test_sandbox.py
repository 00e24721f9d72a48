"""Jira platform: get issue and issue remote links over HTTP."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from bridge.upstreams.sandbox import SandboxConfig, SandboxControl
from tests.upstreams.conftest import CONFIG, ServeSandbox, client

LINKS = "/rest/api/2/issue/{}/remotelink"


def remote_link(global_id: str | None = "system=https://z.example&id=1", **extra: Any) -> dict[str, Any]:
    link: dict[str, Any] = {
        "object": {"url": "https://z.example/tickets/1", "title": "Zendesk #1", "summary": "Printer on fire"},
        "relationship": "mentioned in",
        "application": {"type": "com.zendesk", "name": "Zendesk"},
        **extra,
    }
    if global_id is not None:
        link["globalId"] = global_id
    return link


def test_get_issue_assigns_ids_in_order_of_first_sight(jira: httpx.Client) -> None:
    first = jira.get("/rest/api/2/issue/ABC-7").json()
    second = jira.get("/rest/api/2/issue/XYZ-1").json()
    assert (first["id"], first["key"], second["id"]) == ("10000", "ABC-7", "10001")
    assert first["self"].endswith("/jira/rest/api/2/issue/10000")
    assert jira.get("/rest/api/2/issue/abc-7").json()["id"] == "10000"
    assert jira.get("/rest/api/2/issue/10000").json()["key"] == "ABC-7"


def test_get_issue_fields_narrows(jira: httpx.Client, control: SandboxControl) -> None:
    control.seed_issue("PROJ-5", id="20005", fields={"customfield_10050": "5001"})
    issue = jira.get("/rest/api/2/issue/PROJ-5", params={"fields": "summary,customfield_10050"}).json()
    assert issue["id"] == "20005"
    assert issue["fields"] == {"summary": "Sandbox issue PROJ-5", "customfield_10050": "5001"}
    everything_but = jira.get("/rest/api/2/issue/PROJ-5", params={"fields": "*all,-summary"}).json()["fields"]
    assert "summary" not in everything_but
    assert everything_but["customfield_10050"] == "5001"
    assert jira.get("/rest/api/2/issue/PROJ-5", params={"fields": "id"}).json()["fields"] == {}


def test_unknown_issue_is_404_in_error_collection(jira: httpx.Client) -> None:
    for path in ("/rest/api/2/issue/not-a-key", "/rest/api/2/issue/99999", LINKS.format("nokey")):
        response = jira.get(path)
        assert response.status_code == 404
        assert response.json()["errorMessages"]
        assert response.json()["errors"] == {}


def test_without_auto_issues_only_seeded_issues_exist(serve_sandbox: ServeSandbox) -> None:
    running = serve_sandbox(SandboxConfig(auto_issues=False))
    with client(running.url + "/jira", (CONFIG.jira_email, CONFIG.jira_api_token)) as jira:
        assert jira.get("/rest/api/2/issue/ABC-1").status_code == 404
        with SandboxControl(running.url) as control:
            control.seed_issue("ABC-1")
        assert jira.get("/rest/api/2/issue/ABC-1").status_code == 200
        assert jira.post(LINKS.format("ABC-2"), json=remote_link()).status_code == 404


def test_create_then_update_by_global_id_replaces_the_whole_link(jira: httpx.Client) -> None:
    created = jira.post(LINKS.format("ABC-1"), json=remote_link(status={"resolved": False}))
    assert created.status_code == 201
    link_id = created.json()["id"]
    assert created.json()["self"].endswith(f"/rest/api/2/issue/ABC-1/remotelink/{link_id}")

    replacement = remote_link()
    del replacement["relationship"]
    replacement["object"] = {"url": "https://z.example/tickets/1", "title": "Zendesk #1 (solved)"}
    updated = jira.post(LINKS.format("ABC-1"), json=replacement)
    assert updated.status_code == 200
    assert updated.json()["id"] == link_id

    stored = jira.get(f"{LINKS.format('ABC-1')}/{link_id}").json()
    assert stored["object"] == replacement["object"]
    assert "relationship" not in stored
    assert "status" not in stored
    assert len(jira.get(LINKS.format("ABC-1")).json()) == 1


def test_links_are_per_issue_and_listed_by_global_id(jira: httpx.Client) -> None:
    jira.post(LINKS.format("ABC-1"), json=remote_link("g1"))
    jira.post(LINKS.format("ABC-1"), json=remote_link("g2"))
    jira.post(LINKS.format("ABC-2"), json=remote_link("g1"))
    jira.post(LINKS.format("ABC-1"), json=remote_link(None))
    assert [link.get("globalId") for link in jira.get(LINKS.format("ABC-1")).json()] == ["g1", "g2", None]
    one = jira.get(LINKS.format("ABC-1"), params={"globalId": "g2"})
    assert one.status_code == 200
    assert one.json()["globalId"] == "g2"
    assert jira.get(LINKS.format("ABC-1"), params={"globalId": "nope"}).status_code == 404


def test_global_id_with_reserved_characters_round_trips(jira: httpx.Client) -> None:
    global_id = "system=http://www.mycompany.com/support&id=1"
    jira.post(LINKS.format("ABC-1"), json=remote_link(global_id))
    assert jira.get(LINKS.format("ABC-1"), params={"globalId": global_id}).json()["globalId"] == global_id
    assert jira.delete(LINKS.format("ABC-1"), params={"globalId": global_id}).status_code == 204
    assert jira.get(LINKS.format("ABC-1")).json() == []
    assert jira.delete(LINKS.format("ABC-1"), params={"globalId": global_id}).status_code == 404


def test_get_put_delete_by_link_id(jira: httpx.Client) -> None:
    link_id = jira.post(LINKS.format("ABC-1"), json=remote_link("g1")).json()["id"]
    path = f"{LINKS.format('ABC-1')}/{link_id}"
    changed = remote_link("g1", relationship="relates to")
    assert jira.put(path, json=changed).status_code == 204
    assert jira.get(path).json()["relationship"] == "relates to"
    assert jira.get(f"{LINKS.format('ABC-2')}/{link_id}").status_code == 404
    assert jira.delete(path).status_code == 204
    assert jira.get(path).status_code == 404
    assert jira.put(path, json=changed).status_code == 404
    assert jira.delete(path).status_code == 404


def test_body_without_url_or_title_is_400(jira: httpx.Client) -> None:
    no_object = jira.post(LINKS.format("ABC-1"), json={"globalId": "g"})
    assert no_object.status_code == 400
    assert "object" in no_object.json()["errors"]
    no_title = jira.post(LINKS.format("ABC-1"), json={"object": {"url": "https://x.example"}})
    assert no_title.status_code == 400
    assert set(no_title.json()["errors"]) == {"title"}
    no_url = jira.post(LINKS.format("ABC-1"), json={"object": {"title": "t"}})
    assert no_url.status_code == 400
    assert set(no_url.json()["errors"]) == {"url"}
    not_json = {"Content-Type": "application/json"}
    assert jira.post(LINKS.format("ABC-1"), content=b"{not json", headers=not_json).status_code == 400
    form = jira.post(LINKS.format("ABC-1"), data={"object": "x"})
    assert form.status_code == 415
    assert form.json()["errorMessages"]
    assert jira.get(LINKS.format("ABC-1")).json() == []


def test_global_id_longer_than_255_is_400(jira: httpx.Client) -> None:
    assert jira.post(LINKS.format("ABC-1"), json=remote_link("g" * 255)).status_code == 201
    too_long = jira.post(LINKS.format("ABC-1"), json=remote_link("g" * 256))
    assert too_long.status_code == 400
    assert "globalId" in too_long.json()["errors"]


def test_wrong_or_missing_credentials_are_401(anonymous: httpx.Client) -> None:
    url = "/jira/rest/api/2/issue/ABC-1"
    missing = anonymous.get(url)
    assert missing.status_code == 401
    assert missing.json()["errorMessages"]
    assert missing.headers["www-authenticate"].startswith("Basic")
    assert anonymous.get(url, auth=(CONFIG.jira_email, "wrong-token")).status_code == 401
    assert anonymous.get(url, auth=("someone@example.com", CONFIG.jira_api_token)).status_code == 401
    assert anonymous.get(url, headers={"Authorization": "Bearer " + CONFIG.jira_api_token}).status_code == 401
    assert anonymous.get(url, headers={"Authorization": "Basic !!notbase64"}).status_code == 401


def test_unknown_path_is_404_in_the_api_shape(jira: httpx.Client) -> None:
    response = jira.get("/rest/api/2/nothing-here")
    assert response.status_code == 404
    assert "errorMessages" in response.json()


def test_a_moved_issue_keeps_its_id_and_links_and_its_old_key_still_finds_it(
    jira: httpx.Client, control: SandboxControl
) -> None:
    control.seed_issue("SUP-42", id="10042")
    link = {"globalId": "system=z&id=7783", "object": {"url": "https://z/7783", "title": "Zendesk #7783"}}
    assert jira.post("/rest/api/2/issue/SUP-42/remotelink", json=link).status_code == 201
    before = jira.get("/rest/api/2/issue/10042").json()["fields"]["updated"]
    moved = control.change_issue("SUP-42", key="OPS-7")
    assert (moved["id"], moved["key"]) == ("10042", "OPS-7")
    by_old_key = jira.get("/rest/api/2/issue/SUP-42").json()
    assert (by_old_key["id"], by_old_key["key"]) == ("10042", "OPS-7")
    assert by_old_key["fields"]["project"] == {"key": "OPS"}
    assert by_old_key["fields"]["updated"] > before
    assert [found["globalId"] for found in jira.get("/rest/api/2/issue/OPS-7/remotelink").json()] == [
        "system=z&id=7783"
    ]


def test_a_deleted_issue_is_gone_with_its_links_and_its_key_is_never_given_again(
    jira: httpx.Client, control: SandboxControl
) -> None:
    control.seed_issue("DEL-1", id="10077")
    link = {"globalId": "g", "object": {"url": "https://z/1", "title": "t"}}
    jira.post("/rest/api/2/issue/DEL-1/remotelink", json=link)
    control.delete_issue("DEL-1")
    assert jira.get("/rest/api/2/issue/10077").status_code == 404
    assert jira.get("/rest/api/2/issue/DEL-1").status_code == 404  # not auto-created anew
    assert "DEL-1" not in control.state()["jira"]["remote_links"]
    with pytest.raises(httpx.HTTPStatusError):
        control.delete_issue("DEL-1")


def test_an_edit_without_a_webhook_changes_fields_and_updated(
    jira: httpx.Client, control: SandboxControl
) -> None:
    control.seed_issue("EDT-1")
    control.change_issue("EDT-1", fields={"customfield_10050": "5001, 5002"})
    fields = jira.get("/rest/api/2/issue/EDT-1").json()["fields"]
    assert fields["customfield_10050"] == "5001, 5002"
    assert fields["updated"].endswith("+0000")
