"""Load and validate a rules file: every problem is collected with its line before any rule runs."""

from __future__ import annotations

import fnmatch
import re
from importlib import resources
from pathlib import Path
from typing import Any

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from bridge.errors import RulesError
from bridge.event import EVENT_TYPES
from bridge.rules.params import coerce
from bridge.rules.problems import RuleProblem
from bridge.rules.ruleset import ActionTemplate, Rule, RuleSet, When
from bridge.rules.templates import CONTEXT_NAMES, ENVIRONMENT, Compiled, compile_expression, compile_template
from bridge.rules.yamlnodes import INVALID, NodeReader, line_of
from bridge.upstreams import action_specs

DEFAULT_RULES = "default.yaml"
"""The packaged rules used when BRIDGE_RULES is unset."""

SOURCES: dict[str, frozenset[str]] = {
    "jira": frozenset(t for t in EVENT_TYPES if not t.startswith("ticket.")),
    "zendesk": frozenset(t for t in EVENT_TYPES if t.startswith("ticket.")),
}
"""The event types each source produces (what a when-clause's ``type`` globs are checked against)."""

_RULE_KEYS = ("name", "description", "when", "for_each", "as", "actions")
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")
_TEMPLATE_MARKS = ("{{", "{%", "{#")


def load_rules(path: str | None = None) -> RuleSet:
    """Load the rules file at ``path`` (None: the packaged default); raise ``RulesError`` listing problems."""
    if path is None:
        text = resources.files(__package__).joinpath(DEFAULT_RULES).read_text(encoding="utf-8")
        return parse_rules(text, f"<default>/{DEFAULT_RULES}")
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RulesError([RuleProblem(None, f"cannot read the rules file: {exc}")], path) from exc
    return parse_rules(text, path)


def parse_rules(text: str, path: str = "<rules>") -> RuleSet:
    """Validate rules given as YAML text; ``path`` names them in messages."""
    reader = NodeReader()
    rules = _read_file(reader, reader.compose(text))
    if reader.problems:
        problems = sorted(reader.problems, key=lambda problem: problem.line or 0)
        raise RulesError(problems, path)
    return RuleSet(tuple(rules), path)


def _read_file(reader: NodeReader, root: Node | None) -> list[Rule]:
    if root is None:
        if not reader.problems:
            reader.add(None, "the rules file is empty (expected a mapping with a 'rules' list)")
        return []
    entries = reader.mapping(root, "the rules file")
    if entries is None or not reader.keys(root, entries, "the rules file", ("version", "rules"), ("rules",)):
        return []
    version = reader.value(entries["version"], "version") if "version" in entries else 1
    if type(version) is not int or version != 1:
        reader.add(entries["version"], "version must be 1")
    items = reader.sequence(entries["rules"], "rules")
    if items is None:
        return []
    rules = [rule for number, node in enumerate(items, 1) if (rule := _read_rule(reader, node, number))]
    _check_unique_names(reader, items)
    return rules


def _check_unique_names(reader: NodeReader, items: list[Node]) -> None:
    first_line: dict[str, int] = {}
    for node in items:
        if not isinstance(node, MappingNode):
            continue
        for key, value in node.value:
            if isinstance(key, ScalarNode) and key.value == "name" and isinstance(value, ScalarNode):
                name = str(value.value)
                if name in first_line:
                    reader.add(value, f"rule name {name!r} is used twice (first on line {first_line[name]})")
                first_line.setdefault(name, line_of(value))


def _read_rule(reader: NodeReader, node: Node, number: int) -> Rule | None:
    entries = reader.mapping(node, f"rule #{number}")
    if entries is None:
        return None
    name = reader.text(entries["name"], f"rule #{number}: name") if "name" in entries else None
    label = f"rule {name!r}" if name else f"rule #{number}"
    complete = reader.keys(node, entries, label, _RULE_KEYS, ("name", "when", "actions"))
    if "description" in entries:
        reader.text(entries["description"], f"{label}: description")
    when = _read_when(reader, entries["when"], label) if "when" in entries else None
    loop_name = _read_loop(reader, node, entries, label)
    names = CONTEXT_NAMES | {loop_name} if loop_name else CONTEXT_NAMES
    for_each = None
    if "for_each" in entries:
        for_each = _expression(reader, entries["for_each"], f"{label}: for_each", CONTEXT_NAMES)
    actions = _read_actions(reader, entries["actions"], label, names) if "actions" in entries else None
    if not complete or name is None or when is None or actions is None:
        return None
    return Rule(name, line_of(node), when, actions, for_each, loop_name)


def _read_when(reader: NodeReader, node: Node, label: str) -> When | None:
    what = f"{label}: when"
    entries = reader.mapping(node, what)
    if entries is None:
        return None
    complete = reader.keys(node, entries, what, ("source", "type", "if"), ("source",))
    source = reader.text(entries["source"], f"{what}.source") if "source" in entries else None
    if source is not None and source not in SOURCES:
        reader.add(entries["source"], f"{what}.source must be one of {', '.join(SOURCES)}, got {source!r}")
        source = None
    types = _read_types(reader, entries.get("type"), what, source)
    condition = None
    if "if" in entries:
        condition = _expression(reader, entries["if"], f"{what}.if", CONTEXT_NAMES)
        complete = complete and condition is not None
    if not complete or source is None or types is None:
        return None
    return When(source, types, condition)


def _read_types(
    reader: NodeReader, node: Node | None, what: str, source: str | None
) -> tuple[str, ...] | None:
    if node is None:
        return ("*",)
    value = reader.value(node, f"{what}.type")
    globs = [value] if isinstance(value, str) else value
    if not isinstance(globs, list) or not globs or not all(isinstance(g, str) and g for g in globs):
        if value is not INVALID:
            reader.add(
                node, f"{what}.type must be an event type or a list of them (globs like ticket.* allowed)"
            )
        return None
    known = SOURCES.get(source or "", frozenset())
    problems = False
    for glob in globs:
        if source is not None and not any(fnmatch.fnmatchcase(t, glob) for t in known):
            reader.add(
                node, f"{what}.type {glob!r} matches no {source} event type ({', '.join(sorted(known))})"
            )
            problems = True
    return None if problems else tuple(globs)


def _read_loop(reader: NodeReader, node: Node, entries: dict[str, Node], label: str) -> str | None:
    if ("for_each" in entries) != ("as" in entries):
        reader.add(node, f"{label}: for_each and as go together (as names the loop variable)")
        return None
    if "as" not in entries:
        return None
    loop_name = reader.text(entries["as"], f"{label}: as")
    if loop_name is None:
        return None
    if not _IDENTIFIER.match(loop_name) or loop_name in CONTEXT_NAMES or loop_name in ENVIRONMENT.globals:
        reader.add(
            entries["as"],
            f"{label}: as must be a lower-case name other than {', '.join(sorted(CONTEXT_NAMES))},"
            f" got {loop_name!r}",
        )
        return None
    return loop_name


def _read_actions(
    reader: NodeReader, node: Node, label: str, names: frozenset[str]
) -> tuple[ActionTemplate, ...] | None:
    items = reader.sequence(node, f"{label}: actions")
    if items is None:
        return None
    if not items:
        reader.add(node, f"{label}: actions must not be empty")
        return None
    actions = [_read_action(reader, item, label, number, names) for number, item in enumerate(items, 1)]
    return tuple(action for action in actions if action is not None) if all(actions) else None


def _read_action(
    reader: NodeReader, node: Node, label: str, number: int, names: frozenset[str]
) -> ActionTemplate | None:
    what = f"{label}, action #{number}"
    entries = reader.mapping(node, what)
    if entries is None:
        return None
    known = action_specs()
    if "kind" not in entries:
        reader.add(node, f"{what}: missing 'kind' (one of: {', '.join(known)})")
        return None
    kind = reader.text(entries["kind"], f"{what}: kind")
    if kind is None:
        return None
    spec = known.get(kind)
    if spec is None:
        reader.add(entries["kind"], f"{what}: unknown action kind {kind!r} (known: {', '.join(known)})")
        return None
    what = f"{label}, action #{number} ({kind})"
    given = {key: value for key, value in entries.items() if key != "kind"}
    ok = reader.keys(node, given, what, spec.params, spec.required)
    for group in spec.one_of:
        present = [name for name in group if name in given]
        if len(present) != 1:
            reader.add(node, f"{what}: give exactly one of {', '.join(group)}")
            ok = False
    params: dict[str, Any] = {}
    for key, value_node in given.items():
        if key not in spec.params:
            continue
        param = _read_param(reader, value_node, f"{what}: {key}", names)
        if param is INVALID:
            ok = False
            continue
        # An optional parameter written empty is left out at plan time, as one rendering empty is.
        left_out = key not in spec.required and param in (None, "")
        if not left_out and not _contains_template(param):
            try:
                param = coerce(key, spec.params[key], param)
            except ValueError as exc:
                reader.add(value_node, f"{what}: {exc}")
                ok = False
        params[key] = param
    return ActionTemplate(spec, params, line_of(node), f"#{number} {kind}") if ok else None


def _read_param(reader: NodeReader, node: Node, what: str, names: frozenset[str]) -> Any:
    """Return a parameter's value with every string that holds a template compiled."""
    value = reader.value(node, what)
    if value is INVALID:
        return INVALID
    return _compile_tree(reader, node, value, what, names)


def _compile_tree(reader: NodeReader, node: Node, value: Any, what: str, names: frozenset[str]) -> Any:
    if isinstance(value, str) and any(mark in value for mark in _TEMPLATE_MARKS):
        compiled, problems = compile_template(value, _template_line(node), names)
        for problem in problems:
            reader.add(node, f"{what}: {problem}", _template_line(node))
        return compiled if compiled is not None else INVALID
    children = _children(node)
    if isinstance(value, dict):
        compiled_dict = {
            key: _compile_tree(reader, children.get(key, node), item, f"{what}.{key}", names)
            for key, item in value.items()
        }
        return INVALID if INVALID in compiled_dict.values() else compiled_dict
    if isinstance(value, list):
        nodes = list(node.value) if isinstance(node, SequenceNode) else [node] * len(value)
        compiled_list = [
            _compile_tree(reader, child, item, f"{what}[{i}]", names)
            for i, (child, item) in enumerate(zip(nodes, value, strict=True))
        ]
        return INVALID if any(item is INVALID for item in compiled_list) else compiled_list
    return value


def _children(node: Node) -> dict[Any, Node]:
    """Value nodes of a mapping node by key, so nested problems keep their own lines."""
    if isinstance(node, MappingNode):
        return {key.value: child for key, child in node.value if isinstance(key, ScalarNode)}
    return {}


def _contains_template(value: Any) -> bool:
    if isinstance(value, Compiled):
        return True
    if isinstance(value, dict):
        return any(_contains_template(item) for item in value.values())
    if isinstance(value, list):
        return any(_contains_template(item) for item in value)
    return False


def _expression(reader: NodeReader, node: Node, what: str, names: frozenset[str]) -> Compiled | None:
    value = reader.value(node, what)
    if isinstance(value, bool):
        constant: bool = value
        return Compiled(str(constant).lower(), line_of(node), lambda _context: constant)
    if not isinstance(value, str) or not value.strip():
        if value is not INVALID:
            reader.add(node, f"{what} must be an expression (text)")
        return None
    compiled, problems = compile_expression(value.strip(), _template_line(node), names)
    for problem in problems:
        reader.add(node, f"{what}: {problem}", _template_line(node))
    return compiled


def _template_line(node: Node) -> int:
    # A block scalar (| or >) starts on the line after its indicator.
    return line_of(node) + (1 if isinstance(node, ScalarNode) and node.style in ("|", ">") else 0)
