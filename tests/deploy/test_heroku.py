"""Heroku-style deployment: app.json, Procfile, runtime, image recipe, config errors and rediss://."""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from bridge.connections import sync_client
from bridge.embedded_redis import free_port
from bridge.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def _variables_read_by_settings() -> set[str]:
    source = (ROOT / "bridge" / "settings.py").read_text()
    return set(re.findall(r'env\.\w+\(\s*"([A-Z][A-Z0-9_]+)"', source))


def test_app_json_declares_every_variable_redis_and_both_processes() -> None:
    app = json.loads((ROOT / "app.json").read_text())
    declared = set(app["env"])
    # REDIS_URL comes from the add-on and PORT from the platform.
    missing = _variables_read_by_settings() - declared - {"REDIS_URL", "PORT"}
    assert not missing, f"app.json does not declare {sorted(missing)}"
    assert any(addon["plan"].startswith("heroku-redis") for addon in app["addons"])
    assert set(app["formation"]) == {"web", "worker"}
    assert app["env"]["REDIS_SSL_VERIFY"]["value"] == "false"


def test_procfile_runs_the_contracts_two_commands() -> None:
    lines = (ROOT / "Procfile").read_text().strip().splitlines()
    assert lines == ["web: bridge web", "worker: bridge worker"]


def test_python_version_file_matches_the_package() -> None:
    version = (ROOT / ".python-version").read_text().strip()
    assert version == "3.11"
    assert 'requires-python = ">=3.11"' in (ROOT / "pyproject.toml").read_text()


def test_dockerfile_is_slim_non_root_and_runs_the_bridge() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "FROM python:3.11-slim" in dockerfile
    users = re.findall(r"^USER (\S+)", dockerfile, re.MULTILINE)
    assert users
    assert users[-1] not in ("root", "0")
    assert 'CMD ["bridge", "web"]' in dockerfile


@pytest.mark.parametrize("command", ["web", "worker"])
def test_wrong_configuration_stops_at_start_with_one_line(command: str) -> None:
    env = {"PATH": "/usr/bin:/bin", "REDIS_URL": "http://not-redis", "HOME": "/tmp"}
    done = subprocess.run(
        [sys.executable, "-m", "bridge", command], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "bridge: configuration error: REDIS_URL must be a redis/rediss/unix URL, got 'http://not-redis'"
    ]


@pytest.fixture
def tls_redis(tmp_path: Path) -> Iterator[int]:
    """A private redis-server speaking only TLS with a self-signed certificate (as Heroku Redis does)."""
    server = shutil.which("redis-server")
    openssl = shutil.which("openssl")
    assert server is not None, "redis-server is needed on the PATH"
    assert openssl is not None, "openssl is needed on the PATH"
    cert, key = tmp_path / "redis.crt", tmp_path / "redis.key"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=redis.internal",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    port = free_port()
    process = subprocess.Popen(
        [server, "--port", "0", "--tls-port", str(port), "--tls-cert-file", str(cert), "--tls-key-file", str(key),
         "--tls-auth-clients", "no", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_rediss_with_a_self_signed_certificate_needs_redis_ssl_verify_false(tls_redis: int) -> None:
    url = f"rediss://127.0.0.1:{tls_redis}/0"
    trusting = sync_client(Settings(redis_url=url, redis_ssl_verify=False), socket_timeout=5)
    assert trusting.ping() is True
    trusting.close()
    strict = sync_client(Settings(redis_url=url, redis_ssl_verify=True), socket_timeout=5)
    with pytest.raises(redis.ConnectionError):
        strict.ping()
    strict.close()
