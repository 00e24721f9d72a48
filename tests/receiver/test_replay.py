"""A signed body cannot be turned into a second effect (issue 11, point 3).

Reproduced: the signature covers only the body and the dedupe key was the unsigned
``X-Atlassian-Webhook-Identifier``, so a captured delivery sent again with a new identifier was a new
event. Now the signed content is remembered in the enqueue's own Redis step, and Jira bodies older than
the replay window (BRIDGE_JIRA_MAX_AGE_S) are refused.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import redis
from rq import Queue

from bridge import defaults, samples
from bridge.settings import Settings
from tests.receiver.conftest import ServeApp, send, signed_jira, signed_zendesk


def test_captured_jira_delivery_resent_with_a_new_identifier_is_a_duplicate(
    http: httpx.Client, events_queue: Queue
) -> None:
    payload = samples.jira_issue()
    captured = signed_jira(payload, identifier="69312270414585119")
    replayed = signed_jira(payload, identifier="69312270414585120")  # the same signed body ...

    first = send(http, captured)
    again = send(http, replayed)  # ... under another identifier

    assert first.status_code == 202
    assert again.status_code == 200
    assert again.json() == {"event_id": first.json()["event_id"], "duplicate": True}
    assert events_queue.count == 1


def test_jira_signed_content_is_remembered_at_least_as_long_as_the_replay_window(
    http: httpx.Client, redis_client: redis.Redis, settings: Settings
) -> None:
    send(http, signed_jira())

    (content_key,) = redis_client.keys("bridge:dedupe:jira:signed:*")
    assert redis_client.ttl(content_key) >= settings.jira_max_age_s


def test_jira_body_older_than_the_replay_window_is_refused(
    serve_app: ServeApp, settings: Settings, events_queue: Queue
) -> None:
    server = serve_app(settings.replace(jira_max_age_s=3600))
    payload = samples.jira_issue()
    payload["timestamp"] = int((time.time() - 3601) * 1000)

    delivery = signed_jira(payload)

    answer = httpx.post(server.base_url + delivery.path, content=delivery.body, headers=delivery.headers)

    assert answer.status_code == 400
    assert "older than the replay window of 3600 s" in answer.json()["error"]
    assert events_queue.count == 0


def test_a_late_jira_retry_inside_the_default_window_is_accepted(http: httpx.Client) -> None:
    # Jira delivers up to ~30 min late and retries for up to ~75 min more (https://community.developer.atlassian.com/t/new-jira-cloud-webhook-retry-policy/30554).
    payload = samples.jira_issue()
    payload["timestamp"] = int((time.time() - 105 * 60) * 1000)

    assert send(http, signed_jira(payload)).status_code == 202
    assert defaults.DEFAULT_JIRA_MAX_AGE_S > 105 * 60


@pytest.mark.parametrize("ahead_s", [3600, 10 * 365 * 86400])
def test_jira_body_dated_ahead_of_now_is_refused(http: httpx.Client, ahead_s: int) -> None:
    # A future `sequence` would make every genuine later event of the issue look stale.
    payload = samples.jira_issue()
    payload["timestamp"] = int((time.time() + ahead_s) * 1000)

    answer = send(http, signed_jira(payload))

    assert answer.status_code == 400
    assert "ahead of the receiver's clock" in answer.json()["error"]


def test_zendesk_signed_content_resent_with_a_new_invocation_id_is_a_duplicate(
    http: httpx.Client, events_queue: Queue
) -> None:
    payload = samples.zendesk_trigger()
    at = datetime.now(UTC)
    captured = samples.sign_zendesk(payload, "test-zendesk-secret", "inv-1", at)
    replayed = samples.sign_zendesk(payload, "test-zendesk-secret", "inv-2", at)

    first = send(http, captured)
    again = send(http, replayed)

    assert again.json() == {"event_id": first.json()["event_id"], "duplicate": True}
    assert events_queue.count == 1


def test_zendesk_ticket_time_ahead_of_now_is_refused(http: httpx.Client) -> None:
    payload = samples.zendesk_trigger()
    payload["ticket"]["updated_at"] = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")

    answer = send(http, signed_zendesk(payload))

    assert answer.status_code == 400
    assert "ahead of the receiver's clock" in answer.json()["error"]


def test_the_replay_window_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings.from_env().jira_max_age_s == defaults.DEFAULT_JIRA_MAX_AGE_S
    monkeypatch.setenv("BRIDGE_JIRA_MAX_AGE_S", "7200")
    assert Settings.from_env().jira_max_age_s == 7200
