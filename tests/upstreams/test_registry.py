"""The upstreams' registry: every listed upstream has its folder's three parts, and nothing else names one."""

from __future__ import annotations

import pytest

from bridge.settings import Settings
from bridge.upstreams import DESTINATIONS, action_specs, actions, clients_from_settings, room
from bridge.upstreams.sandbox import SandboxConfig


@pytest.mark.parametrize("name", DESTINATIONS)
def test_each_upstream_has_a_client_its_actions_and_an_emulation(name: str) -> None:
    assert room(name, "client").from_settings(Settings()) is None  # nothing configured, no client
    own = [action for action in room(name, "actions").ACTIONS if action.spec.destination == name]
    assert own
    assert own == list(room(name, "actions").ACTIONS)
    assert room(name, "sandbox").API.name == name


def test_the_action_table_and_the_functions_come_from_the_upstreams() -> None:
    assert set(action_specs()) == set(actions())
    assert {kind.split(".", 1)[0] for kind in actions()} == set(DESTINATIONS)
    assert all(callable(action.perform) for action in actions().values())


def test_the_sandbox_points_every_upstream_at_itself() -> None:
    settings = SandboxConfig().settings_for("http://127.0.0.1:9000")
    with clients_from_settings(settings) as clients:
        assert all(name in clients for name in DESTINATIONS)
