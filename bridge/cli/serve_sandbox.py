"""``bridge sandbox``: serve the sandbox of the five upstream APIs, and say how to point a bridge at it."""

from __future__ import annotations

import argparse

from bridge.cli.ports import ensure_free
from bridge.embedded_redis import free_port

HELP = "serve only the sandbox of the five upstream APIs (for demos and tests)"

DEFAULT_PORT = 9000
"""Port the sandbox listens on unless told (0: a free one)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0: a free one)"
    )
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every emulated call")


def run(args: argparse.Namespace) -> int:
    # Imported when the command runs: the CLI imports every command module just to build its parser.
    import uvicorn

    from bridge.upstreams.sandbox import SandboxConfig, create_app

    config = SandboxConfig(latency_s=args.latency)
    if args.port:
        ensure_free(args.host, args.port, "--port N (0: a free one)")
    port = args.port or free_port()
    shown_host = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host  # noqa: S104 (comparison only)
    base_url = f"http://{shown_host}:{port}"
    lines = "\n".join(f"  {name}={value}" for name, value in config.env(base_url).items())
    print(
        f"sandbox upstreams at {base_url} (state: {base_url}/_sandbox/state)\n"
        f"point a bridge at it with (dev credentials only):\n{lines}\n",
        flush=True,
    )
    uvicorn.run(
        create_app(config), host=args.host, port=port, log_config=None, access_log=False, server_header=False
    )
    return 0
