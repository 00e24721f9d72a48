"""What one render of a rule template may cost: steps, CPU time, characters built, output, number sizes.

Jinja's sandbox stops a template from reaching anything it is not given, but not from working for ever
or filling memory: ``~`` in a loop can build a 100-million-character string, nested ``range()`` loops can
hold a worker until the job's timeout, ``'x'.zfill(10**9)`` or ``'%999999999d' % 1`` allocate a gigabyte
at once. Every render therefore runs under a ``Budget`` (``bridge.rules.templates`` charges it):

- **steps**: every loop iteration, call, attribute or item lookup, operator and filter counts one;
- **CPU time** of the rendering thread, checked at every step;
- **characters built**: the size of every string or list an operator, filter, method or ``range`` makes
  is added up, and an operation is refused *before* it runs when its result would not fit;
- **output**: the size of what the template renders;
- **numbers**: integers beyond ``MAX_INT_BITS`` bits, and size arguments (widths, counts) beyond the
  output limit, are refused.

A template over its budget raises ``RenderLimitError``; the rule fails with that message for that event,
and the worker moves on.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Iterable, Iterator
from typing import Any

from jinja2 import TemplateError

MAX_STEPS = 100_000
"""Steps (iterations, calls, lookups, operators) one render may take."""

MAX_CPU_S = 0.5
"""CPU time one render may use."""

MAX_BUILT = 2_000_000
"""Characters (and list items) one render may build in all, intermediate values included."""

MAX_OUTPUT = 200_000
"""Longest value one render may give (a rendered string, or a native value's size)."""

MAX_INT_BITS = 256
"""Largest integers a template may compute with (2**256; ids and epoch milliseconds need 64)."""


class RenderLimitError(TemplateError):
    """A render went over its budget; the message says which limit."""


class Budget:
    """The allowance of one render; ``charge`` and ``build`` spend it."""

    __slots__ = ("built", "cpu_deadline", "steps", "wall_deadline")

    def __init__(self) -> None:
        self.steps = 0
        self.built = 0
        self.cpu_deadline = time.thread_time() + MAX_CPU_S
        # A thread uses no more CPU time than the time that passes: until MAX_CPU_S has passed, no render
        # can be over its CPU time, and the cheap clock (no system call) answers for the thread's own.
        self.wall_deadline = time.perf_counter() + MAX_CPU_S

    def step(self, count: int = 1) -> None:
        """Spend ``count`` steps; raise once the steps or the CPU time are used up."""
        self.steps += count
        if self.steps > MAX_STEPS:
            raise RenderLimitError(f"render stopped after {MAX_STEPS:,} steps (loops, calls, lookups)")
        if time.perf_counter() > self.wall_deadline and time.thread_time() > self.cpu_deadline:
            raise RenderLimitError(f"render stopped after {MAX_CPU_S:g} s of CPU time")

    def build(self, size: int, what: str) -> None:
        """Allow building a value of ``size`` characters or items, or refuse before it is built."""
        if size > MAX_OUTPUT:
            raise RenderLimitError(
                f"{what} would build a value of {size:,} characters (limit {MAX_OUTPUT:,})"
            )
        self.built += size
        if self.built > MAX_BUILT:
            raise RenderLimitError(f"render stopped after building {MAX_BUILT:,} characters in all")


_current: contextvars.ContextVar[Budget | None] = contextvars.ContextVar("render_budget", default=None)


def current() -> Budget:
    """Return the budget of the render in progress (a fresh one outside any render)."""
    return _current.get() or Budget()


def run(render: Any, *args: Any) -> Any:
    """Call ``render(*args)`` under a new budget."""
    token = _current.set(Budget())
    try:
        return render(*args)
    finally:
        _current.reset(token)


def counted(iterable: Iterable[Any]) -> Iterator[Any]:
    """Iterate ``iterable``, one step per item (the loops of templates go through this)."""
    budget = current()
    for item in iterable:
        budget.step()
        yield item


def size(value: Any, limit: int = MAX_BUILT) -> int:
    """Return the size of a value as rendered (characters, items), counting no further than ``limit``."""
    if isinstance(value, str | bytes):
        return len(value)
    if isinstance(value, bool) or value is None:
        return 1
    if isinstance(value, int):
        return value.bit_length() // 3 + 1
    if isinstance(value, dict):
        value = [*value.keys(), *value.values()]
    if isinstance(value, list | tuple | set | frozenset):
        total = len(value)
        for item in value:
            total += size(item, limit - total)
            if total > limit:
                break
        return total
    return 1


def check_int(value: Any, what: str) -> None:
    """Refuse an integer beyond ``MAX_INT_BITS`` bits."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > MAX_INT_BITS:
        raise RenderLimitError(f"{what} gives an integer over {MAX_INT_BITS} bits")


def check_count(value: Any, what: str) -> None:
    """Refuse a size argument (width, count, length) beyond what a render may output."""
    if isinstance(value, int) and not isinstance(value, bool) and value > MAX_OUTPUT:
        raise RenderLimitError(f"{what}: {value:,} is over the limit of {MAX_OUTPUT:,}")
