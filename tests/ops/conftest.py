"""Fixtures of the ops tests: the web app with the dashboard and the ops API on loopback, a real Redis."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import redis

from bridge.ops.routes import operator_routes
from bridge.ops.throttle import LoginThrottle
from bridge.receiver.app import create_app
from bridge.receiver.protocol import DeadlineProtocol
from bridge.serving import ServerThread
from bridge.settings import Secret, Settings

OPS_USER = "operator"
OPS_PASSWORD = "correct horse battery staple"
AUTH = (OPS_USER, OPS_PASSWORD)
WINDOW_S = 3
"""The throttle window of the one test that waits for its end (3 s instead of 15 min); the others keep
the default window."""

ServeOps = Callable[..., ServerThread]


@pytest.fixture
def ops_settings(settings: Settings) -> Settings:
    return settings.replace(dashboard_user=OPS_USER, dashboard_password=Secret(OPS_PASSWORD))


@pytest.fixture
def serve_ops(ops_settings: Settings, redis_url: str) -> Iterator[ServeOps]:
    """Return a factory serving the web app (dashboard and ops API) as ``bridge web`` does.

    Forwarded client addresses are trusted, so that a test can log in "from" many addresses.
    """
    servers: list[ServerThread] = []
    clients: list[redis.Redis] = []

    def serve(**throttle: int) -> ServerThread:
        client = redis.Redis.from_url(redis_url)
        clients.append(client)
        logins = LoginThrottle(lambda: client, **throttle)
        app = create_app(ops_settings, extra_routes=operator_routes(ops_settings, logins))
        server = ServerThread(
            app,
            http=DeadlineProtocol.with_settings(ops_settings),
            proxy_headers=True,
            forwarded_allow_ips="*",
        ).start()
        servers.append(server)
        return server

    yield serve
    for server in servers:
        server.stop()
    for client in clients:
        client.close()


@pytest.fixture
def ops_url(serve_ops: ServeOps) -> str:
    return serve_ops().base_url
