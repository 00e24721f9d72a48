"""Printing the ops functions' answers in a terminal: aligned tables, or JSON for scripts (``--json``)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from typing import Any

from redis import Redis

from bridge.connections import sync_client
from bridge.settings import Settings


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def connect(args: argparse.Namespace) -> Redis:
    """Return a Redis client for the command's settings (``bridge.cli.main`` read them)."""
    settings: Settings = args.settings
    return sync_client(settings, socket_timeout=10.0)


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """Return ``rows`` as an aligned text table of ``columns``."""
    cells = [[_cell(row.get(column)) for column in columns] for row in rows]
    widths = [max([len(column), *(len(line[i]) for line in cells)]) for i, column in enumerate(columns)]
    lines = ["  ".join(column.upper().ljust(widths[i]) for i, column in enumerate(columns))]
    lines += ["  ".join(value.ljust(widths[i]) for i, value in enumerate(line)) for line in cells]
    return "\n".join(line.rstrip() for line in lines)


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    text = " ".join(text.split())
    return text if len(text) <= 60 else text[:57] + "..."


def emit(args: argparse.Namespace, data: Any, rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
    """Print ``data`` as JSON with ``--json``, else ``rows`` as a table (or a note when empty)."""
    if args.json:
        print(json.dumps(data, indent=2, default=str))
    elif rows:
        print(table(rows, columns))
    else:
        print("(none)")
