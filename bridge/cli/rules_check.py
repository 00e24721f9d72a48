"""``bridge rules check FILE``: validate a rules file and print every problem with its line."""

from __future__ import annotations

import argparse
from collections import Counter

from bridge.errors import RulesError
from bridge.rules.loader import load_rules

HELP = "validate a rules file and print errors with their line"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="the rules file (YAML); 'default' checks the built-in rules")


def run(args: argparse.Namespace) -> int:
    path = None if args.file == "default" else args.file
    try:
        rules = load_rules(path)
    except RulesError as exc:
        for problem in exc.problems:
            print(problem.format(exc.path))
        count = len(exc.problems)
        print(f"{exc.path}: {count} problem{'s' if count != 1 else ''}")
        return 1
    actions = Counter(action.spec.destination for rule in rules.rules for action in rule.actions)
    by_destination = ", ".join(f"{name} {count}" for name, count in sorted(actions.items()))
    print(f"{rules.path}: OK, {len(rules)} rules, actions by destination: {by_destination or 'none'}")
    return 0
