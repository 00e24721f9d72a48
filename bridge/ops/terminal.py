"""Printing the ops functions' answers in a terminal: aligned tables, or JSON for scripts (``--json``).

Nothing is cut: in a terminal the long columns of a table (an upstream's answer) wrap within its width;
piped, every row is one line, whole.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import textwrap
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


MIN_WRAP_WIDTH = 20
"""A wrapped column is never narrower than this, whatever the terminal's width."""

GAP = "  "


def width() -> int | None:
    """Return the terminal's width when the output is one, else None (piped: nothing wraps)."""
    if not sys.stdout.isatty():
        return None
    try:
        return os.get_terminal_size(sys.stdout.fileno()).columns
    except OSError:
        return None


def table(
    rows: Sequence[dict[str, Any]], columns: Sequence[str], width: int | None = None, wrap: Sequence[str] = ()
) -> str:
    """Return ``rows`` as an aligned text table of ``columns``.

    With a ``width``, the ``wrap`` columns share what the others leave of it and wrap over several lines.
    """
    cells = [[_cell(row.get(column)) for column in columns] for row in rows]
    widths = [max([len(column), *(len(line[i]) for line in cells)]) for i, column in enumerate(columns)]
    wrapped = [i for i, column in enumerate(columns) if column in wrap]
    if width is not None and wrapped:
        fixed = sum(w for i, w in enumerate(widths) if i not in wrapped) + len(GAP) * (len(columns) - 1)
        share = max(MIN_WRAP_WIDTH, (width - fixed) // len(wrapped))
        for i in wrapped:
            widths[i] = min(widths[i], share)
    lines = [GAP.join(column.upper().ljust(widths[i]) for i, column in enumerate(columns))]
    for line in cells:
        parts = [
            textwrap.wrap(value, widths[i], break_on_hyphens=False) or [""] if i in wrapped else [value]
            for i, value in enumerate(line)
        ]
        for row in range(max(len(part) for part in parts)):
            lines.append(
                GAP.join(
                    (part[row] if row < len(part) else "").ljust(widths[i]) for i, part in enumerate(parts)
                )
            )
    return "\n".join(line.rstrip() for line in lines)


def _cell(value: Any) -> str:
    return " ".join(("" if value is None else str(value)).split())


def emit(args: argparse.Namespace, data: Any, rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
    """Print ``data`` as JSON with ``--json``, else ``rows`` as a table (or a note when empty)."""
    if args.json:
        print(json.dumps(data, indent=2, default=str))
    elif rows:
        print(table(rows, columns))
    else:
        print("(none)")
