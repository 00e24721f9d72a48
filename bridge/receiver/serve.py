"""The app factory uvicorn imports in each web process: settings from the environment."""

from __future__ import annotations

from starlette.applications import Starlette

from bridge import logs
from bridge.receiver.app import create_app
from bridge.settings import Settings


def app_from_env() -> Starlette:
    """Build the receiver from the environment (each uvicorn worker process calls this once)."""
    settings = Settings.from_env()
    logs.configure(settings.log_level)
    return create_app(settings)
