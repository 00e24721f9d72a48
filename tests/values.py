"""Values the tests share: the webhook secrets the test settings are configured with."""

from __future__ import annotations

from collections.abc import Callable

from bridge.settings import Settings
from workers.process import WorkerProcess

JIRA_SECRET = "test-jira-secret"
ZENDESK_SECRET = "test-zendesk-secret"

StartWorker = Callable[[Settings], WorkerProcess]
"""The ``worker_process`` fixture: start this process's worker state from settings."""
