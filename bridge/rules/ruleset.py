"""A loaded rules file: which events it wants (``accepts``) and what it plans for one (``plan``)."""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bridge.errors import RuleError
from bridge.event import Event
from bridge.rules.context import RulesSettings, rule_context
from bridge.rules.model import Linked, PlannedAction
from bridge.rules.params import ActionSpec, coerce
from bridge.rules.templates import Compiled
from bridge.settings import Settings

STATEFUL = {("zendesk", "ticket"), ("jira", "issue")}
"""(source, subject kind) of the events that carry a subject's state (bridge/ordering.py)."""

MAX_FOR_EACH_ITEMS = 1000
"""Most items a rule's ``for_each`` may give for one event (a runaway list is a rule bug, not work)."""


@dataclass(frozen=True)
class When:
    """A rule's when-clause: source, event type globs and an optional condition."""

    source: str
    types: tuple[str, ...]
    condition: Compiled | None = None

    def matches(self, source: str, event_type: str) -> bool:
        """Tell whether an event of ``source`` and ``event_type`` is one this rule looks at."""
        return source == self.source and any(fnmatch.fnmatchcase(event_type, glob) for glob in self.types)


@dataclass(frozen=True)
class ActionTemplate:
    """One action of a rule: its kind and its parameters, each a literal or a compiled template."""

    spec: ActionSpec
    params: dict[str, Any]
    line: int | None
    label: str


@dataclass(frozen=True)
class Rule:
    """One rule of a rules file."""

    name: str
    line: int | None
    when: When
    actions: tuple[ActionTemplate, ...]
    for_each: Compiled | None = None
    loop_name: str | None = None


class RuleSet:
    """The rules of one file, in file order."""

    def __init__(self, rules: tuple[Rule, ...], path: str) -> None:
        self.rules = rules
        self.path = path
        self._wanted: dict[tuple[str, str], bool] = {}

    def __len__(self) -> int:
        return len(self.rules)

    def accepts(self, event: Mapping[str, Any]) -> bool:
        """Tell whether any rule's when-clause (source and type) matches the event.

        Conditions are not evaluated: they may depend on ``linked``, which only the worker knows.
        """
        return self.accepts_type(str(event["source"]), str(event["type"]))

    def accepts_type(self, source: str, event_type: str) -> bool:
        """Tell whether events of ``source`` and ``event_type`` are taken in (the receiver's check).

        Events about a ticket or an issue always are: they carry its newest state, which orders later
        deliveries and which the other side's links depend on (an issue that moves or names a ticket
        re-plans that ticket). Others only when a rule looks at them.
        """
        key = (source, event_type)
        wanted = self._wanted.get(key)
        if wanted is None:
            stateful = (source, event_type.split(".", 1)[0]) in STATEFUL
            wanted = stateful or any(rule.when.matches(source, event_type) for rule in self.rules)
            self._wanted[key] = wanted
        return wanted

    def plan(
        self, event: Event, settings: Settings | RulesSettings, linked: Linked | None = None
    ) -> list[PlannedAction]:
        """Return the actions every matching rule wants for ``event``; raise ``RuleError`` on a bad one."""
        context = rule_context(event, settings, linked or Linked())
        subject = f"{event['source']}:{event['subject']['kind']}:{event['subject']['id']}"
        planned: dict[str, PlannedAction] = {}
        for rule in self.rules:
            if not rule.when.matches(event["source"], event["type"]):
                continue
            for action in _plan_rule(rule, context, event, subject):
                # Two rules asking for the very same call make one call.
                planned.setdefault(action.idempotency_key, action)
        return list(planned.values())


def _plan_rule(rule: Rule, context: dict[str, Any], event: Event, subject: str) -> list[PlannedAction]:
    condition = rule.when.condition
    if condition is not None and not _evaluate(rule, condition, context, "when.if"):
        return []
    items: list[Any] = [None]
    if rule.for_each is not None:
        items = _items(rule, _evaluate(rule, rule.for_each, context, "for_each"))
    planned = []
    for item in items:
        scope = {**context, rule.loop_name: item} if rule.loop_name else context
        for action in rule.actions:
            params = _render_params(rule, action, scope)
            planned.append(
                PlannedAction(
                    kind=action.spec.kind,
                    destination=action.spec.destination,
                    target=action.spec.target(params),
                    params=params,
                    object=action.spec.object(params),
                    rule=rule.name,
                    event_id=event["id"],
                    sequence=event["sequence"],
                    subject=subject,
                )
            )
    return planned


def _items(rule: Rule, value: Any) -> list[Any]:
    if not isinstance(value, list | tuple):
        raise RuleError(
            rule.name, f"for_each must give a list, got {type(value).__name__}", line=_line(rule.for_each)
        )
    if len(value) > MAX_FOR_EACH_ITEMS:
        raise RuleError(
            rule.name,
            f"for_each gave {len(value)} items (at most {MAX_FOR_EACH_ITEMS})",
            line=_line(rule.for_each),
        )
    return list(value)


def _render_params(rule: Rule, action: ActionTemplate, scope: dict[str, Any]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    spec = action.spec
    for name, template in action.params.items():
        value = _render(rule, action, template, scope, name)
        if name not in spec.required and (value is None or value == ""):
            # An optional parameter that renders to nothing is left out, not sent empty.
            continue
        try:
            params[name] = coerce(name, spec.params[name], value)
        except ValueError as exc:
            raise RuleError(rule.name, str(exc), action.label, action.line) from None
    for group in spec.one_of:
        if not any(name in params for name in group):
            raise RuleError(rule.name, f"{' or '.join(group)} rendered empty", action.label, action.line)
    return params


def _render(rule: Rule, action: ActionTemplate, template: Any, scope: dict[str, Any], name: str) -> Any:
    if isinstance(template, Compiled):
        try:
            return template(scope)
        except Exception as exc:  # a rule may fail in any way Python can; each is the rule's error
            raise RuleError(
                rule.name, f"{name}: {_explain(exc)} in {template.source!r}", action.label, template.line
            ) from exc
    if isinstance(template, dict):
        return {key: _render(rule, action, value, scope, f"{name}.{key}") for key, value in template.items()}
    if isinstance(template, list):
        return [_render(rule, action, value, scope, f"{name}[{i}]") for i, value in enumerate(template)]
    return template


def _evaluate(rule: Rule, expression: Compiled, context: dict[str, Any], where: str) -> Any:
    try:
        return expression(context)
    except Exception as exc:  # see _render
        raise RuleError(
            rule.name, f"{where}: {_explain(exc)} in {expression.source!r}", line=expression.line
        ) from exc


def _explain(exc: Exception) -> str:
    message = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {message}"


def _line(compiled: Compiled | None) -> int | None:
    return compiled.line if compiled is not None else None
