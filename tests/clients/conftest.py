"""Fixtures of the client tests: the real sandbox on loopback and the bridge's clients configured for it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bridge.clients import Clients, clients_from_settings
from bridge.sandbox import RunningSandbox, SandboxConfig, SandboxControl, serve_in_thread
from bridge.settings import Settings


@pytest.fixture(scope="session")
def upstreams() -> Iterator[RunningSandbox]:
    """One sandbox for the session; each test resets it."""
    with serve_in_thread(SandboxConfig(jsw_max_batch=4)) as running:
        yield running


@pytest.fixture
def control(upstreams: RunningSandbox) -> Iterator[SandboxControl]:
    """The sandbox's control API, after a reset (state, call log and faults)."""
    with SandboxControl(upstreams.url) as sandbox_control:
        sandbox_control.reset()
        yield sandbox_control


@pytest.fixture
def upstream_settings(upstreams: RunningSandbox) -> Settings:
    """Bridge settings pointing at the sandbox with its dev credentials."""
    return Settings.from_env(upstreams.config.env(upstreams.url))


@pytest.fixture
def clients(upstream_settings: Settings, control: SandboxControl) -> Iterator[Clients]:
    """Every client, configured for the sandbox."""
    with clients_from_settings(upstream_settings) as built:
        yield built
