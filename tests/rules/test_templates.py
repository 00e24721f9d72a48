"""Template semantics: native values, text, nesting, and plan-time errors that name rule and action."""

from __future__ import annotations

import json
import textwrap
from typing import Any

import pytest

from bridge.errors import RuleError
from bridge.rules.loader import parse_rules
from bridge.rules.model import Linked
from bridge.rules.ruleset import RuleSet
from tests.rules.events import SETTINGS, ticket


def jsm_rule(action: dict[str, Any], for_each: str | None = None) -> RuleSet:
    """Rules with one jsm.integration_action.create whose ``action`` parameter is given."""
    loop = f"    for_each: {json.dumps(for_each)}\n    as: item\n" if for_each else ""
    return parse_rules(
        "rules:\n"
        "  - name: probe\n"
        "    when: {source: zendesk}\n"
        f"{loop}"
        "    actions:\n"
        "      - kind: jsm.integration_action.create\n"
        "        integration_id: sandbox-integration\n"
        f"        action: {json.dumps(action)}\n"
    )


def rendered(action: dict[str, Any]) -> Any:
    planned = jsm_rule(action).plan(ticket(), SETTINGS, Linked(("PROJ-9",)))
    return planned[0].params["action"]


def test_single_expression_keeps_its_type() -> None:
    event = ticket()

    assert rendered(
        {
            "sequence": "{{ event.sequence }}",
            "keys": "{{ event.refs.jira_issue_keys }}",
            "linked": "{{ linked.jira_issue_keys | list }}",
            "solved": "{{ event.data.status == 'solved' }}",
            "nothing": "{{ none }}",
        }
    ) == {
        "sequence": event["sequence"],
        "keys": ["PROJ-1"],
        "linked": ["PROJ-9"],
        "solved": False,
        "nothing": None,
    }


def test_anything_else_is_text() -> None:
    assert rendered(
        {
            "prefixed": "#{{ event.subject.id }}",
            "two": "{{ event.subject.id }}{{ event.subject.id }}",
            "spaced": " {{ event.subject.id }} ",
            "plain": "no template",
            "number": 7,
        }
    ) == {"prefixed": "#5001", "two": "50015001", "spaced": " 5001 ", "plain": "no template", "number": 7}


def test_nested_values_are_rendered_and_raw_is_literal() -> None:
    assert rendered(
        {
            "fieldMappings": {
                "message": "{% raw %}{{subject}}{% endraw %}",
                "tags": ["{{ event.data.priority }}"],
            },
            "filter": {"conditions": [{"expectedValue": "{{ event.subject.id }}"}]},
        }
    ) == {
        "fieldMappings": {"message": "{{subject}}", "tags": ["high"]},
        "filter": {"conditions": [{"expectedValue": "5001"}]},
    }


def test_missing_field_names_rule_action_and_template() -> None:
    with pytest.raises(RuleError) as caught:
        rendered({"name": "{{ event.data.nope }}"})

    error = caught.value
    assert (error.rule, error.action, error.line) == ("probe", "#1 jsm.integration_action.create", 7)
    assert str(error) == (
        "rule 'probe', action #1 jsm.integration_action.create (line 7): action.name: UndefinedError:"
        " 'dict object' has no attribute 'nope' in '{{ event.data.nope }}'"
    )


def test_none_printed_into_text_is_an_error() -> None:
    with pytest.raises(RuleError, match="printed into the template is None"):
        rendered({"name": "action for {{ event.actor.name }}"})


def test_for_each_must_give_a_list() -> None:
    with pytest.raises(RuleError, match="for_each must give a list, got str"):
        jsm_rule({"name": "x"}, for_each="event.subject.id").plan(ticket(), SETTINGS)


def test_for_each_is_bounded() -> None:
    with pytest.raises(RuleError, match="for_each gave 5000 items"):
        jsm_rule({"name": "x"}, for_each="range(5000) | list").plan(ticket(), SETTINGS)


def test_for_each_item_is_visible_to_actions() -> None:
    planned = jsm_rule({"name": "{{ item }}"}, for_each="['a', 'b']").plan(ticket(), SETTINGS)

    assert [a.params["action"] for a in planned] == [{"name": "a"}, {"name": "b"}]


def test_condition_errors_name_the_rule() -> None:
    rules = parse_rules(
        textwrap.dedent("""\
        rules:
          - name: picky
            when: {source: zendesk, if: "event.data.nope == 1"}
            actions: [{kind: zendesk.jira_link.create, ticket_id: "1", issue_key: X-1}]
        """)
    )

    with pytest.raises(RuleError, match=r"rule 'picky' \(line 3\): when.if: UndefinedError"):
        rules.plan(ticket(), SETTINGS)


def test_rendered_type_errors_are_caught() -> None:
    rules = parse_rules(
        textwrap.dedent("""\
        rules:
          - name: typed
            when: {source: zendesk}
            actions:
              - kind: jira_software.remote_link.submit
                id: x
                issue_keys: "{{ event.subject.id }}"
                display_name: d
                url: u
                type: other
                update_sequence_number: "{{ event.sequence }}"
        """)
    )

    with pytest.raises(RuleError, match="issue_keys must be a list, got str '5001'"):
        rules.plan(ticket(), SETTINGS)


def test_optional_params_rendering_empty_are_left_out_required_ones_fail() -> None:
    rules = parse_rules(
        textwrap.dedent("""\
        rules:
          - name: optional
            when: {source: zendesk}
            actions:
              - kind: jira.remote_link.upsert
                issue: PROJ-1
                global_id: g
                url: u
                title: t
                summary: "{{ none }}"
                icon_url: ""
          - name: required
            when: {source: zendesk, type: ticket.deleted}
            actions:
              - {kind: jira.remote_link.delete, issue: "{{ none }}", global_id: g}
        """)
    )

    assert rules.plan(ticket(), SETTINGS)[0].params == {
        "issue": "PROJ-1",
        "global_id": "g",
        "url": "u",
        "title": "t",
    }
    deleted = ticket()
    deleted["type"] = "ticket.deleted"
    with pytest.raises(RuleError, match="issue must be text or a whole number, got NoneType None"):
        rules.plan(deleted, SETTINGS)


def test_identical_calls_from_two_rules_are_planned_once() -> None:
    rule = (
        "  - name: {}\n"
        "    when: {{source: zendesk}}\n"
        "    actions: [{{kind: zendesk.jira_link.create, ticket_id: 1, issue_key: X-1}}]\n"
    )
    rules = parse_rules("rules:\n" + rule.format("first") + rule.format("second"))

    planned = rules.plan(ticket(), SETTINGS)

    assert [(a.rule, a.params) for a in planned] == [("first", {"ticket_id": "1", "issue_key": "X-1"})]
