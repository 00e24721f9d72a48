"""``bridge jsm apply FILE``: make a JSM ops integration's actions match a YAML or JSON file.

The plan comes from ``bridge.upstreams.jsm.apply`` (pure); this module only reads the integration and applies it.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from bridge.errors import RulesError
from bridge.ops import actor, terminal
from bridge.settings import Settings
from bridge.upstreams.jsm.apply import (
    Create,
    Delete,
    DesiredActions,
    Move,
    Step,
    Update,
    load_desired,
    plan_actions,
    plan_moves,
)

if TYPE_CHECKING:
    from bridge.upstreams.jsm.client import JsmOpsClient

HELP = "make a JSM ops integration's actions match a YAML/JSON file (create, patch, delete, reorder)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "file",
        help="the actions file: {integration_id?, actions: [...]} in YAML or JSON (not a rules file;"
        " example: bridge/upstreams/jsm/examples/integration_actions.yaml)",
    )
    parser.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    parser.add_argument(
        "--integration", help="integration id (default: the file's integration_id, else JSM_INTEGRATION_ID)"
    )


def run(args: argparse.Namespace) -> int:
    try:
        desired = load_desired(args.file)
    except RulesError as exc:
        for problem in exc.problems:
            print(problem.format(exc.path))
        return 1
    settings: Settings = args.settings
    integration = args.integration or desired.integration_id or settings.jsm_integration_id
    if not integration:
        print(
            "bridge jsm apply: no integration: use --integration, integration_id in the file or JSM_INTEGRATION_ID"
        )
        return 2
    # Imported when the command runs: the CLI imports every command module just to build its parser.
    from bridge.upstreams import clients_from_settings
    from bridge.upstreams.jsm.client import JsmOpsClient

    with clients_from_settings(settings) as clients:
        jsm = clients.get("jsm", JsmOpsClient)
        if jsm is None:
            print(
                "bridge jsm apply: JSM is not configured: set JSM_OPS_BASE_URL, JSM_EMAIL and JSM_API_TOKEN"
            )
            return 2
        if args.dry_run:
            return _apply_or_report(jsm, integration, desired, dry_run=True)[0]
        # A change to the integration is an operator action: recorded in the audit log, with its outcome.
        with actor.audited(terminal.connect(args), "jsm apply", f"integration {integration}") as outcome:
            code, outcome.detail = _apply_or_report(jsm, integration, desired, dry_run=False)
            outcome.ok = code == 0
        return code


def _apply_or_report(
    jsm: JsmOpsClient, integration: str, desired: DesiredActions, dry_run: bool
) -> tuple[int, str]:
    from bridge.errors import UpstreamError

    try:
        return 0, apply(jsm, integration, desired, dry_run=dry_run)
    except UpstreamError as exc:
        print(f"bridge jsm apply: {exc}")
        return 1, str(exc)


def apply(jsm: JsmOpsClient, integration: str, desired: DesiredActions, dry_run: bool = False) -> str:
    """Plan against the integration as it is now, print the plan, and (unless ``dry_run``) apply it.

    Return the last line printed: what was done.
    """
    current = [_plain(jsm.get_action(integration, a["id"])) for a in _listing(jsm, integration)]
    steps = plan_actions(desired.actions, current)
    if not steps:
        return _say(f"integration {integration}: {len(current)} actions already match, nothing to do")
    if dry_run:
        for step in steps:
            print(f"would {step.describe()}")
        return _say(f"integration {integration}: {_count(steps)} (dry run, nothing changed)")
    done: list[Step] = []
    for step in steps:
        if isinstance(step, Move):
            continue
        _apply_step(jsm, integration, step)
        print(step.describe())
        done.append(step)
    # Moves are planned again from the order JSM reports now: a created action lands where JSM puts it.
    listing = _listing(jsm, integration)
    ids = {action["name"]: action["id"] for action in listing}
    for move in plan_moves([action["name"] for action in listing], [a["name"] for a in desired.actions]):
        jsm.reorder_action(integration, ids[move.name], ids[move.successor])
        print(move.describe())
        done.append(move)
    return _say(f"integration {integration}: {_count(done)}")


def _say(line: str) -> str:
    print(line)
    return line


def _apply_step(jsm: JsmOpsClient, integration: str, step: Step) -> None:
    if isinstance(step, Delete):
        jsm.delete_action(integration, step.action_id)
    elif isinstance(step, Update):
        jsm.update_action(integration, step.action_id, step.changes)
    elif isinstance(step, Create):
        jsm.create_action(integration, step.body)


def _listing(jsm: JsmOpsClient, integration: str) -> list[dict[str, Any]]:
    return [_plain(action) for action in jsm.iter_actions(integration)]


def _plain(action: Any) -> dict[str, Any]:
    """An action as a plain dict, whether the client gives a model or a mapping."""
    if hasattr(action, "model_dump"):
        dumped: dict[str, Any] = action.model_dump(mode="json", by_alias=True, exclude_unset=True)
        return dumped
    return dict(action)


def _count(steps: Iterable[Step]) -> str:
    names = {Create: "created", Update: "updated", Delete: "deleted", Move: "moved"}
    counts = dict.fromkeys(names.values(), 0)
    for step in steps:
        counts[names[type(step)]] += 1
    return ", ".join(f"{count} {name}" for name, count in counts.items())
