"""Rules: which events the bridge acts on and the calls it plans for them (docs/rules.md).

``load_rules(path)`` reads and validates a rules file (``RulesError`` lists every problem with its line);
``RuleSet.accepts(event)`` tells the receiver whether any rule looks at an event; ``RuleSet.plan(event,
settings, linked)`` returns the ``PlannedAction`` list the executor performs.
"""

from __future__ import annotations

from bridge.rules.context import RulesSettings
from bridge.rules.errors import RuleError, RuleProblem, RulesError
from bridge.rules.loader import load_rules, parse_rules
from bridge.rules.model import Linked, PlannedAction, idempotency_key
from bridge.rules.ruleset import RuleSet

__all__ = [
    "Linked",
    "PlannedAction",
    "RuleError",
    "RuleProblem",
    "RuleSet",
    "RulesError",
    "RulesSettings",
    "idempotency_key",
    "load_rules",
    "parse_rules",
]
