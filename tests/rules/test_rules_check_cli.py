"""``bridge rules check FILE`` through the real command line entry point."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from bridge.cli import main


def test_valid_file_prints_one_summary_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    default = resources.files("bridge.rules").joinpath("default.yaml").read_text()
    path = tmp_path / "rules.yaml"
    path.write_text(default)

    code = main(["rules", "check", str(path)])

    out = capsys.readouterr().out
    assert code == 0
    assert out.splitlines() == [
        f"{path}: OK, 5 rules, actions by destination: jira 2, jira_software 2, salesforce 1, zendesk 2"
    ]


def test_built_in_rules_check_clean(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "check", "default"]) == 0
    assert "OK, 5 rules" in capsys.readouterr().out


def test_example_checks_clean(capsys: pytest.CaptureFixture[str]) -> None:
    example = str(resources.files("bridge.rules").joinpath("examples/jsm_maintenance.yaml"))

    assert main(["rules", "check", example]) == 0
    assert "OK, 2 rules, actions by destination: jsm 2" in capsys.readouterr().out


def test_problems_are_printed_with_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(
        "rules:\n"
        "  - name: r\n"
        "    when: {source: zendesk, type: tickets.updated}\n"
        "    actions:\n"
        "      - kind: zendesk.jira_link.create\n"
        '        ticket_id: "{{ event.subject.id"\n'
    )

    code = main(["rules", "check", str(path)])

    lines = capsys.readouterr().out.splitlines()
    assert code == 1
    assert lines[0].startswith(
        f"{path}:3: rule 'r': when.type 'tickets.updated' matches no zendesk event type"
    )
    assert lines[1] == f"{path}:5: rule 'r', action #1 (zendesk.jira_link.create): missing 'issue_key'"
    assert lines[2].startswith(
        f"{path}:6: rule 'r', action #1 (zendesk.jira_link.create): ticket_id: bad template"
    )
    assert lines[3] == f"{path}: 3 problems"


def test_missing_file_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["rules", "check", str(tmp_path / "nope.yaml")])

    assert code == 1
    assert "cannot read the rules file" in capsys.readouterr().out
