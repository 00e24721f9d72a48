"""The sandbox: in-memory emulations of the five upstream APIs, with a control API for tests.

Prefixes: ``/jira`` (platform remote links and get-issue, Jira Software remote links),
``/zendesk``, ``/salesforce``, ``/jsm/ops/api/sandbox-cloud``; control API under ``/_sandbox``.
See docs/sandbox.md.
"""

from __future__ import annotations

from bridge.sandbox.app import Sandbox, create_app
from bridge.sandbox.config import SandboxConfig
from bridge.sandbox.control import SandboxControl
from bridge.sandbox.serve import RunningSandbox, serve_in_thread

__all__ = ["RunningSandbox", "Sandbox", "SandboxConfig", "SandboxControl", "create_app", "serve_in_thread"]
