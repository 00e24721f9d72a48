"""``bridge jsm apply FILE`` through the command line entry point."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.cli import main


def test_bad_file_prints_problems_and_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "actions.yaml"
    path.write_text("actions:\n  - name: a\n    type: create\n")

    code = main(["jsm", "apply", str(path)])

    assert code == 1
    assert capsys.readouterr().out.splitlines() == [f"{path}:2: action #1: missing 'domain'"] + [
        f"{path}:2: action #1: missing '{name}'" for name in ("direction", "filter")
    ]


def test_no_integration_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("JSM_INTEGRATION_ID", raising=False)
    path = tmp_path / "actions.yaml"
    path.write_text("actions: []\n")

    code = main(["jsm", "apply", str(path)])

    assert code == 2
    assert "no integration" in capsys.readouterr().out
