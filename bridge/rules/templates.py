"""Rule conditions and templates: Jinja2 in an immutable sandbox, strict about undefined values.

Rules are written by operators but fed with data from webhooks, so evaluation can reach nothing but the
context it is given (``event``, ``settings``, ``linked`` and a loop variable): no attribute outside those
values' own fields and a few pure methods, no I/O, no mutation. A template that is exactly one
``{{ expr }}`` gives the expression's native value (a list stays a list); any other template gives a string.
Every evaluation runs under a budget of steps, CPU time, characters built and output (``bridge.rules.budget``),
and what can be known before any event arrives (constant ranges, widths, exponents) is checked at load.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from jinja2 import StrictUndefined, TemplateError, Undefined, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.meta import find_undeclared_variables
from jinja2.sandbox import ImmutableSandboxedEnvironment

from bridge.rules import budget
from bridge.rules.budget import MAX_OUTPUT, RenderLimitError
from bridge.rules.context import LINKED_FIELDS, SETTINGS_FIELDS
from bridge.rules.static_limits import PRINTF, limit_problems

CONTEXT_NAMES = frozenset({"event", "settings", "linked"})
"""Names every condition and template may use (plus the rule's loop variable)."""

MAX_SEQUENCE_LENGTH = MAX_OUTPUT
"""Longest string or list a ``*`` may build (the sandbox otherwise lets ``'x' * 10**10`` exhaust memory)."""

_COUNTED = "_counted_iteration"
"""The filter every ``{% for %}`` loop's iterable is passed through, one budget step per item."""

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


class _CodeGenerator(CodeGenerator):
    """Jinja's code generator, with ``~`` going through the environment (where its size is checked)."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.concat_checked((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


class _Environment(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "+", "-", "/", "//", "%"})
    intercepted_unops = frozenset({"-", "+"})
    code_generator_class = _CodeGenerator

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if not super().is_safe_attribute(obj, attr, value):
            return False
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            return attr in {f.name for f in dataclasses.fields(obj)}
        return attr in _SAFE_METHODS.get(type(obj), frozenset())

    def getattr(self, obj: Any, attribute: str) -> Any:
        budget.current().step()
        # `event.data.items` must be the payload's "items", not dict.items.
        if isinstance(obj, dict) and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        budget.current().step()
        return super().getitem(obj, argument)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        spend = budget.current()
        spend.step()
        _check_method(__obj, args, kwargs)
        result = super().call(__context, __obj, *args, **kwargs)
        if isinstance(result, range):
            spend.build(len(result), "range()")
        elif isinstance(result, str | list | tuple | dict):
            spend.build(budget.size(result), "a call")
        return result

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        spend = budget.current()
        spend.step()
        if operator == "**" and isinstance(right, int) and abs(right) > 64:
            raise OverflowError("exponent larger than 64 is not allowed in rules")
        if (
            operator == "**"
            and isinstance(left, int)
            and isinstance(right, int)
            and left.bit_length() * right > budget.MAX_INT_BITS + right
        ):
            raise RenderLimitError(f"'**' would give an integer over {budget.MAX_INT_BITS} bits")
        if operator == "*":
            size = _repeat_size(left, right)
            if size > MAX_SEQUENCE_LENGTH:
                raise OverflowError(f"'*' would build a value of {size} items (limit {MAX_SEQUENCE_LENGTH})")
            spend.build(size, "'*'")
        if operator == "+" and isinstance(left, str | list | tuple) and isinstance(right, str | list | tuple):
            spend.build(budget.size(left) + budget.size(right), "'+'")
        if operator == "%" and isinstance(left, str):
            _check_printf(left, right)
        result = super().call_binop(context, operator, left, right)
        budget.check_int(result, f"'{operator}'")
        return result

    def call_unop(self, context: Any, operator: str, arg: Any) -> Any:
        budget.current().step()
        return super().call_unop(context, operator, arg)

    def concat_checked(self, values: tuple[Any, ...]) -> str:
        """``a ~ b ~ c``: join the values as strings, if the result fits the render's budget."""
        spend = budget.current()
        spend.step()
        texts = [value if isinstance(value, str) else _text(value) for value in values]
        spend.build(sum(len(text) for text in texts), "'~'")
        return "".join(texts)


def _text(value: Any) -> str:
    if isinstance(value, Undefined):
        return str(value)  # StrictUndefined raises, naming what was missing
    if budget.size(value) > MAX_OUTPUT:
        raise RenderLimitError(f"'~' would write a value of more than {MAX_OUTPUT:,} characters")
    return str(value)


def _repeat_size(left: Any, right: Any) -> int:
    for sequence, count in ((left, right), (right, left)):
        if isinstance(sequence, str | list | tuple) and isinstance(count, int):
            return budget.size(sequence) * count
    return 0


def _check_printf(template: str, arguments: Any) -> None:
    """Refuse a ``%`` format whose widths or precisions would build more than a render may output."""
    for match in PRINTF.finditer(template):
        for number in match.groups():
            if number == "*":
                raise RenderLimitError("'%' formats with * widths are not allowed in rules")
            if number is not None:
                budget.check_count(int(number), "a '%' format's width")


def _check_method(method: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Refuse a string method call whose result would be too large, before it runs."""
    owner = getattr(method, "__self__", None)
    name = getattr(method, "__name__", "")
    if not isinstance(owner, str):
        return  # range() has the sandbox's own limit; dict() and namespace() build what they are given
    for value in (*args, *kwargs.values()):
        budget.check_count(value, f"{name}()")
    if name == "replace" and len(args) >= 2 and isinstance(args[0], str) and isinstance(args[1], str):
        count = owner.count(args[0]) if args[0] else len(owner) + 1
        budget.current().build(len(owner) + count * len(args[1]), "replace()")
    elif name == "join" and args and isinstance(args[0], list | tuple):
        budget.current().build(budget.size(args[0]) + len(owner) * len(args[0]), "join()")


def _guarded_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a filter: one step, size arguments checked before, the result's size counted after."""
    passes = getattr(function, "jinja_pass_arg", None)

    @functools.wraps(function)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        spend = budget.current()
        spend.step()
        value, rest = (args[1], args[2:]) if passes is not None else (args[0], args[1:])
        for argument in (*rest, *kwargs.values()):
            budget.check_count(argument, f"filter {name}")
            if isinstance(argument, str) and name in ("indent", "wordwrap", "replace", "join"):
                # A text inserted once per line, word or item.
                spend.build(len(argument) * (budget.size(value) + 1), f"filter {name}")
        if name == "format" and isinstance(value, str):
            _check_printf(value, rest)
        result = function(*args, **kwargs)
        if isinstance(result, str | list | tuple | dict):
            spend.build(budget.size(result), f"filter {name}")
        return result

    if passes is not None:
        guarded.jinja_pass_arg = passes  # type: ignore[attr-defined]
    return guarded


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
    env.filters = {name: _guarded_filter(name, function) for name, function in env.filters.items()}
    env.filters[_COUNTED] = budget.counted
    return env


ENVIRONMENT = _build_environment()


class Compiled:
    """A compiled condition or template, with the source and YAML line it came from."""

    def __init__(self, source: str, line: int | None, evaluate: Callable[[Mapping[str, Any]], Any]) -> None:
        self.source = source
        self.line = line
        self._evaluate = evaluate

    def __call__(self, context: Mapping[str, Any]) -> Any:
        """Evaluate with ``context`` under a render budget; raise ``jinja2`` errors (UndefinedError,
        SecurityError, RenderLimitError, ...)."""
        value = budget.run(self._evaluate, context)
        if budget.size(value, MAX_OUTPUT + 1) > MAX_OUTPUT:
            raise RenderLimitError(f"the rendered value is over {MAX_OUTPUT:,} characters")
        return _defined(value)


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
            template = ENVIRONMENT.from_string(_count_loops(ast))
            evaluate = functools.partial(_render_bounded, template)
    except TemplateError as exc:
        return None, [f"bad template: {exc.message or exc}"]
    if problems:
        return None, problems
    return Compiled(source, line, evaluate), []


def _render_bounded(template: Any, context: Mapping[str, Any]) -> str:
    """Render piece by piece, stopping as soon as the output is over the limit."""
    pieces = []
    length = 0
    spend = budget.current()
    for piece in template.generate(context):
        length += len(piece)
        if length > MAX_OUTPUT:
            raise RenderLimitError(f"the template's output is over {MAX_OUTPUT:,} characters")
        spend.step()
        pieces.append(piece)
    return "".join(pieces)


def _count_loops(ast: nodes.Template) -> nodes.Template:
    """Pass every ``{% for %}`` loop's iterable through the step counter."""
    for loop in ast.find_all(nodes.For):
        loop.iter = nodes.Filter(loop.iter, _COUNTED, [], [], None, None, lineno=loop.lineno)
    return ast


def _is_single_output(ast: nodes.Template) -> bool:
    return (
        len(ast.body) == 1
        and isinstance(ast.body[0], nodes.Output)
        and len(ast.body[0].nodes) == 1
        and not isinstance(ast.body[0].nodes[0], nodes.TemplateData)
    )


def _static_problems(ast: nodes.Template, names: frozenset[str]) -> list[str]:
    """Find, before any event arrives, unknown names, private attributes, unknown settings fields and
    costs certain to exceed a render's budget."""
    problems = limit_problems(ast)
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
