"""Serving a sandbox in a background thread on loopback (tests, benches, ``bridge dev``)."""

from __future__ import annotations

from types import TracebackType

from bridge.serving import ServerThread
from bridge.upstreams.sandbox.app import Sandbox, create_app
from bridge.upstreams.sandbox.config import SandboxConfig


class RunningSandbox:
    """A sandbox being served; ``url`` is its base URL. A context manager that stops it on exit."""

    def __init__(self, config: SandboxConfig, port: int = 0) -> None:
        self.config = config
        app = create_app(config)
        # The in-memory state, for a test that wants to look without HTTP.
        self.sandbox: Sandbox = app.sandbox
        self.server = ServerThread(app, port=port).start()
        self.url = self.server.base_url

    def env(self) -> dict[str, str]:
        """The bridge's environment variables pointing at this sandbox."""
        return self.config.env(self.url)

    def stop(self) -> None:
        """Stop serving."""
        self.server.stop()

    def __enter__(self) -> RunningSandbox:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def serve_in_thread(config: SandboxConfig | None = None, port: int = 0) -> RunningSandbox:
    """Start a sandbox on 127.0.0.1 (a free port unless given) and return it once it listens."""
    return RunningSandbox(config or SandboxConfig(), port)
