"""Plan how to make a JSM ops integration's actions match a file (``bridge jsm apply``): pure, no I/O.

Actions are matched by name. The plan creates the missing ones, patches only the fields that differ,
deletes the ones the file does not list, and moves actions into the file's order with ``successorId``
(the action that should come right after; https://developer.atlassian.com/cloud/jira/service-desk-ops/rest/v2/api-group-integration-actions/).
Applied, a plan makes the next one empty.

Fields are compared "as far as the file says": a field or nested key the file leaves out is kept as the
integration has it, so defaults that JSM fills in (``typeSpecificProperties``...) never look like drift.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bridge.errors import RulesError
from bridge.rules.problems import RuleProblem
from bridge.rules.yamlnodes import INVALID, NodeReader, line_of

PATCHABLE = ("enabled", "filter", "typeSpecificProperties", "fieldMappings", "actionMapping")
"""Fields PATCH …/actions/{id} can change (besides the name, which is how actions are matched)."""

FIXED = ("type", "domain", "direction", "groupType", "extraField")
"""Fields set at creation only: a change replaces the action (delete, then create)."""

REQUIRED = ("name", "type", "domain", "direction", "filter")
"""Fields every action in the file must have (what creating one requires)."""


@dataclass(frozen=True)
class DesiredActions:
    """A file's actions, in the order the integration should have them."""

    actions: tuple[dict[str, Any], ...]
    integration_id: str | None = None


@dataclass(frozen=True)
class Create:
    """Create an action from the file."""

    name: str
    body: dict[str, Any]

    def describe(self) -> str:
        return f"create {self.name!r}"


@dataclass(frozen=True)
class Update:
    """Patch the fields of an existing action that differ from the file."""

    name: str
    action_id: str
    changes: dict[str, Any]

    def describe(self) -> str:
        return f"update {self.name!r} ({self.action_id}): {', '.join(sorted(self.changes))}"


@dataclass(frozen=True)
class Delete:
    """Delete an action (not in the file, a second one with the same name, or being replaced)."""

    name: str
    action_id: str
    reason: str

    def describe(self) -> str:
        return f"delete {self.name!r} ({self.action_id}): {self.reason}"


@dataclass(frozen=True)
class Move:
    """Move an action to just before another (both by name: created ones have no id before applying)."""

    name: str
    successor: str

    def describe(self) -> str:
        return f"move {self.name!r} before {self.successor!r}"


Step = Create | Update | Delete | Move


def plan_actions(desired: Sequence[dict[str, Any]], current: Sequence[dict[str, Any]]) -> list[Step]:
    """Return the steps that turn ``current`` (full actions, in order) into ``desired``, in apply order.

    Apply order: deletes (freeing names), updates, creates (each lands at the end), then moves.
    """
    wanted = {action["name"]: action for action in desired}
    deletes: list[Delete] = []
    kept: dict[str, dict[str, Any]] = {}
    for action in current:
        name = action.get("name", "")
        if name in kept:
            deletes.append(Delete(name, action["id"], "another action has this name"))
        elif name not in wanted:
            deletes.append(Delete(name, action["id"], "not in the file"))
        else:
            kept[name] = action
    updates: list[Update] = []
    creates: list[Create] = []
    for name, action in wanted.items():
        existing = kept.get(name)
        if existing is None:
            creates.append(Create(name, action))
            continue
        fixed = [
            field for field in FIXED if field in action and not matches(action[field], existing.get(field))
        ]
        if fixed:
            deletes.append(Delete(name, existing["id"], f"replaced: {', '.join(fixed)} cannot be changed"))
            del kept[name]
            creates.append(Create(name, action))
            continue
        changes = {
            field: action[field]
            for field in PATCHABLE
            if field in action and not matches(action[field], existing.get(field))
        }
        if changes:
            updates.append(Update(name, existing["id"], changes))
    # Creates land at the end of the list, in the order they are made.
    order_after = [action["name"] for action in current if action.get("name") in kept]
    order_after = list(dict.fromkeys(order_after)) + [create.name for create in creates]
    moves = plan_moves(order_after, [action["name"] for action in desired])
    return [*deletes, *updates, *creates, *moves]


def plan_moves(order: Sequence[str], desired: Sequence[str]) -> list[Move]:
    """Return the fewest moves "X before Y" that put the names of ``order`` into ``desired``'s order.

    The last desired action never moves (so no move needs a "to the end" without a successor, which the
    upstream documents nowhere); the others that already stand in a longest run of the right order stay.
    """
    if len(desired) < 2:
        return []
    position = {name: index for index, name in enumerate(order)}
    anchor = desired[-1]
    rank = {name: index for index, name in enumerate(desired)}
    # Candidates to stay: the actions before the anchor, in current order, ranked by their desired place.
    before_anchor = [name for name in order if position[name] < position[anchor]]
    staying = set(_longest_increasing(before_anchor, rank)) | {anchor}
    moves = []
    # Right to left, so each successor already stands where it belongs.
    for index in range(len(desired) - 2, -1, -1):
        name = desired[index]
        if name not in staying:
            moves.append(Move(name, desired[index + 1]))
    return moves


def _longest_increasing(names: Sequence[str], rank: dict[str, int]) -> list[str]:
    """Longest subsequence of ``names`` whose ranks increase (patience sorting, O(n log n))."""
    tails: list[int] = []  # tails[k]: index in names of the smallest tail of a run of length k+1
    tail_ranks: list[int] = []
    previous: list[int | None] = [None] * len(names)
    for i, name in enumerate(names):
        k = bisect.bisect_left(tail_ranks, rank[name])
        previous[i] = tails[k - 1] if k > 0 else None
        if k == len(tails):
            tails.append(i)
            tail_ranks.append(rank[name])
        else:
            tails[k] = i
            tail_ranks[k] = rank[name]
    run: list[str] = []
    cursor = tails[-1] if tails else None
    while cursor is not None:
        run.append(names[cursor])
        cursor = previous[cursor]
    return run[::-1]


def matches(wanted: Any, actual: Any) -> bool:
    """Tell whether ``actual`` has everything ``wanted`` says (mappings: the keys given; lists: item by item)."""
    if isinstance(wanted, dict):
        return isinstance(actual, dict) and all(
            key in actual and matches(value, actual[key]) for key, value in wanted.items()
        )
    if isinstance(wanted, list):
        return (
            isinstance(actual, list)
            and len(wanted) == len(actual)
            and all(matches(w, a) for w, a in zip(wanted, actual, strict=True))
        )
    if isinstance(wanted, bool) or isinstance(actual, bool):
        # True == 1 in Python, but enabled: true is not the number 1.
        return wanted is actual
    return bool(wanted == actual)


def load_desired(path: str) -> DesiredActions:
    """Read a YAML or JSON file of actions; raise ``RulesError`` listing every problem with its line."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RulesError([RuleProblem(None, f"cannot read the file: {exc}")], path) from exc
    return parse_desired(text, path)


def parse_desired(text: str, path: str = "<actions>") -> DesiredActions:
    """Validate an actions file given as text (YAML, or JSON, which is YAML too)."""
    reader = NodeReader()
    root = reader.compose(text)
    desired = None
    if root is None and not reader.problems:
        reader.add(None, "the file is empty (expected a mapping with an 'actions' list)")
    elif root is not None:
        desired = _read(reader, root)
    if reader.problems or desired is None:
        raise RulesError(sorted(reader.problems, key=lambda problem: problem.line or 0), path)
    return desired


_TYPES: dict[str, tuple[type, str]] = {
    **dict.fromkeys(("type", "domain", "direction", "groupType", "extraField"), (str, "text")),
    **dict.fromkeys(
        ("filter", "typeSpecificProperties", "fieldMappings", "actionMapping"), (dict, "a mapping")
    ),
    "enabled": (bool, "true or false"),
}


def _check_types(reader: NodeReader, fields: dict[str, Any], value: dict[str, Any], what: str) -> bool:
    ok = True
    for key, (python_type, label) in _TYPES.items():
        if key in value and not isinstance(value[key], python_type):
            reader.add(fields[key], f"{what}: {key} must be {label}")
            ok = False
    return ok


def _read(reader: NodeReader, root: Any) -> DesiredActions | None:
    entries = reader.mapping(root, "the file")
    if entries is None or not reader.keys(
        root, entries, "the file", ("integration_id", "actions"), ("actions",)
    ):
        return None
    integration_id = None
    if "integration_id" in entries:
        integration_id = reader.text(entries["integration_id"], "integration_id")
    items = reader.sequence(entries["actions"], "actions")
    if items is None:
        return None
    actions: list[dict[str, Any]] = []
    first_line: dict[str, int] = {}
    for number, node in enumerate(items, 1):
        what = f"action #{number}"
        fields = reader.mapping(node, what)
        if fields is None:
            continue
        complete = reader.keys(node, fields, what, ("name", *FIXED, *PATCHABLE), REQUIRED)
        name = reader.text(fields["name"], f"{what}: name") if "name" in fields else None
        if name is not None:
            if name in first_line:
                reader.add(
                    fields["name"], f"{what}: name {name!r} is used twice (first on line {first_line[name]})"
                )
                complete = False
            first_line.setdefault(name, line_of(node))
        value = reader.value(node, what)
        if value is INVALID or not _check_types(reader, fields, value, what) or not complete or name is None:
            continue
        actions.append(value)
    return DesiredActions(tuple(actions), integration_id)
