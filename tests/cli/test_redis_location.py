"""Which Redis an operator command reads, and what it says when that Redis does not answer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from bridge.cli import command_settings, dev_state, main
from bridge.embedded_redis import free_port
from bridge.settings import Settings

REDIS_COMMANDS = [
    ["queues"],
    ["failed"],
    ["failed", "--requeue"],
    ["events", "search", "5001"],
    ["replay", "some-event"],
    ["audit"],
    ["rules", "test", "default", "some-event"],
    ["dev", "--port", str(free_port())],
    ["worker", "--burst"],
]


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No bridge variable set; the dev state file in a temporary directory. Returns that file's path."""
    for field in Settings.model_fields.values():
        monkeypatch.delenv(str(field.validation_alias), raising=False)
    state = tmp_path / "dev.json"
    monkeypatch.setenv("BRIDGE_DEV_STATE", str(state))
    return state


@pytest.mark.parametrize("command", REDIS_COMMANDS, ids=" ".join)
def test_a_redis_that_does_not_answer_is_one_line_naming_it_without_the_password(
    command: list[str], clean_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()
    monkeypatch.setenv("REDIS_URL", f"redis://:hunter2secret@127.0.0.1:{port}/0")

    code = main(command)

    captured = capsys.readouterr()
    assert code == 3
    (line,) = captured.err.splitlines()
    assert line.startswith(f"bridge: cannot reach Redis at redis://:****@127.0.0.1:{port}/0 (")
    assert "hunter2secret" not in captured.err + captured.out


def test_operator_commands_read_the_redis_of_the_running_bridge_dev(
    clean_env: Path, redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # This process plays the running bridge dev: the state file names its pid and its Redis.
    dev_state.write(Settings(dev_state_file=str(clean_env)), {"REDIS_URL": redis_url, "PORT": "18999"})
    redis.Redis.from_url(redis_url).set("bridge:probe", "1")

    settings, origin = command_settings("queues")
    assert settings.redis_url == redis_url
    assert settings.port == 18999
    assert str(clean_env) in origin
    assert main(["queues", "--json"]) == 0
    assert "bridge-events" in json.loads(capsys.readouterr().out)["queues"][0]["name"]
    assert main(["queues"]) == 0
    assert capsys.readouterr().out.startswith(
        f"Redis {redis_url}, from the running bridge dev's ({clean_env})"
    )


def test_servers_and_an_explicit_redis_url_ignore_the_state_file(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dev_state.write(Settings(dev_state_file=str(clean_env)), {"REDIS_URL": "redis://127.0.0.1:1/0"})

    assert command_settings("worker")[0].redis_url is None
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:2/0")
    assert command_settings("queues")[0].redis_url == "redis://127.0.0.1:2/0"


def test_the_state_of_a_bridge_dev_that_stopped_is_ignored(clean_env: Path) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    clean_env.write_text(json.dumps({"pid": gone.pid, "env": {"REDIS_URL": "redis://127.0.0.1:1/0"}}))

    settings, origin = command_settings("queues")

    assert settings.redis_url is None
    assert "no bridge dev runs" in origin


def test_the_state_file_is_private_and_removed_by_its_writer_only(clean_env: Path) -> None:
    settings = Settings(dev_state_file=str(clean_env))
    dev_state.write(settings, {"REDIS_URL": "redis://127.0.0.1:1/0"})
    assert clean_env.stat().st_mode & 0o777 == 0o600

    clean_env.write_text(json.dumps({"pid": os.getppid(), "env": {}}))  # another bridge dev took over
    dev_state.remove(settings)
    assert clean_env.exists()
