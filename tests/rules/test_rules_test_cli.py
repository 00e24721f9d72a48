"""``bridge rules test FILE EVENT``: the calls a rules file plans for an event, and nothing called."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest
import redis

from bridge import keys, samples
from bridge.cli import main
from bridge.planner import Planner
from bridge.rules.loader import load_rules
from bridge.settings import Settings
from bridge.stores import history, issue_ids
from bridge.upstreams import Clients
from bridge.upstreams.sandbox import SandboxConfig
from tests.rules.events import SAMPLES, ZENDESK_URL, ticket

JIRA_SAMPLES = SAMPLES.parent.parent / "samples" / "jira"


@pytest.fixture(autouse=True)
def configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZENDESK_BASE_URL", ZENDESK_URL)
    monkeypatch.setenv("JIRA_ZENDESK_FIELD", "customfield_10050")
    monkeypatch.setenv("ZENDESK_JIRA_FIELD_ID", "360000000001")


def test_a_sample_prints_its_planned_calls_and_nothing_is_called(capsys: pytest.CaptureFixture[str]) -> None:
    # --no-links reads no Redis (REDIS_URL points nowhere in the tests).
    assert main(["rules", "test", "default", "zendesk", "--no-links"]) == 0

    out = capsys.readouterr().out
    assert "(zendesk ticket.updated, ticket 5001)" in out
    assert "link index: not read (--no-links)" in out
    assert "zendesk-ticket-links-jira-issues  jira.remote_link.upsert   jira:PROJ-1" in out
    assert f'"global_id":"system={ZENDESK_URL}&id=5001"' in out
    assert "zendesk is not configured: would be skipped" in out
    assert out.splitlines()[-1] == "2 call(s) planned; nothing was called."


def test_a_webhook_body_or_an_event_in_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    delivery = JIRA_SAMPLES / "cloud_issue_created.json"
    assert main(["rules", "test", "default", str(delivery), "--no-links", "--json"]) == 0
    from_delivery = json.loads(capsys.readouterr().out)

    event = ticket("5003", "PROJ-9", "Solved")
    (tmp_path / "event.json").write_bytes(orjson.dumps(event))
    assert main(["rules", "test", "default", str(tmp_path / "event.json"), "--no-links", "--json"]) == 0
    from_event = json.loads(capsys.readouterr().out)

    assert from_delivery["subject"].startswith("issue ")
    assert from_event["event_id"] == event["id"]
    upsert = next(call for call in from_event["calls"] if call["kind"] == "jira.remote_link.upsert")
    assert upsert["params"]["status_resolved"] is True
    assert upsert["made_already"] is False


def test_a_recorded_event_is_planned_against_its_subjects_state_as_it_is_now(
    redis_url: str,
    redis_client: redis.Redis,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("REDIS_URL", redis_url)
    for name, value in SandboxConfig().env("http://127.0.0.1:9").items():  # configured, never called
        monkeypatch.setenv(name, value)
    # Ticket 5004 was planned holding PROJ-1 and PROJ-2; its newest event keeps PROJ-2 only.
    issue_ids.remember_keys(redis_client, "10001", "PROJ-1")
    issue_ids.remember_keys(redis_client, "10002", "PROJ-2")
    settings = Settings.model_validate({"ZENDESK_BASE_URL": "http://127.0.0.1:9/zendesk"})
    older = ticket("5004", "PROJ-1, PROJ-2", "Open")
    event = ticket("5004", "PROJ-2", "Open")
    event["sequence"] = older["sequence"] + 60_000
    Planner(redis_client, load_rules(None), settings, Clients()).plan(older)
    history.save_event(redis_client, event, 3600)
    waiting = redis_client.llen(keys.WAITING_KEY.format(destination="jira"))

    keep = main(["rules", "test", "default", event["id"], "--json"])
    planned = json.loads(capsys.readouterr().out)

    assert keep == 0
    assert planned["order"] == "newer"
    assert [(i["key"], i["wanted"]) for i in planned["linked"]["issues"]] == [
        ("PROJ-1", False),
        ("PROJ-2", True),
    ]
    unlinks = [call for call in planned["calls"] if "delete" in call["kind"]]
    assert {call["target"] for call in unlinks} == {
        "jira:10001",
        "zendesk:5004",
    }  # the key the ticket dropped
    made = next(call for call in planned["calls"] if call["target"] == "jira:10002")
    redis_client.set(keys.IDEMPOTENCY_KEY.format(key=made["idempotency_key"]), "{}")
    assert main(["rules", "test", "default", event["id"]]) == 0
    out = capsys.readouterr().out
    assert "link index: PROJ-1 (linked, no longer wanted), PROJ-2 (wanted)" in out
    assert "already made, nothing to do: a replay skips it" in out
    assert (
        redis_client.llen(keys.WAITING_KEY.format(destination="jira")) == waiting
    )  # nothing planned for real


def test_rules_that_fail_on_the_event_say_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "version: 1\nrules:\n  - name: broken\n    when: {source: zendesk, type: 'ticket.*'}\n"
        "    actions:\n      - kind: zendesk.jira_link.create\n"
        "        ticket_id: '{{ event.subject.id }}'\n        issue_key: '{{ event.data.nothing.here }}'\n"
    )
    (tmp_path / "body.json").write_bytes(orjson.dumps(samples.zendesk_trigger("5005", "PROJ-5")))

    assert main(["rules", "test", str(rules), str(tmp_path / "body.json"), "--no-links"]) == 1

    assert "the rules fail on this event: rule 'broken'" in capsys.readouterr().out
