"""``bridge/upstreams/jsm/apply.py``: the pure planner behind ``bridge jsm apply``."""

from __future__ import annotations

import copy
import itertools
import json
import random
from typing import Any

import pytest

from bridge.errors import RulesError
from bridge.rules.problems import RuleProblem
from bridge.upstreams.jsm.apply import (
    Create,
    Delete,
    Move,
    Step,
    Update,
    parse_desired,
    plan_actions,
    plan_moves,
)

FILTER = {"conditionsEmpty": True, "conditionMatchType": "match-all", "conditions": []}


def action(name: str, **fields: Any) -> dict[str, Any]:
    """A desired action as a file would give it."""
    return {
        "name": name,
        "type": "create",
        "domain": "alert",
        "direction": "incoming",
        "filter": FILTER,
        **fields,
    }


class FakeIntegration:
    """Applies steps as JSM does (creates go to the end; a move puts an action before its successor)."""

    def __init__(self, actions: list[dict[str, Any]]) -> None:
        self.ids = itertools.count(1000)
        self.actions = [self._stored(a) for a in actions]

    def _stored(self, body: dict[str, Any]) -> dict[str, Any]:
        # JSM fills in defaults the file never mentions.
        stored = copy.deepcopy(body)
        stored["id"] = str(next(self.ids))
        stored.setdefault("enabled", False)
        stored["typeSpecificProperties"] = {
            "keepTagsFromPayload": True,
            **body.get("typeSpecificProperties", {}),
        }
        stored["filter"] = {**body["filter"], "conditionsEmpty": not body["filter"].get("conditions")}
        return stored

    def apply(self, steps: list[Step]) -> None:
        for step in steps:
            if isinstance(step, Delete):
                self.actions = [a for a in self.actions if a["id"] != step.action_id]
            elif isinstance(step, Update):
                next(a for a in self.actions if a["id"] == step.action_id).update(copy.deepcopy(step.changes))
            elif isinstance(step, Create):
                self.actions.append(self._stored(step.body))
            else:
                moving = next(a for a in self.actions if a["name"] == step.name)
                self.actions.remove(moving)
                index = next(i for i, a in enumerate(self.actions) if a["name"] == step.successor)
                self.actions.insert(index, moving)

    @property
    def names(self) -> list[str]:
        return [a["name"] for a in self.actions]


def test_empty_integration_gets_everything_created_in_order() -> None:
    desired = [action("a"), action("b", enabled=True)]

    steps = plan_actions(desired, [])

    assert steps == [Create("a", desired[0]), Create("b", desired[1])]


def test_second_run_plans_nothing_despite_server_defaults() -> None:
    desired = [action("a", enabled=True, typeSpecificProperties={}), action("b"), action("c")]
    integration = FakeIntegration([action("c"), action("x")])

    integration.apply(plan_actions(desired, integration.actions))

    assert integration.names == ["a", "b", "c"]
    assert plan_actions(desired, integration.actions) == []


def test_only_changed_fields_are_patched() -> None:
    integration = FakeIntegration([action("a", fieldMappings={"message": "{{subject}}"})])
    desired = [action("a", enabled=True, fieldMappings={"message": "{{subject}}"})]

    steps = plan_actions(desired, integration.actions)

    assert steps == [Update("a", integration.actions[0]["id"], {"enabled": True})]


def test_nested_change_patches_the_whole_field() -> None:
    mappings = {"message": "{{subject}}", "priority": "P3"}
    integration = FakeIntegration([action("a", fieldMappings=mappings)])
    desired = [action("a", fieldMappings={**mappings, "priority": "P1"})]

    steps = plan_actions(desired, integration.actions)

    assert steps == [
        Update("a", integration.actions[0]["id"], {"fieldMappings": {**mappings, "priority": "P1"}})
    ]


def test_true_is_not_one() -> None:
    integration = FakeIntegration([action("a", fieldMappings={"count": 1})])

    steps = plan_actions([action("a", fieldMappings={"count": True})], integration.actions)

    assert [type(step) for step in steps] == [Update]


def test_extra_and_duplicate_actions_are_deleted() -> None:
    integration = FakeIntegration([action("a"), action("old"), action("a")])
    ids = [a["id"] for a in integration.actions]

    steps = plan_actions([action("a")], integration.actions)

    assert steps == [
        Delete("old", ids[1], "not in the file"),
        Delete("a", ids[2], "another action has this name"),
    ]


def test_fixed_field_change_replaces_the_action() -> None:
    integration = FakeIntegration([action("a"), action("b")])
    desired = [action("a", type="close"), action("b")]

    steps = plan_actions(desired, integration.actions)

    assert steps == [
        Delete("a", integration.actions[0]["id"], "replaced: type cannot be changed"),
        Create("a", desired[0]),
        Move("a", "b"),
    ]
    integration.apply(steps)
    assert integration.names == ["a", "b"]
    assert integration.actions[0]["type"] == "close"


def test_reorder_uses_successors() -> None:
    integration = FakeIntegration([action(n) for n in "abcd"])

    steps = plan_actions([action(n) for n in "dabc"], integration.actions)

    assert steps == [Move("d", "a")]


def test_last_action_never_needs_a_move_to_the_end() -> None:
    steps = plan_moves(["b", "a", "c"], ["a", "c", "b"])

    assert all(step.successor is not None for step in steps)
    assert steps == [Move("c", "b"), Move("a", "c")]


@pytest.mark.parametrize("seed", range(30))
def test_moves_reach_any_order(seed: int) -> None:
    rng = random.Random(seed)
    names = [f"n{i}" for i in range(rng.randint(1, 12))]
    current = names[:]
    rng.shuffle(current)
    integration = FakeIntegration([action(n) for n in current])

    moves = plan_moves(current, names)
    integration.apply(list(moves))

    assert integration.names == names
    assert len(moves) <= max(len(names) - 1, 0)


def test_file_problems_are_listed_with_lines() -> None:
    text = (
        "integration_id: sandbox-integration\n"
        "actions:\n"
        "  - name: a\n"
        "    type: create\n"
        "    domain: alert\n"
        "    direction: incoming\n"
        "  - name: b\n"
        "    type: create\n"
        "    domain: alert\n"
        "    direction: incoming\n"
        "    filter: {}\n"
        "    enabled: yes please\n"
        "    colour: red\n"
        "  - name: b\n"
        "    type: create\n"
        "    domain: alert\n"
        "    direction: incoming\n"
        "    filter: {}\n"
    )

    with pytest.raises(RulesError) as caught:
        parse_desired(text, "actions.yaml")

    assert caught.value.problems == [
        RuleProblem(3, "action #1: missing 'filter'"),
        RuleProblem(12, "action #2: enabled must be true or false"),
        RuleProblem(
            13,
            "action #2: unknown key 'colour' (allowed: actionMapping, direction, domain, enabled, extraField,"
            " fieldMappings, filter, groupType, name, type, typeSpecificProperties)",
        ),
        RuleProblem(14, "action #3: name 'b' is used twice (first on line 7)"),
    ]


def test_json_files_are_read_too() -> None:
    desired = parse_desired(json.dumps({"actions": [action("a"), action("b")]}))

    assert [a["name"] for a in desired.actions] == ["a", "b"]
    assert desired.integration_id is None


def test_empty_and_broken_files() -> None:
    with pytest.raises(RulesError, match="empty"):
        parse_desired("")
    with pytest.raises(RulesError, match="YAML syntax error"):
        parse_desired("actions: [\n")
