"""The bridge's configuration: read from the environment here, and only here.

Every variable is cast at this boundary; a missing or malformed one raises ``SettingsError`` naming it,
which the CLI prints as one line. Secrets are wrapped in ``Secret`` so that no repr, log line or page
shows them. Tests build ``Settings`` directly.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from bridge import defaults, upstreams
from bridge.errors import SettingsError


class Secret:
    """A string that does not show itself in reprs, logs or tracebacks."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """Return the secret itself, for signing or authenticating."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class Settings:
    """Everything the bridge's processes are configured with (CONTRACT.md, "Configuration")."""

    redis_url: str | None = None
    redis_ssl_verify: bool = True
    port: int = defaults.DEFAULT_PORT

    jira_webhook_secret: Secret | None = None
    jira_webhook_token: Secret | None = None
    zendesk_webhook_secret: Secret | None = None
    signature_tolerance_s: int = defaults.DEFAULT_SIGNATURE_TOLERANCE_S
    max_body_bytes: int = defaults.DEFAULT_MAX_BODY_BYTES

    jira_base_url: str | None = None
    jira_email: str | None = None
    jira_api_token: Secret | None = None
    jira_connect_app_key: str | None = None
    jira_connect_shared_secret: Secret | None = None
    zendesk_base_url: str | None = None
    zendesk_email: str | None = None
    zendesk_api_token: Secret | None = None
    salesforce_connector_base_url: str | None = None
    salesforce_connector_pat: Secret | None = None
    jsm_ops_base_url: str | None = None
    jsm_email: str | None = None
    jsm_api_token: Secret | None = None
    jsm_integration_id: str | None = None

    zendesk_jira_field_id: str | None = None
    jira_zendesk_field: str | None = None
    jira_salesforce_field: str | None = None
    salesforce_object_type: str = "Case"
    jira_bridge_account_id: str | None = None
    zendesk_bridge_user_id: str | None = None

    rules_path: str | None = None
    idempotency_ttl_s: int = defaults.DEFAULT_IDEMPOTENCY_TTL_S
    record_retention_s: int = defaults.DEFAULT_RECORD_RETENTION_S
    retry_max_attempts: int = 8
    retry_base_s: float = 2.0
    retry_max_s: float = 600.0
    claim_ttl_s: int = 60
    calls_job_timeout_s: int = 120
    rate_limits: Mapping[str, float] = field(default_factory=dict)
    dashboard_user: str | None = None
    dashboard_password: Secret | None = None
    log_level: str = "INFO"

    extra: Mapping[str, str] = field(default_factory=dict, repr=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read and cast every variable; raise ``SettingsError`` naming the first bad one."""
        env = _Env(os.environ if environ is None else environ)
        return cls(
            redis_url=env.url("REDIS_URL", schemes=("redis", "rediss", "unix")),
            redis_ssl_verify=env.boolean("REDIS_SSL_VERIFY", True),
            port=env.integer("PORT", defaults.DEFAULT_PORT, minimum=1, maximum=65535),
            jira_webhook_secret=env.secret("JIRA_WEBHOOK_SECRET"),
            jira_webhook_token=env.secret("JIRA_WEBHOOK_TOKEN"),
            zendesk_webhook_secret=env.secret("ZENDESK_WEBHOOK_SECRET"),
            signature_tolerance_s=env.integer(
                "BRIDGE_SIGNATURE_TOLERANCE_S", defaults.DEFAULT_SIGNATURE_TOLERANCE_S, minimum=1
            ),
            max_body_bytes=env.integer("BRIDGE_MAX_BODY_BYTES", defaults.DEFAULT_MAX_BODY_BYTES, minimum=1),
            jira_base_url=env.url("JIRA_BASE_URL"),
            jira_email=env.text("JIRA_EMAIL"),
            jira_api_token=env.secret("JIRA_API_TOKEN"),
            jira_connect_app_key=env.text("JIRA_CONNECT_APP_KEY"),
            jira_connect_shared_secret=env.secret("JIRA_CONNECT_SHARED_SECRET"),
            zendesk_base_url=env.url("ZENDESK_BASE_URL"),
            zendesk_email=env.text("ZENDESK_EMAIL"),
            zendesk_api_token=env.secret("ZENDESK_API_TOKEN"),
            salesforce_connector_base_url=env.url("SALESFORCE_CONNECTOR_BASE_URL"),
            salesforce_connector_pat=env.secret("SALESFORCE_CONNECTOR_PAT"),
            jsm_ops_base_url=env.url("JSM_OPS_BASE_URL"),
            jsm_email=env.text("JSM_EMAIL"),
            jsm_api_token=env.secret("JSM_API_TOKEN"),
            jsm_integration_id=env.text("JSM_INTEGRATION_ID"),
            zendesk_jira_field_id=env.text("ZENDESK_JIRA_FIELD_ID"),
            jira_zendesk_field=env.text("JIRA_ZENDESK_FIELD"),
            jira_salesforce_field=env.text("JIRA_SALESFORCE_FIELD"),
            salesforce_object_type=env.text("SALESFORCE_OBJECT_TYPE") or "Case",
            jira_bridge_account_id=env.text("JIRA_BRIDGE_ACCOUNT_ID"),
            zendesk_bridge_user_id=env.text("ZENDESK_BRIDGE_USER_ID"),
            rules_path=env.text("BRIDGE_RULES"),
            idempotency_ttl_s=env.integer(
                "BRIDGE_IDEMPOTENCY_TTL_S", defaults.DEFAULT_IDEMPOTENCY_TTL_S, minimum=60
            ),
            record_retention_s=env.integer(
                "BRIDGE_RECORD_RETENTION_S", defaults.DEFAULT_RECORD_RETENTION_S, minimum=60
            ),
            retry_max_attempts=env.integer("BRIDGE_RETRY_MAX_ATTEMPTS", 8, minimum=1),
            retry_base_s=env.number("BRIDGE_RETRY_BASE_S", 2.0, minimum=0.0),
            retry_max_s=env.number("BRIDGE_RETRY_MAX_S", 600.0, minimum=0.0),
            claim_ttl_s=env.integer("BRIDGE_CLAIM_TTL_S", 60, minimum=1),
            calls_job_timeout_s=env.integer("BRIDGE_CALLS_JOB_TIMEOUT_S", 120, minimum=1),
            rate_limits={
                destination: limit
                for destination in upstreams.DESTINATIONS
                if (limit := env.number(f"BRIDGE_RATE_LIMIT_{destination.upper()}", 0.0, minimum=0.0)) > 0
            },
            dashboard_user=env.text("BRIDGE_DASHBOARD_USER"),
            dashboard_password=env.secret("BRIDGE_DASHBOARD_PASSWORD"),
            log_level=env.choice("BRIDGE_LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR")),
            extra={k: v for k, v in env.environ.items() if k.startswith("BRIDGE_")},
        )

    def replace(self, **changes: Any) -> Settings:
        """Return a copy with ``changes`` applied (tests and ``bridge dev`` use it)."""
        return dataclasses.replace(self, **changes)

    @property
    def effective_redis_url(self) -> str:
        """REDIS_URL, or a Redis on this host's default port."""
        return self.redis_url or "redis://127.0.0.1:6379/0"


class _Env:
    """Typed reads of environment variables; every failure names the variable."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ

    def text(self, name: str) -> str | None:
        value = self.environ.get(name, "").strip()
        return value or None

    def secret(self, name: str) -> Secret | None:
        # Secrets are used exactly as given (Zendesk's is not base64-decoded), only empty means unset.
        value = self.environ.get(name, "")
        return Secret(value) if value else None

    def integer(self, name: str, default: int, minimum: int | None = None, maximum: int | None = None) -> int:
        raw = self.text(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None
        if minimum is not None and value < minimum:
            raise SettingsError(f"{name} must be at least {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise SettingsError(f"{name} must be at most {maximum}, got {value}")
        return value

    def number(self, name: str, default: float, minimum: float | None = None) -> float:
        raw = self.text(name)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise SettingsError(f"{name} must be a number, got {raw!r}") from None
        if minimum is not None and value < minimum:
            raise SettingsError(f"{name} must be at least {minimum:g}, got {value:g}")
        return value

    def boolean(self, name: str, default: bool) -> bool:
        raw = self.text(name)
        if raw is None:
            return default
        lowered = raw.lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise SettingsError(f"{name} must be true or false, got {raw!r}")

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        raw = self.text(name)
        if raw is None:
            return default
        if raw.upper() not in choices:
            raise SettingsError(f"{name} must be one of {', '.join(choices)}, got {raw!r}")
        return raw.upper()

    def url(self, name: str, schemes: tuple[str, ...] = ("http", "https")) -> str | None:
        raw = self.text(name)
        if raw is None:
            return None
        parts = urlsplit(raw)
        if parts.scheme not in schemes or (parts.scheme != "unix" and not parts.netloc):
            raise SettingsError(f"{name} must be a {'/'.join(schemes)} URL, got {_redact_url(raw)!r}")
        # A trailing slash would double up when paths are appended to a base URL with a prefix.
        return raw.rstrip("/") if schemes == ("http", "https") else raw


def _redact_url(url: str) -> str:
    """Hide a password in a URL, so that an error message never shows one."""
    parts = urlsplit(url)
    if parts.password:
        return url.replace(parts.password, "****")
    return url
