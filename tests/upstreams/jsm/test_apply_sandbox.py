"""``bridge jsm apply`` against the sandbox's JSM ops API, over real HTTP on loopback."""

from __future__ import annotations

import os
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml

from bridge.cli import main
from bridge.stores import audit
from bridge.upstreams.sandbox import RunningSandbox, SandboxControl, serve_in_thread

INTEGRATION = "sandbox-integration"
FILTER = {"conditionsEmpty": True, "conditionMatchType": "match-all", "conditions": []}


def action(name: str, **fields: Any) -> dict[str, Any]:
    return {
        "name": name,
        "type": "create",
        "domain": "alert",
        "direction": "incoming",
        "filter": FILTER,
        **fields,
    }


@pytest.fixture
def sandbox(monkeypatch: pytest.MonkeyPatch, redis_url: str) -> Iterator[RunningSandbox]:
    monkeypatch.setenv("REDIS_URL", redis_url)  # where the audit log records each apply
    with serve_in_thread() as running:
        for name, value in running.env().items():
            monkeypatch.setenv(name, value)
        yield running


@pytest.fixture
def control(sandbox: RunningSandbox) -> Iterator[SandboxControl]:
    with SandboxControl(sandbox.url) as control:
        yield control


def stored(control: SandboxControl) -> list[dict[str, Any]]:
    actions: list[dict[str, Any]] = control.state()["jsm"]["integrations"][INTEGRATION]
    return actions


def write(tmp_path: Path, actions: list[dict[str, Any]]) -> str:
    path = tmp_path / "actions.yaml"
    path.write_text(yaml.safe_dump({"integration_id": INTEGRATION, "actions": actions}, sort_keys=False))
    return str(path)


def writes(control: SandboxControl) -> list[tuple[str, str]]:
    return [(call["method"], call["path"]) for call in control.calls("jsm") if call["method"] != "GET"]


def test_apply_creates_patches_deletes_and_reorders(
    control: SandboxControl, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    control.seed_integration(
        INTEGRATION, [action("old"), action("b"), action("a", fieldMappings={"note": "x"})]
    )
    path = write(
        tmp_path,
        [
            action("a", fieldMappings={"note": "x"}),
            action("b", enabled=True),
            action("c", fieldMappings={"m": "{{subject}}"}),
        ],
    )

    assert main(["jsm", "apply", path]) == 0

    actions = stored(control)
    assert [a["name"] for a in actions] == ["a", "b", "c"]
    assert [a["enabled"] for a in actions] == [False, True, False]
    assert actions[2]["fieldMappings"] == {"m": "{{subject}}"}
    out = capsys.readouterr().out
    assert "delete 'old'" in out
    assert out.splitlines()[-1] == f"integration {INTEGRATION}: 1 created, 1 updated, 1 deleted, 1 moved"


def test_second_run_changes_nothing(
    control: SandboxControl, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    control.seed_integration(INTEGRATION, [action("z"), action("y")])
    path = write(tmp_path, [action("y", enabled=True), action("x"), action("z")])
    assert main(["jsm", "apply", path]) == 0
    control.clear_calls()
    capsys.readouterr()

    assert main(["jsm", "apply", path]) == 0

    assert writes(control) == []
    assert capsys.readouterr().out == f"integration {INTEGRATION}: 3 actions already match, nothing to do\n"


def test_dry_run_prints_the_plan_and_changes_nothing(
    control: SandboxControl, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    control.seed_integration(INTEGRATION, [action("b"), action("gone")])
    control.clear_calls()
    path = write(tmp_path, [action("a"), action("b", enabled=True)])

    assert main(["jsm", "apply", "--dry-run", path]) == 0

    assert writes(control) == []
    assert [a["name"] for a in stored(control)] == ["b", "gone"]
    assert capsys.readouterr().out.splitlines() == [
        f"would delete 'gone' ({stored(control)[1]['id']}): not in the file",
        f"would update 'b' ({stored(control)[0]['id']}): enabled",
        "would create 'a'",
        "would move 'a' before 'b'",
        f"integration {INTEGRATION}: 1 created, 1 updated, 1 deleted, 1 moved (dry run, nothing changed)",
    ]


def test_upstream_refusal_is_reported(
    control: SandboxControl, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    control.add_fault(api="jsm", method="POST", status=403, body='{"message": "not an admin"}')
    path = write(tmp_path, [action("a")])

    assert main(["jsm", "apply", path]) == 1

    out = capsys.readouterr().out
    assert "403" in out
    assert "sandbox-jsm-token" not in out


def test_the_shipped_example_applies_and_a_second_run_has_nothing_to_do(
    control: SandboxControl, capsys: pytest.CaptureFixture[str]
) -> None:
    example = resources.files("bridge.upstreams.jsm").joinpath("examples/integration_actions.yaml")
    assert main(["jsm", "apply", "--dry-run", str(example)]) == 0
    assert writes(control) == []

    assert main(["jsm", "apply", str(example)]) == 0
    assert [a["name"] for a in stored(control)] == [
        "Create alert from monitoring",
        "Close alert when resolved",
    ]
    capsys.readouterr()
    assert main(["jsm", "apply", str(example)]) == 0
    assert "already match, nothing to do" in capsys.readouterr().out
    # Each apply is in the audit log (the dry run changed nothing and is not).
    entries = audit.recent(redis.Redis.from_url(os.environ["REDIS_URL"]))
    assert [(e.action, e.target, e.ok, e.via) for e in entries] == [
        ("jsm apply", f"integration {INTEGRATION}", True, "cli")
    ] * 2
    assert entries[0].detail.endswith("nothing to do")
    assert entries[1].detail == f"integration {INTEGRATION}: 2 created, 0 updated, 0 deleted, 0 moved"


def test_a_refused_apply_is_in_the_audit_log_as_failed(control: SandboxControl, tmp_path: Path) -> None:
    control.add_fault(api="jsm", method="POST", status=403, body='{"message": "not an admin"}')

    assert main(["jsm", "apply", write(tmp_path, [action("a")])]) == 1

    (entry,) = audit.recent(redis.Redis.from_url(os.environ["REDIS_URL"]))
    assert (entry.action, entry.ok) == ("jsm apply", False)
    assert "403" in entry.detail
