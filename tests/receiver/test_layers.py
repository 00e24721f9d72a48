"""The web process does not load the worker stack: ``bridge`` never imports ``workers``.

Checked in a fresh interpreter, so that modules other tests imported do not hide an import. RQ's own
package (``rq/__init__.py``) imports ``rq.worker`` whenever any part of RQ is imported, and the web
process needs RQ (the receiver's job template, the dashboard's queues), so what is checked of RQ is the
worker machinery only the bridge's worker process uses: ``rq.worker_pool``.
"""

from __future__ import annotations

import json
import subprocess
import sys

WORKER_STACK = ("workers", "rq.worker_pool")


def _modules_after(code: str) -> set[str]:
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True).stdout
    return set(json.loads(out.splitlines()[-1]))


def _worker_stack(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == top or m.startswith(top + ".") for top in WORKER_STACK))


def test_the_app_factory_uvicorn_imports_loads_no_worker_module() -> None:
    modules = _modules_after("import bridge.receiver.factory")
    assert "bridge.receiver.factory" in modules
    assert _worker_stack(modules) == []


def test_the_command_line_names_the_worker_command_without_loading_the_worker() -> None:
    # ``bridge web`` builds the whole parser, ``bridge worker``'s module included, in the web process.
    modules = _modules_after("import bridge.cli; bridge.cli.build_parser()")
    assert "workers.cli" in modules
    assert [m for m in _worker_stack(modules) if m not in ("workers", "workers.cli")] == []
