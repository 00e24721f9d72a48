"""``bridge``: the command line. Each command lives in its own module; this one only dispatches.

A command module has ``HELP`` (one line), ``add_arguments(parser)`` and ``run(args) -> int``; it is named
here by its import path, so ``bridge worker``'s module lives with the worker (``workers/cli.py``) without
the library importing ``workers``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from types import ModuleType

from bridge import __version__
from bridge.errors import BridgeError, SettingsError

# name → module; names with a space are sub-commands of a group ("rules check").
COMMANDS: dict[str, str] = {
    "web": "bridge.cli.web",
    "worker": "workers.cli",
    "dev": "bridge.cli.dev",
    "send-sample": "bridge.cli.send_sample",
    "sandbox": "bridge.cli.serve_sandbox",
    "rules check": "bridge.cli.rules_check",
    "jsm apply": "bridge.cli.jsm_apply",
    "queues": "bridge.cli.queues",
    "failed": "bridge.cli.failed",
    "replay": "bridge.cli.replay",
    "events search": "bridge.cli.events_search",
    "reconcile": "bridge.cli.reconcile",
}


def build_parser() -> argparse.ArgumentParser:
    """Build the parser with every command's arguments."""
    parser = argparse.ArgumentParser(prog="bridge", description="Jira ↔ Zendesk ↔ Salesforce ↔ JSM bridge")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    groups: dict[str, argparse._SubParsersAction[argparse.ArgumentParser]] = {}
    for name, module_path in COMMANDS.items():
        module = importlib.import_module(module_path)
        if " " in name:
            group_name, sub_name = name.split(" ", 1)
            if group_name not in groups:
                group = commands.add_parser(group_name, help=f"{group_name} commands")
                groups[group_name] = group.add_subparsers(dest="subcommand", required=True, metavar="COMMAND")
            sub = groups[group_name].add_parser(sub_name, help=module.HELP, description=module.HELP)
        else:
            sub = commands.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(sub)
        sub.set_defaults(module=module)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command named in ``argv``; configuration errors print one line and exit 2."""
    args = build_parser().parse_args(argv)
    module: ModuleType = args.module
    try:
        return int(module.run(args))
    except SettingsError as exc:
        print(f"bridge: configuration error: {exc}", file=sys.stderr)
        return 2
    except BridgeError as exc:
        # Errors the bridge raises on purpose (e.g. a rules file with problems) are messages, not crashes.
        print(f"bridge: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
