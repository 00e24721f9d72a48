"""Settings are read from the environment once, cast at the boundary, and fail naming the variable."""

from __future__ import annotations

import pytest

from bridge.errors import SettingsError
from bridge.settings import Secret, Settings


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("PORT", "eighty", "PORT must be a whole number, got 'eighty'"),
        ("PORT", "0", "PORT must be at least 1, got 0"),
        (
            "REDIS_URL",
            "http://user:pw@host/0",
            "REDIS_URL must be a redis/rediss/unix URL, got 'http://user:****@host/0'",
        ),
        ("REDIS_SSL_VERIFY", "maybe", "REDIS_SSL_VERIFY must be true or false, got 'maybe'"),
        (
            "BRIDGE_LOG_LEVEL",
            "loud",
            "BRIDGE_LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, got 'loud'",
        ),
        ("BRIDGE_RATE_LIMIT_ZENDESK", "fast", "BRIDGE_RATE_LIMIT_ZENDESK must be a number, got 'fast'"),
    ],
)
def test_a_bad_value_is_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        Settings.from_env()
    assert str(caught.value) == message


def test_values_are_cast_and_blank_ones_count_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", " ")
    monkeypatch.setenv("JIRA_BASE_URL", "https://example.atlassian.net/jira/")
    monkeypatch.setenv("BRIDGE_LOG_LEVEL", "debug")
    monkeypatch.setenv("BRIDGE_RATE_LIMIT_ZENDESK", "11")
    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    monkeypatch.setenv("ZENDESK_WEBHOOK_SECRET", "c2VjcmV0")

    settings = Settings.from_env()

    assert settings.port == 8000
    assert settings.jira_base_url == "https://example.atlassian.net/jira"
    assert settings.log_level == "DEBUG"
    assert settings.rate_limits == {"zendesk": 11.0}
    assert settings.web_concurrency == 3
    assert settings.zendesk_webhook_secret == Secret("c2VjcmV0")  # used as given, not decoded
    assert "c2VjcmV0" not in repr(settings)


def test_settings_built_in_code_do_not_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://elsewhere:6379/0")
    assert Settings(port=9000).redis_url is None
    assert Settings.model_validate({"REDIS_URL": "redis://here:6379/1"}).redis_url == "redis://here:6379/1"
