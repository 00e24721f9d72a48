"""Conditions and templates reach nothing but the event, the non-secret settings and ``linked``."""

from __future__ import annotations

import json
import textwrap

import pytest

from bridge.errors import RuleError, RulesError
from bridge.rules.context import RulesSettings
from bridge.rules.loader import parse_rules
from bridge.rules.model import Linked
from bridge.rules.ruleset import RuleSet
from tests.rules.events import CONNECT_SETTINGS, ticket


def one_rule(ticket_id: str, condition: str = "true") -> RuleSet:
    """Rules with one action whose ticket_id is the given template."""
    return parse_rules(
        textwrap.dedent(f"""\
        rules:
          - name: probe
            when: {{source: zendesk, type: "ticket.*", if: "{condition}"}}
            actions:
              - kind: zendesk.jira_link.create
                ticket_id: {json.dumps(ticket_id)}
                issue_key: PROJ-1
        """)
    )


def plan_error(ticket_id: str, condition: str = "true") -> RuleError:
    with pytest.raises(RuleError) as caught:
        one_rule(ticket_id, condition).plan(ticket(), CONNECT_SETTINGS, Linked())
    return caught.value


@pytest.mark.parametrize(
    "template",
    [
        "{{ ''.__class__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ event.__init__.__globals__ }}",
        "{{ settings._value }}",
        "{{ event['__class__'] }}",
        "{{ lipsum.__globals__ }}",
        "{{ (event | attr('get')).__self__ }}",
    ],
)
def test_private_attributes_are_refused_at_load(template: str) -> None:
    with pytest.raises(RulesError) as caught:
        one_rule(template)

    assert caught.value.problems
    assert all(p.line == 6 for p in caught.value.problems)


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ event | attr('__class__') }}", "SecurityError"),
        ("{{ event.data.update({'x': 1}) }}", "SecurityError"),
        ("{{ event.refs.jira_issue_keys.append('X-1') }}", "SecurityError"),
        ("{{ 'a{0.__class__}'.format(event) }}", "SecurityError"),
        ("{{ settings | attr('jira_api_token') }}", "UndefinedError"),
        # Sizes known only from the event (constant ones are refused at load: test_template_budget.py).
        ("{{ range(event.sequence) | list }}", "OverflowError"),
        ("{{ 'x' * event.sequence }}", "OverflowError"),
        ("{{ 2 ** (event.sequence // event.sequence * 100000) }}", "OverflowError"),
    ],
)
def test_escapes_are_refused_at_plan_time(template: str, expected: str) -> None:
    error = plan_error(template)

    assert expected in str(error)
    assert "rule 'probe', action #1 zendesk.jira_link.create (line 6)" in str(error)


def test_settings_view_has_no_secret() -> None:
    view = RulesSettings.of(CONNECT_SETTINGS)
    rendered = one_rule("{{ settings | string }}").rules[0].actions[0].params["ticket_id"]({"settings": view})

    assert "must-not-leak" not in rendered
    assert "Secret" not in rendered
    assert "connect_enabled=True" in rendered
    assert not any("token" in name or "secret" in name for name in vars(view))


def test_dict_keys_win_over_dict_methods() -> None:
    rules = one_rule("{{ event.data.items }}-{{ event.data.get('status') }}")
    event = ticket()
    event["data"]["items"] = "payload-items"

    planned = rules.plan(event, CONNECT_SETTINGS)

    assert planned[0].params["ticket_id"] == "payload-items-open"


def test_events_are_not_changed_by_rules() -> None:
    event = ticket()
    before = repr(event)

    with pytest.raises(RuleError):
        one_rule("{% set x = event.data.pop('status') %}{{ x }}").plan(event, CONNECT_SETTINGS)

    assert repr(event) == before


def test_connect_enabled_needs_key_and_secret() -> None:
    assert RulesSettings.of(CONNECT_SETTINGS).connect_enabled
    assert not RulesSettings.of(CONNECT_SETTINGS.replace(jira_connect_shared_secret=None)).connect_enabled
    assert not RulesSettings.of(CONNECT_SETTINGS.replace(jira_connect_app_key=None)).connect_enabled
