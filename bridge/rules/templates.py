"""Rule conditions and templates: Jinja2 in an immutable sandbox, strict about undefined values.

Rules are written by operators but fed with data from webhooks, so evaluation can reach nothing but the
context it is given (``event``, ``settings``, ``linked`` and a loop variable): no attribute outside those
values' own fields and a few pure methods, no I/O, no mutation. A template that is exactly one
``{{ expr }}`` gives the expression's native value (a list stays a list); any other template gives a string.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from jinja2 import StrictUndefined, TemplateError, Undefined, nodes
from jinja2.meta import find_undeclared_variables
from jinja2.sandbox import ImmutableSandboxedEnvironment

from bridge.rules.context import LINKED_FIELDS, SETTINGS_FIELDS

CONTEXT_NAMES = frozenset({"event", "settings", "linked"})
"""Names every condition and template may use (plus the rule's loop variable)."""

MAX_SEQUENCE_LENGTH = 100_000
"""Longest string or list a ``*`` may build (the sandbox otherwise lets ``'x' * 10**10`` exhaust memory)."""

# Pure methods of plain values that conditions may call; everything else (and every _name) is refused.
_SAFE_METHODS: dict[type, frozenset[str]] = {
    str: frozenset(
        {
            *("capitalize", "casefold", "count", "endswith", "find", "isdigit", "isalpha", "isalnum"),
            *("islower", "isupper", "join", "lower", "lstrip", "partition", "removeprefix", "removesuffix"),
            *("replace", "rfind", "rsplit", "rstrip", "split", "splitlines", "startswith", "strip", "title"),
            *("upper", "zfill"),
        }
    ),
    dict: frozenset({"get", "keys", "values", "items"}),
    list: frozenset({"count", "index"}),
    tuple: frozenset({"count", "index"}),
}
_FIELDS_OF: dict[str, frozenset[str]] = {"settings": SETTINGS_FIELDS, "linked": LINKED_FIELDS}
_SINGLE_EXPRESSION = re.compile(r"\A\s*\{\{-?(?P<expr>.*?)-?\}\}\s*\Z", re.DOTALL)


class _Environment(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**"})

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if not super().is_safe_attribute(obj, attr, value):
            return False
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            return attr in {f.name for f in dataclasses.fields(obj)}
        return attr in _SAFE_METHODS.get(type(obj), frozenset())

    def getattr(self, obj: Any, attribute: str) -> Any:
        # `event.data.items` must be the payload's "items", not dict.items.
        if isinstance(obj, dict) and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(right, int) and abs(right) > 64:
            raise OverflowError("exponent larger than 64 is not allowed in rules")
        if operator == "*":
            size = _repeat_size(left, right)
            if size > MAX_SEQUENCE_LENGTH:
                raise OverflowError(f"'*' would build a value of {size} items (limit {MAX_SEQUENCE_LENGTH})")
        return super().call_binop(context, operator, left, right)


def _repeat_size(left: Any, right: Any) -> int:
    for sequence, count in ((left, right), (right, left)):
        if isinstance(sequence, str | list | tuple) and isinstance(count, int):
            return len(sequence) * count
    return 0


def _objects(values: Iterable[Any], key: str, **constants: Any) -> list[dict[str, Any]]:
    """Filter: ``['a', 'b'] | objects('soid', son='Case')`` → ``[{'soid': 'a', 'son': 'Case'}, ...]``."""
    return [{key: value, **constants} for value in values]


def _no_none(value: Any) -> Any:
    # Printing None into a string is almost always an unset setting or a missing field: say so.
    if value is None:
        raise TemplateError("a value printed into the template is None (an unset setting or empty field?)")
    return value


def _build_environment() -> _Environment:
    env = _Environment(undefined=StrictUndefined, autoescape=False, finalize=_no_none)
    for name in ("lipsum", "cycler", "joiner"):
        env.globals.pop(name, None)
    env.filters["objects"] = _objects
    return env


ENVIRONMENT = _build_environment()


class Compiled:
    """A compiled condition or template, with the source and YAML line it came from."""

    def __init__(self, source: str, line: int | None, evaluate: Callable[[Mapping[str, Any]], Any]) -> None:
        self.source = source
        self.line = line
        self._evaluate = evaluate

    def __call__(self, context: Mapping[str, Any]) -> Any:
        """Evaluate with ``context``; raise ``jinja2`` errors (UndefinedError, SecurityError, ...)."""
        return _defined(self._evaluate(context))


def _defined(value: Any) -> Any:
    """Raise for an undefined value anywhere in a native result (``[event.nope]`` is not a list of one)."""
    if isinstance(value, Undefined):
        str(value)  # StrictUndefined raises UndefinedError naming what was missing
    elif isinstance(value, list | tuple):
        for item in value:
            _defined(item)
    elif isinstance(value, dict):
        for item in value.values():
            _defined(item)
    return value


def compile_expression(
    source: str, line: int | None, names: frozenset[str]
) -> tuple[Compiled | None, list[str]]:
    """Compile a bare expression (``if``, ``for_each``); return it, or None and what is wrong."""
    if "{{" in source or "{%" in source:
        return None, ["write a condition or for_each as a bare expression, without {{ }} or {% %}"]
    try:
        ast = ENVIRONMENT.parse(f"{{{{ {source} }}}}")
        problems = _static_problems(ast, names)
        expression = ENVIRONMENT.compile_expression(source, undefined_to_none=False)
    except TemplateError as exc:
        return None, [f"bad expression: {exc.message or exc}"]
    if problems:
        return None, problems
    return Compiled(source, line, lambda context: expression(**context)), []


def compile_template(
    source: str, line: int | None, names: frozenset[str]
) -> tuple[Compiled | None, list[str]]:
    """Compile a parameter template; exactly one ``{{ expr }}`` gives a native value, else a string."""
    try:
        ast = ENVIRONMENT.parse(source)
        problems = _static_problems(ast, names)
        single = _SINGLE_EXPRESSION.match(source)
        if single and _is_single_output(ast):
            expression = ENVIRONMENT.compile_expression(single.group("expr"), undefined_to_none=False)
            evaluate: Callable[[Mapping[str, Any]], Any] = lambda context: expression(**context)  # noqa: E731
        else:
            template = ENVIRONMENT.from_string(ast)
            evaluate = template.render
    except TemplateError as exc:
        return None, [f"bad template: {exc.message or exc}"]
    if problems:
        return None, problems
    return Compiled(source, line, evaluate), []


def _is_single_output(ast: nodes.Template) -> bool:
    return (
        len(ast.body) == 1
        and isinstance(ast.body[0], nodes.Output)
        and len(ast.body[0].nodes) == 1
        and not isinstance(ast.body[0].nodes[0], nodes.TemplateData)
    )


def _static_problems(ast: nodes.Template, names: frozenset[str]) -> list[str]:
    """Find, before any event arrives, unknown names, private attributes and unknown settings fields."""
    problems = []
    for name in sorted(find_undeclared_variables(ast) - names - set(ENVIRONMENT.globals)):
        problems.append(f"unknown name {name!r} (known: {', '.join(sorted(names))})")
    for node in ast.find_all((nodes.Getattr, nodes.Getitem)):
        attr, owner = _attribute(node)
        if attr is None:
            continue
        if attr.startswith("_"):
            problems.append(f"attribute {attr!r} is not allowed (names starting with _ are private)")
        elif isinstance(owner, nodes.Name) and owner.name in _FIELDS_OF:
            known = _FIELDS_OF[owner.name]
            if attr not in known:
                problems.append(f"{owner.name} has no {attr!r} (it has: {', '.join(sorted(known))})")
    return problems


def _attribute(node: nodes.Node) -> tuple[str | None, nodes.Node | None]:
    """Return the name an attribute or constant-subscript node reads, and the node it reads it from."""
    if isinstance(node, nodes.Getattr):
        return node.attr, node.node
    if (
        isinstance(node, nodes.Getitem)
        and isinstance(node.arg, nodes.Const)
        and isinstance(node.arg.value, str)
    ):
        return node.arg.value, node.node
    return None, None
