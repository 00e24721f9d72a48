"""One thing wrong with a rules (or JSM actions) file, with its line; ``RulesError`` carries a list of them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RuleProblem:
    """One thing wrong with a rules file: the 1-based line it is on (None when unknown) and what."""

    line: int | None
    message: str

    def format(self, path: str) -> str:
        """Return ``PATH:LINE: message`` (the form compilers and editors understand)."""
        return f"{path}:{self.line}: {self.message}" if self.line is not None else f"{path}: {self.message}"
