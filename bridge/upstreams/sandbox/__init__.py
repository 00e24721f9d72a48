"""The sandbox's shared machinery: serving every upstream's emulation, with faults, a call log and control.

Each upstream's emulation lives in its own folder (``bridge/upstreams/<name>/sandbox.py``).

Prefixes: ``/jira`` (platform remote links and get-issue, Jira Software remote links),
``/zendesk``, ``/salesforce``, ``/jsm/ops/api/sandbox-cloud``; control API under ``/_sandbox``.
See docs/sandbox.md.
"""

from __future__ import annotations

from bridge.upstreams.sandbox.app import Sandbox, create_app
from bridge.upstreams.sandbox.config import SandboxConfig
from bridge.upstreams.sandbox.control_client import SandboxControl
from bridge.upstreams.sandbox.running import RunningSandbox, serve_in_thread

__all__ = ["RunningSandbox", "Sandbox", "SandboxConfig", "SandboxControl", "create_app", "serve_in_thread"]
