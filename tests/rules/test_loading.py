"""Loading rules files: every kind of problem is reported, all at once, each with its line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from bridge.errors import RulesError
from bridge.rules.loader import load_rules, parse_rules
from bridge.rules.problems import RuleProblem

VALID_ACTION = """\
      - kind: zendesk.jira_link.create
        ticket_id: "{{ event.subject.id }}"
        issue_key: PROJ-1
"""


def lines(*parts: str) -> str:
    return "".join(part + "\n" for part in parts)


def problems_of(text: str) -> list[RuleProblem]:
    with pytest.raises(RulesError) as caught:
        parse_rules(textwrap.dedent(text), "rules.yaml")
    return caught.value.problems


def one_problem(text: str) -> RuleProblem:
    problems = problems_of(text)
    assert len(problems) == 1, problems
    return problems[0]


def rule(
    when: str = "{source: zendesk, type: ticket.updated}", actions: str = VALID_ACTION, extra: str = ""
) -> str:
    return f"rules:\n  - name: r\n    when: {when}\n{extra}    actions:\n{actions}"


def test_default_rules_load() -> None:
    rules = load_rules(None)

    assert [r.name for r in rules.rules][:2] == [
        "zendesk-ticket-links-jira-issues",
        "zendesk-ticket-unlinks-jira-issues",
    ]
    assert len(rules) == 5


def test_valid_rule_loads() -> None:
    rules = parse_rules(rule())

    assert len(rules) == 1
    assert rules.rules[0].line == 2


def test_yaml_syntax_error_names_its_line() -> None:
    problem = one_problem("rules:\n  - name: r\n    when: [unclosed\n")

    assert problem.line == 4
    assert "YAML syntax error" in problem.message


def test_empty_file_and_wrong_top_level() -> None:
    assert "empty" in one_problem("").message
    assert "must be a mapping" in one_problem("- just\n- a list\n").message
    assert one_problem("rules: []\nversion: 2\n") == RuleProblem(2, "version must be 1")
    assert "missing 'rules'" in one_problem("version: 1\n").message


def test_unknown_keys_at_every_level() -> None:
    text = rule(
        when="{source: zendesk, type: ticket.updated, iff: 'true'}",
        actions=VALID_ACTION + "        colour: blue\n",
        extra="    priority: 3\n",
    )
    problems = problems_of("extra: 1\n" + text)

    assert [(p.line, p.message.split(": ", 1)[-1]) for p in problems] == [
        (1, "unknown key 'extra' (allowed: rules, version)"),
        (4, "when: unknown key 'iff' (allowed: if, source, type)"),
        (5, "unknown key 'priority' (allowed: actions, as, description, for_each, name, when)"),
        (10, "unknown key 'colour' (allowed: issue_id, issue_key, ticket_id)"),
    ]


def test_unknown_action_kind() -> None:
    problem = one_problem(rule(actions="      - kind: zendesk.ticket.close\n        ticket_id: '1'\n"))

    assert problem.line == 5
    assert "unknown action kind 'zendesk.ticket.close'" in problem.message
    assert "zendesk.jira_link.create" in problem.message


def test_missing_kind_and_missing_params() -> None:
    problems = problems_of(
        rule(actions="      - ticket_id: '1'\n      - kind: jira.remote_link.upsert\n        issue: PROJ-1\n")
    )

    assert problems[0].line == 5
    assert "missing 'kind'" in problems[0].message
    missing = sorted(p.message.rsplit(" ", 1)[-1] for p in problems[1:])
    assert missing == ["'global_id'", "'title'", "'url'"]
    assert {p.line for p in problems[1:]} == {6}


def test_one_of_params() -> None:
    both = (
        "      - {kind: jsm.integration_action.delete, integration_id: i, action_name: a, action_id: '1'}\n"
    )
    neither = "      - {kind: jsm.integration_action.delete, integration_id: i}\n"
    problems = problems_of(rule(actions=both + neither))

    assert [(p.line, "exactly one of action_name, action_id" in p.message) for p in problems] == [
        (5, True),
        (6, True),
    ]


def test_literal_params_are_type_checked() -> None:
    actions = textwrap.indent(
        textwrap.dedent("""\
        - kind: jira_software.remote_link.submit
          id: z-1
          issue_keys: PROJ-1
          display_name: Zendesk
          url: https://example.zendesk.com/agent/tickets/1
          type: other
          update_sequence_number: "17"
        """),
        "      ",
    )
    problems = problems_of(rule(actions=actions))

    assert [(p.line, p.message.split(": ", 1)[1]) for p in problems] == [
        (7, "issue_keys must be a list, got str 'PROJ-1'"),
        (11, "update_sequence_number must be an integer, got str '17'"),
    ]


def test_template_syntax_errors() -> None:
    actions = lines(
        "      - kind: zendesk.jira_link.create",
        '        ticket_id: "{{ event.subject.id "',
        '        issue_key: "{% if %}"',
    )
    problems = problems_of(rule(actions=actions))

    assert [p.line for p in problems] == [6, 7]
    assert all("bad template" in p.message for p in problems)


def test_unquoted_template_gets_a_hint() -> None:
    actions = lines(
        "      - kind: zendesk.jira_link.create",
        "        ticket_id: {{ event.subject.id }}",
        "        issue_key: X-1",
    )
    problem = one_problem(rule(actions=actions))

    assert problem.line == 6
    assert "must be quoted" in problem.message


def test_unknown_names_and_settings_fields() -> None:
    actions = (
        "      - kind: zendesk.jira_link.create\n"
        '        ticket_id: "{{ evnt.subject.id }}"\n'
        '        issue_key: "{{ settings.zendesk_api_token }}"\n'
    )
    problems = problems_of(rule(actions=actions))

    assert problems[0].line == 6
    assert "unknown name 'evnt' (known: event, linked, settings)" in problems[0].message
    assert problems[1].line == 7
    assert "settings has no 'zendesk_api_token'" in problems[1].message


def test_bad_when_clauses() -> None:
    text = textwrap.dedent("""\
        rules:
          - name: a
            when: {source: zendsk, type: ticket.updated}
            actions:
              - {kind: zendesk.jira_link.create, ticket_id: "1", issue_key: X-1}
          - name: b
            when: {source: jira, type: ticket.updated}
            actions:
              - {kind: zendesk.jira_link.create, ticket_id: "1", issue_key: X-1}
          - name: c
            when: {source: jira, if: "{{ event.type }}"}
            actions:
              - {kind: zendesk.jira_link.create, ticket_id: "1", issue_key: X-1}
          - name: d
            when: {type: issue.*, if: "event.type ==="}
            actions:
              - {kind: zendesk.jira_link.create, ticket_id: "1", issue_key: X-1}
          - name: e
            when: jira
            actions:
              - {kind: zendesk.jira_link.create, ticket_id: "1", issue_key: X-1}
        """)
    problems = problems_of(text)

    assert [(p.line, p.message) for p in problems] == [
        (3, "rule 'a': when.source must be one of jira, zendesk, got 'zendsk'"),
        (
            7,
            "rule 'b': when.type 'ticket.updated' matches no jira event type (comment.created, comment.deleted,"
            " comment.updated, issue.created, issue.deleted, issue.updated, issuelink.created, issuelink.deleted)",
        ),
        (11, "rule 'c': when.if: write a condition or for_each as a bare expression, without {{ }} or {% %}"),
        (15, "rule 'd': when: missing 'source'"),
        (15, "rule 'd': when.if: bad expression: unexpected '='"),
        (19, "rule 'e': when must be a mapping, got 'jira'"),
    ]


def test_for_each_and_as() -> None:
    text = textwrap.dedent("""\
        rules:
          - name: lonely
            when: {source: jira, type: issue.updated}
            for_each: event.refs.zendesk_ticket_ids
            actions:
              - {kind: zendesk.jira_link.create, ticket_id: "1", issue_key: X-1}
          - name: shadowing
            when: {source: jira, type: issue.updated}
            for_each: event.refs.zendesk_ticket_ids
            as: event
            actions:
              - {kind: zendesk.jira_link.create, ticket_id: "1", issue_key: X-1}
          - name: loop-var-outside
            when: {source: jira, type: issue.updated}
            for_each: ticket
            as: ticket
            actions:
              - {kind: zendesk.jira_link.create, ticket_id: "{{ ticket }}", issue_key: X-1}
        """)
    problems = problems_of(text)

    assert [(p.line, p.message.split(": ", 1)[1][:30]) for p in problems] == [
        (2, "for_each and as go together (a"),
        (10, "as must be a lower-case name o"),
        (15, "for_each: unknown name 'ticket"),
    ]


def test_duplicate_rule_names_and_keys() -> None:
    text = textwrap.dedent("""\
        rules:
          - name: same
            when: {source: jira, type: issue.updated}
            actions: [{kind: zendesk.jira_link.create, ticket_id: "1", issue_key: X-1}]
          - name: same
            name: again
            when: {source: jira, type: issue.updated}
            actions: [{kind: zendesk.jira_link.create, ticket_id: "1", issue_key: X-1}]
        """)
    problems = problems_of(text)

    assert [(p.line, p.message) for p in problems] == [
        (5, "rule name 'same' is used twice (first on line 2)"),
        (6, "rule #2: 'name' is given twice (the first is on line 5)"),
    ]


def test_empty_actions_and_wrong_shapes() -> None:
    problems = problems_of(
        rule(actions="") + "  - name: s\n    when: {source: jira}\n    actions: []\n  - 7\n"
    )

    assert problems == [
        RuleProblem(4, "rule 'r': actions must be a list, got nothing"),
        RuleProblem(7, "rule 's': actions must not be empty"),
        RuleProblem(8, "rule #3 must be a mapping, got 7"),
    ]


def test_block_scalar_template_line() -> None:
    actions = (
        "      - kind: zendesk.jira_link.create\n"
        "        ticket_id: >-\n"
        "          {{ nothing }}\n"
        "        issue_key: X-1\n"
    )
    problem = one_problem(rule(actions=actions))

    assert problem.line == 7


def test_error_message_lists_every_problem(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(rule(when="{source: zendsk}", actions="      - kind: nope\n"))

    with pytest.raises(RulesError) as caught:
        load_rules(str(path))

    lines = str(caught.value).splitlines()
    assert lines[:2] == [
        f"{path}: 2 problems",
        f"{path}:3: rule 'r': when.source must be one of jira, zendesk, got 'zendsk'",
    ]
    assert lines[2].startswith(f"{path}:5: rule 'r', action #1: unknown action kind 'nope' (known: jira.")
    assert len(lines) == 3


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(RulesError) as caught:
        load_rules(str(tmp_path / "missing.yaml"))

    assert caught.value.problems[0].line is None
    assert "cannot read the rules file" in caught.value.problems[0].message


def test_when_without_type_matches_every_type_of_its_source() -> None:
    rules = parse_rules(rule(when="{source: jira}"))

    assert rules.accepts_type("jira", "comment.deleted")
    assert rules.accepts_type("jira", "issuelink.created")
    assert not rules.accepts_type("zendesk", "comment.created")


def test_type_globs_and_lists() -> None:
    rules = parse_rules(rule(when="{source: jira, type: [comment.*, issue.deleted]}"))

    assert rules.accepts_type("jira", "comment.updated")
    assert not rules.accepts_type("jira", "issuelink.created")
    rule_ = rules.rules[0]
    assert rule_.when.matches("jira", "issue.deleted")
    assert not rule_.when.matches("jira", "issue.updated")
