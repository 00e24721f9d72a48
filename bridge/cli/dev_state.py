"""Where ``bridge dev`` tells the operator commands of another terminal which Redis and ports it uses.

``bridge dev`` writes a small JSON file (mode 0600) when it starts and removes it when it stops: its pid
and the variables it set for its processes itself — the embedded Redis's ``REDIS_URL``, ``PORT``, the
sandbox's base URLs and dev credentials, the dev webhook secrets and dashboard login. Dev values only:
a variable taken from the environment is not written. An operator command (``bridge queues``,
``bridge failed``…) run while ``REDIS_URL`` is unset reads the file when the ``bridge dev`` that wrote
it still runs, and takes those values for the variables its own environment leaves unset.

The file is ``BRIDGE_DEV_STATE``, else ``dev.json`` in ``bridge.settings.default_state_dir()``
(``$XDG_RUNTIME_DIR/jira-zendesk-bridge``, else ``~/.cache/jira-zendesk-bridge``).
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

import orjson

from bridge.settings import Settings, default_state_dir

FILE_NAME = "dev.json"
"""Name of the state file in the state directory."""


@dataclass(frozen=True)
class DevState:
    """What a running ``bridge dev`` wrote: its pid and the variables it set for its processes."""

    pid: int
    env: dict[str, str]
    path: Path


def path(settings: Settings) -> Path:
    """Return where ``bridge dev`` writes its state."""
    if settings.dev_state_file:
        return Path(settings.dev_state_file)
    return default_state_dir() / FILE_NAME


def write(settings: Settings, env: dict[str, str]) -> Path:
    """Write this process's state (atomically, readable by this user only); return the file's path."""
    target = path(settings)
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(orjson.dumps({"pid": os.getpid(), "env": env}, option=orjson.OPT_INDENT_2))
    partial.replace(target)
    return target


def read(settings: Settings) -> DevState | None:
    """Return the state of a ``bridge dev`` that still runs, or None (no file, or its writer is gone)."""
    target = path(settings)
    try:
        stored = orjson.loads(target.read_bytes())
        pid, env = int(stored["pid"]), stored["env"]
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None
    if not isinstance(env, dict) or not _alive(pid):
        return None
    return DevState(pid, {str(name): str(value) for name, value in env.items()}, target)


def remove(settings: Settings) -> None:
    """Remove the state file if this process wrote it (another ``bridge dev`` may have replaced it)."""
    state = read(settings)
    if state is not None and state.pid == os.getpid():
        with contextlib.suppress(OSError):
            state.path.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False  # another user's process: not the bridge dev of this user, who wrote the file
    return True
