"""The bridge's configuration: read from the environment here, and only here (pydantic-settings).

Every variable keeps its documented name (no prefix: ``REDIS_URL``, ``JIRA_BASE_URL``…) and is cast at
this boundary; an empty value counts as unset. ``Settings.from_env()`` turns pydantic's validation error
into a ``SettingsError`` of one line naming the variable, which the CLI prints. Secrets are ``Secret``
values that no repr, log line or page shows. Tests build ``Settings(field=...)`` directly.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import unquote, urlsplit

from pydantic import BeforeValidator, Field, ValidationError
from pydantic_core import PydanticUseDefault
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from bridge import defaults
from bridge.errors import SettingsError
from bridge.upstreams import DESTINATIONS


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


# Casts at the boundary. Each raises ValueError with the message the variable's one line ends with; a
# blank value means "unset" (PydanticUseDefault), as an empty one does.


def _blank(value: Any) -> bool:
    return isinstance(value, str) and not value.strip()


def _text(value: Any) -> str | None:
    if value is None or _blank(value):
        raise PydanticUseDefault
    return str(value).strip()


def _secret(value: Any) -> Secret | None:
    # Secrets are used exactly as given (Zendesk's is not base64-decoded); only empty means unset.
    if value is None or isinstance(value, Secret):
        return value
    if value == "":
        raise PydanticUseDefault
    return Secret(str(value))


def _whole(minimum: int | None = None, maximum: int | None = None) -> BeforeValidator:
    def cast(value: Any) -> int:
        if _blank(value):
            raise PydanticUseDefault
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ValueError(f"must be a whole number, got {value!r}")
        try:
            number = int(value)
        except ValueError:
            raise ValueError(f"must be a whole number, got {value!r}") from None
        if minimum is not None and number < minimum:
            raise ValueError(f"must be at least {minimum}, got {number}")
        if maximum is not None and number > maximum:
            raise ValueError(f"must be at most {maximum}, got {number}")
        return number

    return BeforeValidator(cast)


def _number(minimum: float) -> BeforeValidator:
    def cast(value: Any) -> float:
        if _blank(value):
            raise PydanticUseDefault
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"must be a number, got {value!r}") from None
        if number < minimum:
            raise ValueError(f"must be at least {minimum:g}, got {number:g}")
        return number

    return BeforeValidator(cast)


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if _blank(value):
        raise PydanticUseDefault
    lowered = str(value).strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"must be true or false, got {value!r}")


def _url(*schemes: str) -> BeforeValidator:
    def cast(value: Any) -> str:
        raw = _text(value)
        assert raw is not None
        parts = urlsplit(raw)
        if parts.scheme not in schemes or (parts.scheme != "unix" and not parts.netloc):
            raise ValueError(f"must be a {'/'.join(schemes)} URL, got {redact_url(raw)!r}")
        # A trailing slash would double up when paths are appended to a base URL with a prefix.
        return raw.rstrip("/") if schemes == ("http", "https") else raw

    return BeforeValidator(cast)


def _log_level(value: Any) -> str:
    raw = _text(value)
    assert raw is not None
    choices = ("DEBUG", "INFO", "WARNING", "ERROR")
    if raw.upper() not in choices:
        raise ValueError(f"must be one of {', '.join(choices)}, got {raw!r}")
    return raw.upper()


def _readable_file(value: Any) -> str:
    raw = _text(value)
    assert raw is not None
    if not Path(raw).is_file():
        raise ValueError(f"must name a readable file, got {raw!r} (no such file)")
    return raw


def _choice(*choices: str) -> BeforeValidator:
    def cast(value: Any) -> str:
        raw = _text(value)
        assert raw is not None
        if raw.lower() not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}, got {raw!r}")
        return raw.lower()

    return BeforeValidator(cast)


def _exporters(value: Any) -> tuple[str, ...]:
    raw = _text(",".join(value) if isinstance(value, tuple | list) else value)
    assert raw is not None
    names = tuple(name.strip().lower() for name in raw.split(","))
    unknown = [name for name in names if name not in TRACE_EXPORTERS]
    if unknown:
        raise ValueError(f"must name exporters among {', '.join(TRACE_EXPORTERS)}, got {raw!r}")
    return names


def _ratio(value: Any) -> float:
    if _blank(value):
        raise PydanticUseDefault
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"must be a number from 0 to 1, got {value!r}") from None
    if not 0.0 <= number <= 1.0:
        raise ValueError(f"must be a number from 0 to 1, got {number:g}")
    return number


def key_values(text: str) -> dict[str, str]:
    """Parse ``key1=value1,key2=value2`` (values percent-encoded), the form of ``OTEL_RESOURCE_ATTRIBUTES``
    and ``OTEL_EXPORTER_OTLP_HEADERS``; raise ``ValueError`` naming the first malformed item's position.

    https://opentelemetry.io/docs/specs/otel/protocol/exporter/#specifying-headers-via-environment-variables
    """
    found: dict[str, str] = {}
    for position, item in enumerate(text.split(","), start=1):
        if not item.strip():
            continue
        key, equals, value = item.partition("=")
        if not equals or not key.strip():
            raise ValueError(f"item {position} is not key=value")
        found[unquote(key.strip())] = unquote(value.strip())
    return found


def _pairs(value: Any) -> dict[str, str]:
    raw = _text(value)
    assert raw is not None
    try:
        return key_values(raw)
    except ValueError as error:
        raise ValueError(f"must be comma-separated key=value pairs: {error}, got {raw!r}") from None


def _secret_pairs(value: Any) -> Secret | None:
    # Exporter headers carry credentials (an API key): the message names the item, never shows a value.
    secret = _secret(value)
    if secret is not None:
        try:
            key_values(secret.reveal())
        except ValueError as error:
            raise ValueError(f"must be comma-separated key=value pairs: {error} (value hidden)") from None
    return secret


def redact_url(url: str) -> str:
    """Hide a password in a URL, so that an error message never shows one."""
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":****@", 1)
    return url


TRACE_EXPORTERS = ("otlp", "console", "none")
"""What ``OTEL_TRACES_EXPORTER`` may name (comma-separated): OTLP over HTTP, standard output, nothing."""

OTLP_PROTOCOLS = ("http/protobuf",)
"""OTLP protocols the bridge ships an exporter for (``opentelemetry-exporter-otlp-proto-http``)."""

TRACE_SAMPLERS = (
    "always_on",
    "always_off",
    "traceidratio",
    "parentbased_always_on",
    "parentbased_always_off",
    "parentbased_traceidratio",
)
"""What ``OTEL_TRACES_SAMPLER`` may name (the specification's built-in samplers)."""

Text = Annotated[str | None, BeforeValidator(_text)]
SecretText = Annotated[Secret | None, BeforeValidator(_secret)]
HttpUrl = Annotated[str | None, _url("http", "https")]
Flag = Annotated[bool, BeforeValidator(_boolean)]
Seconds = Annotated[int, _whole(minimum=1)]
Millis = Annotated[int | None, _whole(minimum=1)]
ReadableFile = Annotated[str | None, BeforeValidator(_readable_file)]
OtlpProtocol = Annotated[str | None, _choice(*OTLP_PROTOCOLS)]
OtlpCompression = Annotated[str | None, _choice("gzip", "deflate", "none")]
SecretPairs = Annotated[Secret | None, BeforeValidator(_secret_pairs)]
RateLimit = Annotated[float, _number(minimum=0.0)]


def _env(name: str, default: Any = None) -> Any:
    """A field read from the environment variable ``name`` (its alias)."""
    return Field(default, validation_alias=name)


class Settings(BaseSettings):
    """Everything the bridge's processes are configured with (README.md, "Configuration")."""

    model_config = SettingsConfigDict(
        frozen=True,
        populate_by_name=True,
        case_sensitive=True,
        env_ignore_empty=True,
        extra="ignore",
        arbitrary_types_allowed=True,
        validate_default=False,
    )

    redis_url: Annotated[str | None, _url("redis", "rediss", "unix")] = _env("REDIS_URL")
    redis_ssl_verify: Flag = _env("REDIS_SSL_VERIFY", True)
    port: Annotated[int, _whole(minimum=1, maximum=65535)] = _env("PORT", defaults.DEFAULT_PORT)
    web_concurrency: Annotated[int, _whole(minimum=1)] = _env("WEB_CONCURRENCY", 1)

    jira_webhook_secret: SecretText = _env("JIRA_WEBHOOK_SECRET")
    jira_webhook_token: SecretText = _env("JIRA_WEBHOOK_TOKEN")
    zendesk_webhook_secret: SecretText = _env("ZENDESK_WEBHOOK_SECRET")
    signature_tolerance_s: Seconds = _env(
        "BRIDGE_SIGNATURE_TOLERANCE_S", defaults.DEFAULT_SIGNATURE_TOLERANCE_S
    )
    max_body_bytes: Annotated[int, _whole(minimum=1)] = _env(
        "BRIDGE_MAX_BODY_BYTES", defaults.DEFAULT_MAX_BODY_BYTES
    )
    jira_max_age_s: Annotated[int, _whole(minimum=60)] = _env(
        "BRIDGE_JIRA_MAX_AGE_S", defaults.DEFAULT_JIRA_MAX_AGE_S
    )
    header_timeout_s: Annotated[float, _number(minimum=0.1)] = _env(
        "BRIDGE_HEADER_TIMEOUT_S", defaults.DEFAULT_HEADER_TIMEOUT_S
    )
    body_timeout_s: Annotated[float, _number(minimum=0.1)] = _env(
        "BRIDGE_BODY_TIMEOUT_S", defaults.DEFAULT_BODY_TIMEOUT_S
    )
    max_connections: Annotated[int, _whole(minimum=1)] = _env(
        "BRIDGE_MAX_CONNECTIONS", defaults.DEFAULT_MAX_CONNECTIONS
    )

    jira_base_url: HttpUrl = _env("JIRA_BASE_URL")
    jira_email: Text = _env("JIRA_EMAIL")
    jira_api_token: SecretText = _env("JIRA_API_TOKEN")
    jira_connect_app_key: Text = _env("JIRA_CONNECT_APP_KEY")
    jira_connect_shared_secret: SecretText = _env("JIRA_CONNECT_SHARED_SECRET")
    zendesk_base_url: HttpUrl = _env("ZENDESK_BASE_URL")
    zendesk_email: Text = _env("ZENDESK_EMAIL")
    zendesk_api_token: SecretText = _env("ZENDESK_API_TOKEN")
    salesforce_connector_base_url: HttpUrl = _env("SALESFORCE_CONNECTOR_BASE_URL")
    salesforce_connector_pat: SecretText = _env("SALESFORCE_CONNECTOR_PAT")
    jsm_ops_base_url: HttpUrl = _env("JSM_OPS_BASE_URL")
    jsm_email: Text = _env("JSM_EMAIL")
    jsm_api_token: SecretText = _env("JSM_API_TOKEN")
    jsm_integration_id: Text = _env("JSM_INTEGRATION_ID")

    zendesk_jira_field_id: Text = _env("ZENDESK_JIRA_FIELD_ID")
    jira_zendesk_field: Text = _env("JIRA_ZENDESK_FIELD")
    jira_salesforce_field: Text = _env("JIRA_SALESFORCE_FIELD")
    salesforce_object_type: Annotated[str, BeforeValidator(_text)] = _env("SALESFORCE_OBJECT_TYPE", "Case")
    jira_bridge_account_id: Text = _env("JIRA_BRIDGE_ACCOUNT_ID")
    zendesk_bridge_user_id: Text = _env("ZENDESK_BRIDGE_USER_ID")

    rules_path: Annotated[str | None, BeforeValidator(_readable_file)] = _env("BRIDGE_RULES")
    idempotency_ttl_s: Annotated[int, _whole(minimum=60)] = _env(
        "BRIDGE_IDEMPOTENCY_TTL_S", defaults.DEFAULT_IDEMPOTENCY_TTL_S
    )
    record_retention_s: Annotated[int, _whole(minimum=60)] = _env(
        "BRIDGE_RECORD_RETENTION_S", defaults.DEFAULT_RECORD_RETENTION_S
    )
    retry_max_attempts: Annotated[int, _whole(minimum=1)] = _env("BRIDGE_RETRY_MAX_ATTEMPTS", 8)
    retry_base_s: Annotated[float, _number(minimum=0.0)] = _env("BRIDGE_RETRY_BASE_S", 2.0)
    retry_max_s: Annotated[float, _number(minimum=0.0)] = _env("BRIDGE_RETRY_MAX_S", 600.0)
    calls_job_timeout_s: Seconds = _env("BRIDGE_CALLS_JOB_TIMEOUT_S", 120)
    worker_lease_s: Seconds = _env("BRIDGE_WORKER_LEASE_S", defaults.DEFAULT_WORKER_LEASE_S)
    # Calls per second to each destination, shared by all workers (0: no limit), one variable each.
    rate_limit_jira: RateLimit = _env("BRIDGE_RATE_LIMIT_JIRA", 0.0)
    rate_limit_jira_software: RateLimit = _env("BRIDGE_RATE_LIMIT_JIRA_SOFTWARE", 0.0)
    rate_limit_zendesk: RateLimit = _env("BRIDGE_RATE_LIMIT_ZENDESK", 0.0)
    rate_limit_salesforce: RateLimit = _env("BRIDGE_RATE_LIMIT_SALESFORCE", 0.0)
    rate_limit_jsm: RateLimit = _env("BRIDGE_RATE_LIMIT_JSM", 0.0)
    # How often the workers start a catch-up from the sources and a link audit (unset: never by themselves).
    resync_every_s: Annotated[int | None, _whole(minimum=1)] = _env("BRIDGE_RESYNC_EVERY_S")
    reconcile_every_s: Annotated[int | None, _whole(minimum=1)] = _env("BRIDGE_RECONCILE_EVERY_S")
    # Zendesk's incremental export has its own rate limit: 10 requests a minute, 30 with High Volume.
    zendesk_export_per_minute: Annotated[int, _whole(minimum=1)] = _env(
        "BRIDGE_ZENDESK_EXPORT_PER_MINUTE", 10
    )
    dashboard_user: Text = _env("BRIDGE_DASHBOARD_USER")
    dashboard_password: SecretText = _env("BRIDGE_DASHBOARD_PASSWORD")
    log_level: Annotated[str, BeforeValidator(_log_level)] = _env("BRIDGE_LOG_LEVEL", "INFO")
    # Where ``bridge dev`` says which Redis and ports it uses, for commands in another terminal (unset:
    # ``default_state_dir()``/dev.json).
    dev_state_file: Text = _env("BRIDGE_DEV_STATE")

    # OpenTelemetry's own variables (https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/
    # and .../protocol/exporter/), read here like every other one; bridge/tracing.py builds the SDK from
    # them. Tracing is off unless an exporter or an OTLP endpoint is named (``tracing_enabled``). Times
    # are milliseconds, as the specification says. A TRACES_ variable wins over its general one.
    otel_sdk_disabled: Flag = _env("OTEL_SDK_DISABLED", False)
    otel_service_name: Text = _env("OTEL_SERVICE_NAME")
    # NoDecode: these are the specification's comma-separated forms, not JSON.
    otel_resource_attributes: Annotated[dict[str, str], NoDecode, BeforeValidator(_pairs)] = _env(
        "OTEL_RESOURCE_ATTRIBUTES", {}
    )
    otel_traces_exporter: Annotated[tuple[str, ...] | None, NoDecode, BeforeValidator(_exporters)] = _env(
        "OTEL_TRACES_EXPORTER"
    )
    otel_traces_sampler: Annotated[str, _choice(*TRACE_SAMPLERS)] = _env(
        "OTEL_TRACES_SAMPLER", "parentbased_always_on"
    )
    otel_traces_sampler_arg: Annotated[float, BeforeValidator(_ratio)] = _env("OTEL_TRACES_SAMPLER_ARG", 1.0)
    otel_exporter_otlp_endpoint: HttpUrl = _env("OTEL_EXPORTER_OTLP_ENDPOINT")
    otel_exporter_otlp_traces_endpoint: HttpUrl = _env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    otel_exporter_otlp_protocol: OtlpProtocol = _env("OTEL_EXPORTER_OTLP_PROTOCOL")
    otel_exporter_otlp_traces_protocol: OtlpProtocol = _env("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
    otel_exporter_otlp_headers: SecretPairs = _env("OTEL_EXPORTER_OTLP_HEADERS")
    otel_exporter_otlp_traces_headers: SecretPairs = _env("OTEL_EXPORTER_OTLP_TRACES_HEADERS")
    otel_exporter_otlp_timeout: Millis = _env("OTEL_EXPORTER_OTLP_TIMEOUT")
    otel_exporter_otlp_traces_timeout: Millis = _env("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT")
    otel_exporter_otlp_compression: OtlpCompression = _env("OTEL_EXPORTER_OTLP_COMPRESSION")
    otel_exporter_otlp_traces_compression: OtlpCompression = _env("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION")
    otel_exporter_otlp_certificate: ReadableFile = _env("OTEL_EXPORTER_OTLP_CERTIFICATE")
    otel_exporter_otlp_traces_certificate: ReadableFile = _env("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE")
    otel_exporter_otlp_client_key: ReadableFile = _env("OTEL_EXPORTER_OTLP_CLIENT_KEY")
    otel_exporter_otlp_traces_client_key: ReadableFile = _env("OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY")
    otel_exporter_otlp_client_certificate: ReadableFile = _env("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE")
    otel_exporter_otlp_traces_client_certificate: ReadableFile = _env(
        "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE"
    )
    otel_bsp_schedule_delay: Millis = _env("OTEL_BSP_SCHEDULE_DELAY")
    otel_bsp_export_timeout: Millis = _env("OTEL_BSP_EXPORT_TIMEOUT")
    otel_bsp_max_queue_size: Annotated[int | None, _whole(minimum=1)] = _env("OTEL_BSP_MAX_QUEUE_SIZE")
    otel_bsp_max_export_batch_size: Annotated[int | None, _whole(minimum=1)] = _env(
        "OTEL_BSP_MAX_EXPORT_BATCH_SIZE"
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Only ``from_env`` reads the environment: settings built in code (tests) are what they are given.
        return (init_settings,)

    @classmethod
    def from_env(cls, fallback: Mapping[str, str] | None = None) -> Settings:
        """Read and cast every variable; raise ``SettingsError`` naming the first bad one.

        ``fallback`` gives values (by variable name) for the variables the environment leaves unset: the
        operator commands take ``bridge dev``'s from its state file.
        """
        try:
            return cls(**{**(fallback or {}), **EnvSettingsSource(cls)()})
        except ValidationError as exc:
            raise SettingsError(_one_line(exc)) from None

    def replace(self, **changes: Any) -> Settings:
        """Return a copy with ``changes`` (field names) applied: tests and ``bridge dev`` use it."""
        return self.model_copy(update=changes)

    @property
    def effective_redis_url(self) -> str:
        """REDIS_URL, or a Redis on this host's default port."""
        return self.redis_url or "redis://127.0.0.1:6379/0"

    @property
    def tracing_enabled(self) -> bool:
        """Whether this process exports traces: an exporter other than ``none`` is named, or an OTLP
        endpoint is set, and ``OTEL_SDK_DISABLED`` is not true."""
        if self.otel_sdk_disabled:
            return False
        if self.otel_traces_exporter is not None:
            return any(name != "none" for name in self.otel_traces_exporter)
        return bool(self.otel_exporter_otlp_endpoint or self.otel_exporter_otlp_traces_endpoint)

    @property
    def rate_limits(self) -> dict[str, float]:
        """Calls per second allowed to each destination that has a limit."""
        limits = {
            destination: float(getattr(self, f"rate_limit_{destination}")) for destination in DESTINATIONS
        }
        return {destination: limit for destination, limit in limits.items() if limit > 0}


def _one_line(error: ValidationError) -> str:
    """The first problem of a validation error as ``VARIABLE message`` (pydantic locates it by alias)."""
    first = error.errors()[0]
    variable = ".".join(str(part) for part in first["loc"]) or "settings"
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] != "value_error":
        message = f"{message[:1].lower()}{message[1:]}"
    return f"{variable} {message}"


def default_state_dir() -> Path:
    """Return this user's directory for the bridge's local state: ``$XDG_RUNTIME_DIR`` (a per-login tmpfs
    that the system empties at logout), else ``$XDG_CACHE_HOME`` or ``~/.cache``, with ``jira-zendesk-bridge``."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and Path(runtime).is_dir():
        return Path(runtime) / "jira-zendesk-bridge"
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "jira-zendesk-bridge"


def process_environment() -> dict[str, str]:
    """Return a copy of this process's environment (what ``bridge dev`` hands its child processes)."""
    return dict(os.environ)
