"""``bridge web``: serve the receiver, health, metrics (and dashboard) with uvicorn on $PORT."""

from __future__ import annotations

import argparse

import uvicorn

from bridge import defaults, logs
from bridge.cli.ports import ensure_free
from bridge.rules.loader import load_rules
from bridge.settings import Settings

HELP = "serve the webhook receiver, health, metrics and dashboard on 0.0.0.0:$PORT"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="0.0.0.0", help="address to bind (default 0.0.0.0)")  # noqa: S104
    parser.add_argument("--port", type=int, default=None, help="port (default $PORT or 8000)")
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="processes (default $WEB_CONCURRENCY or 1)",
    )


def run(args: argparse.Namespace) -> int:
    settings: Settings = args.settings
    logs.configure(settings.log_level)
    # A bad rules file stops the process here, with every problem listed, not at the first event.
    load_rules(settings.rules_path)
    port = args.port or settings.port
    ensure_free(args.host, port, "--port N (or PORT=N)")
    uvicorn.run(
        "bridge.receiver.factory:app_from_env",
        factory=True,
        host=args.host,
        port=port,
        workers=max(1, args.workers or settings.web_concurrency),
        log_config=None,
        access_log=False,
        proxy_headers=True,
        server_header=False,
        # Header and body deadlines, a header size limit and a connection cap (bridge/receiver/protocol.py).
        http="bridge.receiver.protocol:DeadlineProtocol",
        ws="none",
        timeout_graceful_shutdown=defaults.WEB_GRACEFUL_SHUTDOWN_S,
    )
    return 0
