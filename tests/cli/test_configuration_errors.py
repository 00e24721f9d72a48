"""A bad value of any variable ends any command in one line naming the variable, never in a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bridge.cli import COMMANDS, main
from bridge.settings import Settings

BAD_VALUES = {
    "REDIS_URL": "localhost:6379",
    "REDIS_SSL_VERIFY": "maybe",
    "PORT": "abc",
    "WEB_CONCURRENCY": "two",
    "BRIDGE_SIGNATURE_TOLERANCE_S": "5min",
    "BRIDGE_MAX_BODY_BYTES": "1MB",
    "JIRA_BASE_URL": "example.atlassian.net",
    "ZENDESK_BASE_URL": "ftp://example.zendesk.com",
    "SALESFORCE_CONNECTOR_BASE_URL": "jira.example.com",
    "JSM_OPS_BASE_URL": "/jsm/ops",
    "BRIDGE_RULES": "/nonexistent/rules.yaml",
    "BRIDGE_IDEMPOTENCY_TTL_S": "30d",
    "BRIDGE_RECORD_RETENTION_S": "0",
    "BRIDGE_RETRY_MAX_ATTEMPTS": "many",
    "BRIDGE_RETRY_BASE_S": "2s",
    "BRIDGE_RETRY_MAX_S": "-1",
    "BRIDGE_CALLS_JOB_TIMEOUT_S": "0",
    "BRIDGE_WORKER_LEASE_S": "abc",
    "BRIDGE_JIRA_MAX_AGE_S": "3h",
    "BRIDGE_HEADER_TIMEOUT_S": "soon",
    "BRIDGE_BODY_TIMEOUT_S": "-5",
    "BRIDGE_MAX_CONNECTIONS": "lots",
    "BRIDGE_RATE_LIMIT_JIRA": "fast",
    "BRIDGE_RATE_LIMIT_JIRA_SOFTWARE": "-2",
    "BRIDGE_RATE_LIMIT_ZENDESK": "10/s",
    "BRIDGE_RATE_LIMIT_SALESFORCE": "none",
    "BRIDGE_RATE_LIMIT_JSM": "x",
    "BRIDGE_LOG_LEVEL": "loud",
    "BRIDGE_RESYNC_EVERY_S": "hourly",
    "BRIDGE_RECONCILE_EVERY_S": "0",
    "BRIDGE_ZENDESK_EXPORT_PER_MINUTE": "fast",
    "OTEL_SDK_DISABLED": "perhaps",
    "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment",
    "OTEL_TRACES_EXPORTER": "jaeger",
    "OTEL_TRACES_SAMPLER": "sometimes",
    "OTEL_TRACES_SAMPLER_ARG": "1.5",
    "OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4318",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "grpc://collector:4317",
    "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/json",
    "OTEL_EXPORTER_OTLP_HEADERS": "Authorization Bearer abc",
    "OTEL_EXPORTER_OTLP_TRACES_HEADERS": "=abc",
    "OTEL_EXPORTER_OTLP_TIMEOUT": "10s",
    "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "0",
    "OTEL_EXPORTER_OTLP_COMPRESSION": "zstd",
    "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION": "brotli",
    "OTEL_EXPORTER_OTLP_CERTIFICATE": "/nonexistent/ca.pem",
    "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE": "/nonexistent/traces-ca.pem",
    "OTEL_EXPORTER_OTLP_CLIENT_KEY": "/nonexistent/key.pem",
    "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY": "/nonexistent/traces-key.pem",
    "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE": "/nonexistent/cert.pem",
    "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE": "/nonexistent/traces-cert.pem",
    "OTEL_BSP_SCHEDULE_DELAY": "5 s",
    "OTEL_BSP_EXPORT_TIMEOUT": "-1",
    "OTEL_BSP_MAX_QUEUE_SIZE": "big",
    "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "0",
}
"""A malformed value for every variable that has a form."""

FREE_TEXT = {
    "JIRA_WEBHOOK_SECRET", "JIRA_WEBHOOK_TOKEN", "ZENDESK_WEBHOOK_SECRET", "JIRA_EMAIL", "JIRA_API_TOKEN",
    "JIRA_CONNECT_APP_KEY", "JIRA_CONNECT_SHARED_SECRET", "ZENDESK_EMAIL", "ZENDESK_API_TOKEN",
    "SALESFORCE_CONNECTOR_PAT", "JSM_EMAIL", "JSM_API_TOKEN", "JSM_INTEGRATION_ID", "ZENDESK_JIRA_FIELD_ID",
    "JIRA_ZENDESK_FIELD", "JIRA_SALESFORCE_FIELD", "SALESFORCE_OBJECT_TYPE", "JIRA_BRIDGE_ACCOUNT_ID",
    "ZENDESK_BRIDGE_USER_ID", "BRIDGE_DASHBOARD_USER", "BRIDGE_DASHBOARD_PASSWORD", "BRIDGE_DEV_STATE",
    "OTEL_SERVICE_NAME",
}  # fmt: skip
"""Variables any text is a value of (secrets, names, ids): none can be malformed."""

ARGUMENTS = {
    "web": [],
    "worker": ["--burst"],
    "dev": [],
    "send-sample": ["zendesk"],
    "sandbox": [],
    "rules check": ["default"],
    "rules test": ["default", "zendesk"],
    "jsm apply": ["actions.yaml"],
    "queues": [],
    "failed": [],
    "replay": ["some-event"],
    "events search": ["PROJ-1"],
    "reconcile": [],
    "resync": ["--since", "2026-12-01"],
    "audit": [],
}
"""Every command with the arguments it needs to start."""

VARIABLES = [str(field.validation_alias) for field in Settings.model_fields.values()]


def test_every_variable_and_every_command_is_covered() -> None:
    assert set(BAD_VALUES) | FREE_TEXT == set(VARIABLES), (
        "give a new variable a bad value (or call it free text)"
    )
    assert not set(BAD_VALUES) & FREE_TEXT
    assert set(ARGUMENTS) == set(COMMANDS)


@pytest.mark.parametrize("variable", sorted(BAD_VALUES))
def test_a_bad_value_stops_every_command_with_one_line_naming_it(
    variable: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(variable, BAD_VALUES[variable])
    for command, arguments in ARGUMENTS.items():
        code = main([*command.split(), *arguments])

        captured = capsys.readouterr()
        assert code == 2, command
        assert captured.out == "", command
        (line,) = captured.err.splitlines()
        assert line.startswith(f"bridge: configuration error: {variable} "), (command, line)


@pytest.mark.parametrize(
    ("variable", "value", "command"),
    [
        ("PORT", "abc", ["dev"]),
        ("WEB_CONCURRENCY", "two", ["web"]),
        ("BRIDGE_WORKER_LEASE_S", "abc", ["worker"]),
    ],
)
def test_a_real_process_says_one_line_and_exits_2(
    variable: str, value: str, command: list[str], tmp_path: Path
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bridge", *command],
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), variable: value},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        f"bridge: configuration error: {variable} must be a whole number, got {value!r}"
    ]


def test_a_bad_exporter_header_is_named_without_showing_its_value(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The headers carry the collector's credentials: the line says what is wrong, never the value.
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-api-key=ok,Authorization Bearer s3cr3t-token")

    assert main(["queues"]) == 2

    line = capsys.readouterr().err.strip()
    assert line == (
        "bridge: configuration error: OTEL_EXPORTER_OTLP_HEADERS must be comma-separated key=value pairs:"
        " item 2 is not key=value (value hidden)"
    )
    assert "s3cr3t" not in line


def test_help_is_shown_whatever_the_variables_say(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bridge", "--help"],
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PORT": "abc"},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 0
    assert "usage: bridge" in done.stdout
    assert done.stderr == ""
