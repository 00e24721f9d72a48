"""The operators' routes as ``bridge web`` serves them: the dashboard pages and the ops API."""

from __future__ import annotations

from redis import Redis
from starlette.routing import BaseRoute

from bridge.connections import sync_client
from bridge.dashboard import insight, pages
from bridge.ops import api, api_insight, api_runs
from bridge.ops.throttle import LoginThrottle
from bridge.settings import Settings


def operator_routes(settings: Settings, throttle: LoginThrottle | None = None) -> list[BaseRoute]:
    """Return the dashboard's and the ops API's routes (404 while the dashboard login is unset)."""
    client: list[Redis] = []

    def connection() -> Redis:
        # One blocking client (with its pool) per web process, made on first use.
        if not client:
            client.append(sync_client(settings, socket_timeout=5.0))
        return client[0]

    # One count of failed logins for all (kept in Redis, so also one for all web processes).
    logins = throttle or LoginThrottle(connection)
    return [
        *api.routes(settings, connection, logins),
        *api_insight.routes(settings, connection, logins),
        *api_runs.routes(settings, connection, logins),
        *pages.routes(settings, connection, logins),
        *insight.routes(settings, connection, logins),
    ]
