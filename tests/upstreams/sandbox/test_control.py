"""The control API: reset, state, seeding, call log, faults (status, retry_after, delay, times, drop)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from bridge.upstreams.sandbox import SandboxConfig, SandboxControl
from tests.upstreams.conftest import CONFIG, ServeSandbox, client

ISSUE = "/rest/api/2/issue/ABC-1"
LINKS = "/api/v2/jira/links"


def test_state_and_reset(jira: httpx.Client, zendesk: httpx.Client, control: SandboxControl) -> None:
    jira.post(
        f"{ISSUE}/remotelink", json={"globalId": "g", "object": {"url": "https://x.example", "title": "t"}}
    )
    zendesk.post(LINKS, json={"link": {"ticket_id": "1", "issue_id": "10000", "issue_key": "ABC-1"}})
    control.add_fault(api="jsm", status=500)
    state = control.state()
    assert set(state) == {"jira", "jira_software", "zendesk", "salesforce", "jsm"}
    assert state["jira"]["remote_links"]["ABC-1"][0]["globalId"] == "g"
    assert state["jira"]["issues"][0]["key"] == "ABC-1"
    assert len(state["zendesk"]["links"]) == 1
    control.reset()
    state = control.state()
    assert state["jira"] == {"issues": [], "aliases": {}, "remote_links": {}}
    assert state["zendesk"]["links"] == []
    assert control.calls() == []
    assert control.faults() == []
    assert jira.get(ISSUE).json()["id"] == "10000"


def test_seed_issue_is_validated(control: SandboxControl) -> None:
    assert control.seed_issue("abc-9", id="777")["key"] == "ABC-9"
    with pytest.raises(httpx.HTTPStatusError):
        control.seed_issue("not a key")
    with pytest.raises(httpx.HTTPStatusError):
        control.seed_issue("XYZ-1", id="777")


def test_calls_are_logged_with_idempotency_key(
    jira: httpx.Client, zendesk: httpx.Client, control: SandboxControl
) -> None:
    jira.get(ISSUE, params={"fields": "summary"}, headers={"Idempotency-Key": "k-1"})
    zendesk.get(LINKS)
    calls = control.calls()
    assert [(c["api"], c["method"], c["path"], c["status"]) for c in calls] == [
        ("jira", "GET", ISSUE, 200),
        ("zendesk", "GET", LINKS, 200),
    ]
    assert calls[0]["query"] == "fields=summary"
    assert calls[0]["idempotency_key"] == "k-1"
    assert calls[1]["idempotency_key"] is None
    assert calls[0]["at"] <= calls[1]["at"] <= time.time()
    assert [c["api"] for c in control.calls(api="zendesk")] == ["zendesk"]
    control.clear_calls()
    assert control.calls() == []


def test_jira_software_calls_are_told_apart_from_jira(
    anonymous: httpx.Client, control: SandboxControl
) -> None:
    anonymous.get("/jira/rest/remotelinks/1.0/remotelink/x")
    anonymous.get("/_sandbox/state")
    assert [(c["api"], c["path"], c["status"]) for c in control.calls()] == [
        ("jira_software", "/rest/remotelinks/1.0/remotelink/x", 401)
    ]


def test_status_fault_answers_in_the_api_shape_with_retry_after(
    jira: httpx.Client, control: SandboxControl
) -> None:
    control.add_fault(api="jira", method="get", path=r"^/rest/api/2/issue/[^/]+$", status=429, retry_after=7)
    limited = jira.get(ISSUE)
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "7"
    assert "errorMessages" in limited.json()
    assert jira.get(f"{ISSUE}/remotelink").status_code == 200
    assert jira.post(f"{ISSUE}/remotelink", json={}).status_code == 400
    assert jira.get(ISSUE).status_code == 429
    assert control.calls()[0]["status"] == 429
    control.clear_faults()
    assert jira.get(ISSUE).status_code == 200


def test_retry_after_as_http_date_and_custom_body(zendesk: httpx.Client, control: SandboxControl) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    control.add_fault(api="zendesk", status=503, retry_after=when, body={"error": "Maintenance"}, times=1)
    response = zendesk.get(LINKS)
    assert response.status_code == 503
    assert response.headers["retry-after"] == when
    assert response.json() == {"error": "Maintenance"}


def test_fault_times_counts_down(salesforce: httpx.Client, control: SandboxControl) -> None:
    path = "/rest/com.servicerocket.jira.salesforce/1.0/api/external/associations"
    control.add_fault(api="salesforce", status=502, times=2)
    statuses = [salesforce.get(path, params={"jiraIssueIdOrKey": "ABC-1"}).status_code for _ in range(3)]
    assert statuses == [502, 502, 200]
    assert control.faults() == []


def test_delay_fault_holds_the_answer(jsm: httpx.Client, control: SandboxControl) -> None:
    path = f"/v1/integrations/{CONFIG.jsm_integration_id}/actions"
    control.add_fault(api="jsm", delay_s=0.4, times=1)
    started = time.monotonic()
    assert jsm.get(path).status_code == 200
    assert time.monotonic() - started >= 0.4
    started = time.monotonic()
    jsm.get(path)
    assert time.monotonic() - started < 0.3


def test_delay_longer_than_the_clients_timeout_times_it_out(
    jira: httpx.Client, control: SandboxControl
) -> None:
    control.add_fault(api="jira", delay_s=1.0, times=1)
    with pytest.raises(httpx.ReadTimeout):
        jira.get(ISSUE, timeout=0.2)


def test_drop_closes_the_connection_without_an_answer(jira: httpx.Client, control: SandboxControl) -> None:
    control.add_fault(api="jira", drop=True, times=1)
    with pytest.raises(httpx.RemoteProtocolError):
        jira.get(ISSUE)
    assert jira.get(ISSUE).status_code == 200
    assert [c["status"] for c in control.calls()] == [None, 200]


def test_drop_after_makes_the_call_take_effect_and_loses_its_answer(
    zendesk: httpx.Client, control: SandboxControl
) -> None:
    control.add_fault(api="zendesk", method="POST", drop_after=True, times=1)
    link = {"link": {"ticket_id": "5001", "issue_id": "10000", "issue_key": "ABC-1"}}
    with pytest.raises(httpx.RemoteProtocolError):
        zendesk.post(LINKS, json=link)
    assert [found["ticket_id"] for found in control.state()["zendesk"]["links"]] == ["5001"]
    assert [c["status"] for c in control.calls("zendesk")] == [201]


def test_faults_only_hit_their_api(
    jira: httpx.Client, zendesk: httpx.Client, control: SandboxControl
) -> None:
    control.add_fault(api="zendesk", status=500)
    assert jira.get(ISSUE).status_code == 200
    assert zendesk.get(LINKS).status_code == 500


@pytest.mark.parametrize(
    "fault",
    [
        {"api": "github", "status": 500},
        {"api": "jira"},
        {"api": "jira", "status": 42},
        {"api": "jira", "status": 500, "times": 0},
        {"api": "jira", "status": 500, "retry_after": "soon"},
        {"api": "jira", "retry_after": 5, "delay_s": 1},
        {"api": "jira", "status": 500, "path": "("},
        {"api": "jira", "status": 500, "colour": "red"},
        {"api": "jira", "status": 500, "drop_after": True},
        {"api": "jira", "drop": True, "drop_after": True},
    ],
)
def test_bad_fault_is_400(control: SandboxControl, fault: dict[str, object]) -> None:
    with pytest.raises(httpx.HTTPStatusError) as refused:
        control.add_fault(**fault)
    assert refused.value.response.status_code == 400
    assert refused.value.response.json()["error"]


def test_configured_latency_is_added(serve_sandbox: ServeSandbox) -> None:
    running = serve_sandbox(SandboxConfig(latency_s=0.3))
    with client(running.url + "/jira", (CONFIG.jira_email, CONFIG.jira_api_token)) as jira:
        started = time.monotonic()
        assert jira.get(ISSUE).status_code == 200
        assert time.monotonic() - started >= 0.3
        started = time.monotonic()
        with SandboxControl(running.url) as control:
            control.state()
        assert time.monotonic() - started < 0.3


def test_env_points_settings_at_the_sandbox(sandbox_url: str) -> None:
    settings = CONFIG.settings_for(sandbox_url)
    assert settings.jira_base_url == sandbox_url + "/jira"
    assert settings.jsm_ops_base_url == sandbox_url + "/jsm/ops/api/sandbox-cloud"
    assert settings.jira_connect_shared_secret is not None
    assert settings.jira_connect_shared_secret.reveal() == CONFIG.connect_shared_secret
    assert "token" not in repr(CONFIG)
    assert CONFIG.connect_shared_secret not in repr(CONFIG)
