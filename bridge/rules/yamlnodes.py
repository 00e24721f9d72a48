"""Reading YAML with line numbers: the node tree keeps each value's position, so problems name lines.

PyYAML's ``compose`` gives nodes with marks; this module walks them, collects every problem it meets
(instead of stopping at the first) and constructs plain values where a caller needs them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from bridge.rules.problems import RuleProblem

_TEMPLATE_HINT = '(a value starting with {{ must be quoted, e.g. summary: "{{ event.data.subject }}")'


def line_of(node: Node) -> int:
    """Return the 1-based line a node starts on."""
    return int(node.start_mark.line) + 1


class NodeReader:
    """Walks a composed YAML document and collects problems with their lines."""

    def __init__(self) -> None:
        self.problems: list[RuleProblem] = []
        self._constructor = yaml.SafeLoader("")

    def add(self, node: Node | None, message: str, line: int | None = None) -> None:
        """Record a problem at ``line``, else at ``node``'s line."""
        if line is None and node is not None:
            line = line_of(node)
        self.problems.append(RuleProblem(line, message))

    def compose(self, text: str) -> Node | None:
        """Parse ``text`` into a node tree; on a syntax error record it and return None."""
        try:
            return yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = int(mark.line) + 1 if mark is not None else None
            self.problems.append(RuleProblem(line, f"YAML syntax error: {exc.problem or exc}"))
        except yaml.YAMLError as exc:
            self.problems.append(RuleProblem(None, f"YAML error: {exc}"))
        return None

    def mapping(self, node: Node, what: str) -> dict[str, Node] | None:
        """Return a mapping node's entries by key; record non-string and duplicate keys."""
        if not isinstance(node, MappingNode):
            self.add(node, f"{what} must be a mapping, got {_kind(node)}")
            return None
        entries: dict[str, Node] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                hint = f" {_TEMPLATE_HINT}" if isinstance(key_node, MappingNode) else ""
                self.add(key_node, f"{what}: keys must be plain names{hint}")
                continue
            key = str(key_node.value)
            if key in entries:
                self.add(
                    key_node, f"{what}: {key!r} is given twice (the first is on line {line_of(entries[key])})"
                )
                continue
            entries[key] = value_node
        return entries

    def sequence(self, node: Node, what: str) -> list[Node] | None:
        """Return a sequence node's items, or record that it is not a list."""
        if not isinstance(node, SequenceNode):
            self.add(node, f"{what} must be a list, got {_kind(node)}")
            return None
        return list(node.value)

    def keys(
        self,
        node: Node,
        entries: dict[str, Node],
        what: str,
        allowed: Iterable[str],
        required: Iterable[str] = (),
    ) -> bool:
        """Record unknown and missing keys of a mapping; return whether all required keys are there."""
        allowed = set(allowed)
        for key, value in entries.items():
            if key not in allowed:
                self.add(value, f"{what}: unknown key {key!r} (allowed: {', '.join(sorted(allowed))})")
        complete = True
        for key in required:
            if key not in entries:
                self.add(node, f"{what}: missing {key!r}")
                complete = False
        return complete

    def text(self, node: Node, what: str) -> str | None:
        """Return a scalar as a non-empty string, or record why it is not one."""
        value = self.value(node, what)
        if isinstance(value, str) and value.strip():
            return value
        if value is not INVALID:
            self.add(node, f"{what} must be a non-empty string, got {_kind(node)}")
        return None

    def value(self, node: Node, what: str) -> Any:
        """Construct the plain value of a node (``INVALID`` after recording a problem)."""
        try:
            return self._constructor.construct_object(node, deep=True)
        except yaml.constructor.ConstructorError as exc:
            hint = f" {_TEMPLATE_HINT}" if "unhashable" in str(exc.problem) else ""
            self.add(node, f"{what}: {exc.problem}{hint}")
            return INVALID


INVALID: Any = object()
"""What ``NodeReader.value`` returns for a node it could not construct."""


def _kind(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    if node.tag.endswith(":null"):
        return "nothing"
    return f"{node.value!r}" if node.tag.endswith(":str") else f"{node.value}"
