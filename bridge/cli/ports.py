"""Checking that a port is free before a server starts, so that a taken one is one clear line."""

from __future__ import annotations

import errno
import socket

from bridge.errors import BridgeError


class PortTaken(BridgeError):
    """The port a server was asked to listen on is in use; the message says how to choose another."""


def ensure_free(host: str, port: int, how_to_choose: str) -> None:
    """Raise ``PortTaken`` when ``host:port`` cannot be bound now (as uvicorn binds: SO_REUSEADDR)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise BridgeError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
            raise PortTaken(
                f"port {port} on {host} is already in use (another bridge running?): "
                f"choose another with {how_to_choose}"
            ) from None
