"""Errors of the rules engine.

BridgeError
├── RulesError   a rules file is invalid (load time): carries every problem, each with its line
└── RuleError    a valid rule could not be applied to one event (plan time): names the rule and action
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bridge.errors import BridgeError


@dataclass(frozen=True)
class RuleProblem:
    """One thing wrong with a rules file: the 1-based line it is on (None when unknown) and what."""

    line: int | None
    message: str

    def format(self, path: str) -> str:
        """Return ``PATH:LINE: message`` (the form compilers and editors understand)."""
        return f"{path}:{self.line}: {self.message}" if self.line is not None else f"{path}: {self.message}"


class RulesError(BridgeError):
    """A rules file is invalid; ``problems`` lists all that was found, not just the first."""

    def __init__(self, problems: Sequence[RuleProblem], path: str = "<rules>") -> None:
        self.problems = list(problems)
        self.path = path
        super().__init__(self._describe())

    def _describe(self) -> str:
        count = len(self.problems)
        lines = [f"{self.path}: {count} problem{'s' if count != 1 else ''}"]
        lines += [problem.format(self.path) for problem in self.problems]
        return "\n".join(lines)


class RuleError(BridgeError):
    """A rule failed on one event (a missing field, a value of the wrong type, a refused operation)."""

    def __init__(self, rule: str, message: str, action: str | None = None, line: int | None = None) -> None:
        self.rule = rule
        self.action = action
        self.line = line
        where = f"rule {rule!r}" + (f", action {action}" if action else "")
        if line is not None:
            where += f" (line {line})"
        super().__init__(f"{where}: {message}")
