"""What a worker process sets up once and keeps: settings, rules, pooled clients, the executor.

Built on first use in each process (a ``WorkerPool`` forks its workers; each builds its own clients, so
no connection is shared across a fork). ``bridge worker`` builds it at start, so a bad rules file or
configuration stops the process there, not at the first event.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

from redis import Redis

from bridge.executor import Executor
from bridge.rules.loader import load_rules
from bridge.rules.ruleset import RuleSet
from bridge.settings import Settings
from bridge.upstreams import Clients, clients_from_settings


@dataclass
class WorkerContext:
    settings: Settings
    rules: RuleSet
    clients: Clients
    pid: int

    def executor(self, conn: Redis) -> Executor:
        return Executor(conn, self.clients, self.settings)


_current: WorkerContext | None = None

STOPPING = threading.Event()
"""Set when the worker was asked to stop (SIGTERM): a drain finishes the unit in hand and ends."""


def current() -> WorkerContext:
    """Return this process's context, building it on first use."""
    global _current
    if _current is None or _current.pid != os.getpid():
        settings = Settings.from_env()
        _current = WorkerContext(
            settings, load_rules(settings.rules_path), clients_from_settings(settings), os.getpid()
        )
    return _current


def reset() -> None:
    """Forget the context (tests that change the environment)."""
    global _current
    if _current is not None:
        _current.clients.close()
    _current = None
