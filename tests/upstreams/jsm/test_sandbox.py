"""JSM ops integration actions over HTTP."""

from __future__ import annotations

from typing import Any

import httpx

from bridge.upstreams.sandbox import SandboxControl
from tests.upstreams.conftest import CONFIG

ACTIONS = f"/v1/integrations/{CONFIG.jsm_integration_id}/actions"


def action(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "create",
        "name": name,
        "domain": "alert",
        "direction": "incoming",
        "filter": {"conditionsEmpty": True, "conditionMatchType": "match-all", "conditions": []},
        **extra,
    }


def create(jsm: httpx.Client, name: str, **extra: Any) -> dict[str, Any]:
    response = jsm.post(ACTIONS, json=action(name, **extra))
    assert response.status_code == 200, response.text
    created: dict[str, Any] = response.json()
    return created


def names(jsm: httpx.Client) -> list[str]:
    return [value["name"] for value in jsm.get(ACTIONS).json()["values"]]


def test_create_get_and_list(jsm: httpx.Client) -> None:
    created = create(jsm, "Create Alert", actionMapping={"type": "createAlert", "parameter": {}})
    assert created["id"].isdigit()
    assert created["enabled"] is False
    assert jsm.get(f"{ACTIONS}/{created['id']}").json() == created
    listed = jsm.get(ACTIONS).json()
    assert listed["links"] == {}
    assert listed["values"] == [
        {
            "id": created["id"],
            "name": "Create Alert",
            "type": "create",
            "direction": "incoming",
            "domain": "alert",
            "actionMappingType": "createAlert",
        }
    ]


def test_list_pages_with_offset_size_and_next(jsm: httpx.Client) -> None:
    for n in range(5):
        create(jsm, f"a{n}")
    page = jsm.get(ACTIONS, params={"offset": 0, "size": 2}).json()
    assert [value["name"] for value in page["values"]] == ["a0", "a1"]
    seen = []
    next_url: str | None = f"{ACTIONS}?offset=0&size=2"
    while next_url:
        page = jsm.get(next_url).json()
        seen += [value["name"] for value in page["values"]]
        next_url = page["links"].get("next")
    assert seen == ["a0", "a1", "a2", "a3", "a4"]
    assert jsm.get(ACTIONS, params={"size": 50}).json()["links"] == {}


def test_list_filters(jsm: httpx.Client) -> None:
    create(jsm, "in")
    create(jsm, "out", type="postToUrl", direction="outgoing", groupType="forwarding")
    outgoing = jsm.get(ACTIONS, params={"direction": "outgoing"}).json()["values"]
    assert [value["name"] for value in outgoing] == ["out"]
    assert [v["name"] for v in jsm.get(ACTIONS, params={"name": "in"}).json()["values"]] == ["in"]


def test_create_is_validated(jsm: httpx.Client) -> None:
    missing = jsm.post(ACTIONS, json={"type": "create", "name": "x", "domain": "alert"})
    assert missing.status_code == 400
    assert "direction" in missing.json()["message"]
    assert jsm.post(ACTIONS, json=action("x", filter=None)).status_code == 400
    assert jsm.post(ACTIONS, json=action("x", direction="outgoing")).status_code == 400
    create(jsm, "x")
    assert jsm.post(ACTIONS, json=action("x")).status_code == 400
    assert names(jsm) == ["x"]


def test_patch_changes_only_what_it_names(jsm: httpx.Client) -> None:
    created = create(jsm, "a", fieldMappings={"message": "{{subject}}"})
    patched = jsm.patch(f"{ACTIONS}/{created['id']}", json={"enabled": True, "name": "b"})
    assert patched.status_code == 200
    assert patched.json() == {**created, "enabled": True, "name": "b"}
    assert jsm.patch(f"{ACTIONS}/{created['id']}", json={"direction": "outgoing"}).status_code == 400
    assert jsm.patch(f"{ACTIONS}/{created['id']}", json={"enabled": "yes"}).status_code == 400
    assert jsm.patch(f"{ACTIONS}/999", json={"enabled": True}).status_code == 404


def test_delete(jsm: httpx.Client) -> None:
    created = create(jsm, "a")
    assert jsm.delete(f"{ACTIONS}/{created['id']}").status_code == 204
    gone = jsm.get(f"{ACTIONS}/{created['id']}")
    assert gone.status_code == 404
    assert gone.json()["code"] == 404
    assert names(jsm) == []


def test_reorder_puts_the_action_before_its_successor(jsm: httpx.Client) -> None:
    ids = {name: create(jsm, name)["id"] for name in ("a", "b", "c")}
    moved = jsm.patch(f"{ACTIONS}/{ids['c']}/order", json={"successorId": ids["a"]})
    assert moved.status_code == 200
    assert names(jsm) == ["c", "a", "b"]
    jsm.patch(f"{ACTIONS}/{ids['c']}/order", json={})
    assert names(jsm) == ["a", "b", "c"]
    assert jsm.patch(f"{ACTIONS}/{ids['a']}/order", json={"successorId": "404"}).status_code == 400
    assert jsm.patch(f"{ACTIONS}/{ids['a']}/order", json={"successorId": ids["a"]}).status_code == 400
    assert names(jsm) == ["a", "b", "c"]


def test_unknown_and_seeded_integrations(jsm: httpx.Client, control: SandboxControl) -> None:
    unknown = jsm.get("/v1/integrations/other/actions")
    assert unknown.status_code == 404
    assert unknown.json()["message"]
    seeded = control.seed_integration("other", [action("first"), action("second", enabled=True)])
    assert [a["name"] for a in seeded] == ["first", "second"]
    listed = jsm.get("/v1/integrations/other/actions").json()["values"]
    assert [value["id"] for value in listed] == [a["id"] for a in seeded]
    assert control.state()["jsm"]["integrations"]["other"][1]["enabled"] is True


def test_wrong_or_missing_credentials_are_401(anonymous: httpx.Client) -> None:
    url = "/jsm/ops/api/sandbox-cloud" + ACTIONS
    missing = anonymous.get(url)
    assert missing.status_code == 401
    assert missing.json()["code"] == 401
    assert anonymous.get(url, auth=(CONFIG.jsm_email, "wrong")).status_code == 401
