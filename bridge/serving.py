"""Serving an ASGI app with uvicorn in a background thread on loopback (tests, benches, the sandbox)."""

from __future__ import annotations

import threading
import time
from types import TracebackType
from typing import Any

import uvicorn

START_TIMEOUT_S = 10.0
"""How long to wait for the server to listen."""


class ServerThread:
    """A uvicorn server for ``app`` on 127.0.0.1 (a free port unless given), as a context manager."""

    def __init__(self, app: Any, port: int = 0, **config: Any) -> None:
        options: dict[str, Any] = {"log_config": None, "access_log": False, "lifespan": "on"}
        options.update(config)
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, **options))
        self.thread = threading.Thread(target=self.server.run, name="uvicorn", daemon=True)

    @property
    def port(self) -> int:
        return int(self.server.servers[0].sockets[0].getsockname()[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServerThread:
        """Start serving and wait until the socket listens."""
        self.thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop serving and wait for the thread."""
        self.server.should_exit = True
        self.thread.join(10)

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
