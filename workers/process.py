"""What a worker process builds once and keeps: its settings, rules, pooled clients and the executor.

``bridge worker`` builds it at start from the one ``Settings`` it read (``start``), so a bad rules file or
configuration stops the process there, not at the first event; tests start it with theirs. A
``WorkerPool`` forks its workers: a child rebuilds the clients from the same settings on first use, so no
connection is shared across a fork. The RQ jobs reach it with ``current()``.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field

from redis import Redis

from bridge.connections import sync_client
from bridge.executor import Executor, HeldClaims
from bridge.guard import DestinationGuard, guard_all
from bridge.planner import Planner
from bridge.rules.loader import load_rules
from bridge.rules.ruleset import RuleSet
from bridge.settings import Settings
from bridge.upstreams import Clients, clients_from_settings

STOPPING = threading.Event()
"""Set when the worker was asked to stop (SIGTERM): a drain finishes the unit in hand and ends."""


@dataclass
class WorkerProcess:
    settings: Settings
    rules: RuleSet
    clients: Clients
    pid: int
    held: HeldClaims = field(default_factory=HeldClaims)
    guards: dict[str, DestinationGuard] = field(default_factory=dict)
    """The gate of each configured destination's requests (rate limit, 429 pause, circuit breaker)."""

    def executor(self, conn: Redis) -> Executor:
        """An executor on ``conn`` whose claims the process's keeper renews."""
        return Executor(conn, self.clients, self.settings, self.held, self.guards)

    def planner(self, conn: Redis) -> Planner:
        return Planner(conn, self.rules, self.settings, self.clients)


_current: WorkerProcess | None = None


def _build(settings: Settings) -> WorkerProcess:
    clients = clients_from_settings(settings)
    built = WorkerProcess(settings, load_rules(settings.rules_path), clients, os.getpid())
    # The gates' own connection: redis-py's pool opens new sockets in a forked child (a worker pool's).
    built.guards.update(guard_all(sync_client(settings), clients, settings))
    return built


def start(settings: Settings) -> WorkerProcess:
    """Build this process's rules and clients from ``settings`` (replacing any built before)."""
    global _current
    stop()
    _current = _build(settings)
    return _current


def current() -> WorkerProcess:
    """Return this process's worker state; a forked child builds its own clients from the same settings."""
    global _current
    if _current is None:
        raise RuntimeError("the worker process was not started: call workers.process.start(settings) first")
    if _current.pid != os.getpid():
        _current = _build(_current.settings)
    return _current


def stop() -> None:
    """Close the clients and forget the worker state (tests, between configurations)."""
    global _current
    if _current is not None and _current.pid == os.getpid():
        _current.clients.close()
    _current = None
