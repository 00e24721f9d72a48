"""``bridge``: the command line. Each command lives in its own module; this one only dispatches.

A command module has ``HELP`` (one line), ``add_arguments(parser)`` and ``run(args) -> int``; it is named
here by its import path, so ``bridge worker``'s module lives with the worker (``workers/cli.py``) without
the library importing ``workers``.

Before any command runs, ``main`` reads the settings once (``args.settings``): a bad variable ends every
command in one line naming it. The servers (``SERVERS``) log JSON lines; every other command is an
operator's, which logs only warnings in plain lines, takes ``bridge dev``'s Redis and ports when
``REDIS_URL`` is unset (``dev_state.py``), and acts as the OS user in the audit log. A Redis that does not
answer ends any command in one line naming its URL (password hidden).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from types import ModuleType

import redis.exceptions

from bridge import __version__, logs
from bridge.cli import dev_state
from bridge.errors import BridgeError, SettingsError
from bridge.ops import actor
from bridge.settings import Settings, redact_url

# name → module; names with a space are sub-commands of a group ("rules check").
COMMANDS: dict[str, str] = {
    "web": "bridge.cli.web",
    "worker": "workers.cli",
    "dev": "bridge.cli.dev",
    "send-sample": "bridge.cli.send_sample",
    "sandbox": "bridge.cli.serve_sandbox",
    "rules check": "bridge.cli.rules_check",
    "rules test": "bridge.cli.rules_test",
    "jsm apply": "bridge.cli.jsm_apply",
    "queues": "bridge.cli.queues",
    "failed": "bridge.cli.failed",
    "replay": "bridge.cli.replay",
    "events search": "bridge.cli.events_search",
    "reconcile": "bridge.cli.reconcile",
    "resync": "bridge.cli.resync",
    "audit": "bridge.cli.audit",
}

SERVERS = frozenset({"web", "worker", "dev", "sandbox"})
"""Commands that serve until stopped: they log JSON lines and never read ``bridge dev``'s state."""


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
        sub.set_defaults(module=module, name=name)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command named in ``argv``; configuration errors print one line and exit 2."""
    args = build_parser().parse_args(argv)
    module: ModuleType = args.module
    args.settings = None
    try:
        args.settings, args.redis_origin = command_settings(args.name)
        if args.name in SERVERS:
            return int(module.run(args))
        logs.configure_command(args.settings.log_level)
        with actor.acting(actor.os_user()):
            return int(module.run(args))
    except SettingsError as exc:
        print(f"bridge: configuration error: {exc}", file=sys.stderr)
        return 2
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
        print(f"bridge: {unreachable(args.settings, exc)}", file=sys.stderr)
        return 3
    except BridgeError as exc:
        # Errors the bridge raises on purpose (e.g. a rules file with problems) are messages, not crashes.
        print(f"bridge: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def command_settings(name: str) -> tuple[Settings, str]:
    """Return the settings a command runs with, and where its Redis comes from (said to operators)."""
    settings = Settings.from_env()
    if settings.redis_url:
        return settings, "REDIS_URL"
    if name not in SERVERS:
        state = dev_state.read(settings)
        if state is not None:
            return Settings.from_env(fallback=state.env), f"the running bridge dev's ({state.path})"
    return settings, "the default: REDIS_URL is unset and no bridge dev runs"


def unreachable(settings: Settings | None, error: Exception) -> str:
    """Return the one line that says Redis did not answer: its URL (password hidden) and the reason."""
    url = redact_url(settings.effective_redis_url) if settings is not None else "(unknown)"
    reason = str(error).strip().rstrip(".") or type(error).__name__
    return (
        f"cannot reach Redis at {url} ({reason}): set REDIS_URL, or start bridge dev"
        " (its commands in other terminals find its Redis)"
    )


if __name__ == "__main__":
    sys.exit(main())
