"""What ``bridge rules check`` can tell of a template's cost before any event arrives.

The budget of ``bridge.rules.budget`` stops any render that goes too far; these checks find, at load
time, the templates that would always go too far: constant ``range()`` sizes and nested constant loops
beyond the step budget, constant repetitions, exponents, widths and counts beyond the output limit.
"""

from __future__ import annotations

import re
from typing import Any

from jinja2 import nodes
from jinja2.sandbox import MAX_RANGE

from bridge.rules.budget import MAX_OUTPUT, MAX_STEPS

# A printf conversion of a % format: its width and precision (a number, or * for an argument).
PRINTF = re.compile(r"%[-#0 +]*(\*|[0-9]+)?(?:\.(\*|[0-9]+))?")

MAX_EXPONENT = 64
"""Largest ``**`` exponent rules may use (also checked at render time)."""


def limit_problems(ast: nodes.Node) -> list[str]:
    """Return what is certain to exceed a render's budget in ``ast``."""
    problems: list[str] = []
    for call in ast.find_all(nodes.Call):
        items = _range_size(call)
        if items is not None and items > MAX_RANGE:
            problems.append(f"range() of {items:,} items (at most {MAX_RANGE:,})")
        for value in _constant_args(call):
            if isinstance(value, int) and value > MAX_OUTPUT and _method_name(call) is not None:
                problems.append(f"{_method_name(call)}() with {value:,} (at most {MAX_OUTPUT:,})")
    for found in ast.find_all(nodes.Filter):
        for value in _constant_args(found):
            if isinstance(value, int) and not isinstance(value, bool) and value > MAX_OUTPUT:
                problems.append(f"filter {found.name} with {value:,} (at most {MAX_OUTPUT:,})")
    for power in ast.find_all(nodes.Pow):
        exponent = _constant(power.right)
        if isinstance(exponent, int) and exponent > MAX_EXPONENT:
            problems.append(f"exponent {exponent:,} (at most {MAX_EXPONENT})")
    for product in ast.find_all(nodes.Mul):
        size = _repeat_size(_constant(product.left), _constant(product.right))
        if size > MAX_OUTPUT:
            problems.append(f"'*' builds {size:,} characters (at most {MAX_OUTPUT:,})")
    for modulo in ast.find_all(nodes.Mod):
        widths = _printf_widths(_constant(modulo.left))
        if widths and max(widths) > MAX_OUTPUT:
            problems.append(f"'%' format with width {max(widths):,} (at most {MAX_OUTPUT:,})")
    problems += _loop_problems(ast, 1)
    return list(dict.fromkeys(problems))


def _loop_problems(node: nodes.Node, outer: int) -> list[str]:
    """Multiply the constant sizes of nested loops; report a nest that takes more steps than allowed."""
    problems = []
    for child in node.iter_child_nodes():
        if isinstance(child, nodes.For):
            items = _range_size(child.iter) if isinstance(child.iter, nodes.Call) else None
            total = outer * (items or 1)
            if items is not None and total > MAX_STEPS:
                problems.append(
                    f"nested loops take {total:,} iterations (at most {MAX_STEPS:,} steps per render)"
                )
                continue
            problems += _loop_problems(child, total)
        else:
            problems += _loop_problems(child, outer)
    return problems


def _range_size(call: nodes.Call) -> int | None:
    if not (isinstance(call.node, nodes.Name) and call.node.name == "range") or call.kwargs or call.dyn_args:
        return None
    args = [_constant(arg) for arg in call.args]
    if (
        not args
        or not all(isinstance(arg, int) and not isinstance(arg, bool) for arg in args)
        or len(args) > 3
    ):
        return None
    try:
        return len(range(*args))
    except (ValueError, OverflowError):
        return None


def _method_name(call: nodes.Call) -> str | None:
    return call.node.attr if isinstance(call.node, nodes.Getattr) else None


def _constant_args(node: nodes.Call | nodes.Filter) -> list[Any]:
    return [_constant(arg) for arg in node.args] + [_constant(pair.value) for pair in node.kwargs]


def _constant(node: nodes.Node | None) -> Any:
    """The value of a constant expression of numbers and texts (None when not constant, or too large)."""
    if isinstance(node, nodes.Const):
        return node.value
    if isinstance(node, nodes.Neg):
        value = _constant(node.node)
        return -value if isinstance(value, int | float) else None
    if isinstance(node, nodes.BinExpr):
        left, right = _constant(node.left), _constant(node.right)
        if not (isinstance(left, int) and isinstance(right, int)):
            return None
        if isinstance(node, nodes.Pow):
            return left**right if 0 <= right <= MAX_EXPONENT * 4 and abs(left) < 2**64 else None
        if isinstance(node, nodes.Mul):
            return left * right
        if isinstance(node, nodes.Add):
            return left + right
    return None


def _repeat_size(left: Any, right: Any) -> int:
    for sequence, count in ((left, right), (right, left)):
        if (
            isinstance(sequence, str | list | tuple)
            and isinstance(count, int)
            and not isinstance(count, bool)
        ):
            return len(sequence) * count
    return 0


def _printf_widths(template: Any) -> list[int]:
    if not isinstance(template, str):
        return []
    return [
        int(number)
        for match in PRINTF.finditer(template)
        for number in match.groups()
        if number and number.isdigit()
    ]
