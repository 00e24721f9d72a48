"""JSM ops' client: every operation against the sandbox over real HTTP on loopback, checked in its state."""

from __future__ import annotations

from bridge.upstreams.jsm.client import JsmOpsClient
from bridge.upstreams.sandbox import SandboxControl


def test_jsm_actions_every_operation_with_pages(
    jsm_client: JsmOpsClient, upstreams_control: SandboxControl
) -> None:
    integration = "sandbox-integration"
    upstreams_control.seed_integration(integration)
    body = {
        "type": "create",
        "domain": "alert",
        "direction": "incoming",
        "filter": {"conditionsEmpty": True, "conditionMatchType": "match-all", "conditions": []},
    }
    made = [jsm_client.create_action(integration, {**body, "name": f"action {n}"}) for n in range(60)]

    listed = list(jsm_client.iter_actions(integration))
    assert [action.name for action in listed] == [f"action {n}" for n in range(60)]
    assert len([call for call in upstreams_control.calls("jsm") if call["method"] == "GET"]) == 2

    first = made[0].id
    assert first is not None
    assert jsm_client.update_action(integration, first, {"enabled": True}).enabled is True
    assert jsm_client.get_action(integration, first).enabled is True
    jsm_client.reorder_action(integration, first, None)
    assert [action.name for action in jsm_client.iter_actions(integration)][-1] == "action 0"
    jsm_client.delete_action(integration, first)
    assert len(list(jsm_client.iter_actions(integration))) == 59
