"""The webhook routes over real HTTP: every answer of the contract's table, and what lands on Redis."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import redis
from rq import Queue

from bridge import job_queues, samples
from bridge.settings import Secret, Settings
from bridge.sources.signing import hub_signature
from tests.receiver.conftest import ServeApp, send, signed_jira, signed_zendesk
from tests.values import JIRA_SECRET, ZENDESK_SECRET


def test_signed_jira_delivery_is_accepted_and_enqueued_as_event(
    http: httpx.Client, events_queue: Queue
) -> None:
    response = send(
        http, signed_jira(samples.jira_issue("PROJ-7", "5001, 5002"), identifier="69312270414585119")
    )

    assert response.status_code == 202
    answer = response.json()
    assert answer["duplicate"] is False
    assert events_queue.job_ids == [answer["event_id"]]
    job = events_queue.jobs[0]
    assert job.func_name == job_queues.EVENT_JOB_FUNC
    event = job.args[0]
    assert event["id"] == answer["event_id"]
    assert event["version"] == 1
    assert event["source"] == "jira"
    assert event["type"] == "issue.updated"
    assert event["delivery_id"] == "example.atlassian.net:69312270414585119"
    assert event["subject"] == {"kind": "issue", "id": "10001", "key": "PROJ-7"}
    assert event["refs"] == {
        "jira_issue_keys": ["PROJ-7"],
        "zendesk_ticket_ids": ["5001", "5002"],
        "salesforce_ids": [],
    }
    assert event["actor"] == {"id": "5b10ac8d82e05b22cc7d4ef5", "name": "Mia Krystof"}


def test_signed_zendesk_delivery_is_accepted(http: httpx.Client, events_queue: Queue) -> None:
    response = send(http, signed_zendesk(samples.zendesk_trigger("5001", "proj-1, OPS-2", "Solved")))

    assert response.status_code == 202
    event = events_queue.jobs[0].args[0]
    assert event["type"] == "ticket.solved"
    assert event["subject"] == {"kind": "ticket", "id": "5001"}
    assert event["refs"]["jira_issue_keys"] == ["PROJ-1", "OPS-2"]
    assert event["data"]["status"] == "solved"


def test_wrong_jira_signature_is_refused_and_nothing_is_written(
    http: httpx.Client, redis_client: redis.Redis
) -> None:
    delivery = samples.sign_jira(samples.jira_issue(), "not-the-secret")

    response = send(http, delivery)

    assert response.status_code == 401
    assert "X-Hub-Signature" in response.json()["error"]
    assert redis_client.dbsize() == 0


def test_missing_jira_signature_is_refused(http: httpx.Client) -> None:
    delivery = signed_jira()
    headers = {k: v for k, v in delivery.headers.items() if k != "X-Hub-Signature"}

    response = http.post(delivery.path, content=delivery.body, headers=headers)

    assert response.status_code == 401
    assert response.json() == {"error": "missing X-Hub-Signature header"}


def test_body_changed_after_signing_is_refused(http: httpx.Client) -> None:
    delivery = signed_jira()

    response = http.post(
        delivery.path, content=delivery.body.replace(b"PROJ-1", b"PROJ-2"), headers=delivery.headers
    )

    assert response.status_code == 401


def test_jira_token_mode_for_sites_that_cannot_sign(serve_app: ServeApp, settings: Settings) -> None:
    server = serve_app(settings.replace(jira_webhook_secret=None, jira_webhook_token=Secret("dc-token")))
    body = orjson.dumps(samples.jira_issue())
    headers = {"Content-Type": "application/json"}

    good = httpx.post(f"{server.base_url}/webhooks/jira?token=dc-token", content=body, headers=headers)
    bad = httpx.post(f"{server.base_url}/webhooks/jira?token=guess", content=body, headers=headers)
    missing = httpx.post(f"{server.base_url}/webhooks/jira", content=body, headers=headers)

    assert good.status_code == 202
    assert bad.status_code == 401
    assert missing.status_code == 401


def test_unconfigured_source_answers_503_naming_the_variable(serve_app: ServeApp, settings: Settings) -> None:
    server = serve_app(settings.replace(zendesk_webhook_secret=None))
    delivery = signed_zendesk()

    response = httpx.post(server.base_url + delivery.path, content=delivery.body, headers=delivery.headers)

    assert response.status_code == 503
    assert "ZENDESK_WEBHOOK_SECRET" in response.json()["error"]
    assert response.headers["retry-after"] == "30"


def test_wrong_zendesk_signature_is_refused(http: httpx.Client) -> None:
    delivery = signed_zendesk()
    headers = dict(delivery.headers)
    headers["X-Zendesk-Webhook-Signature"] = base64.b64encode(b"x" * 32).decode()

    response = http.post(delivery.path, content=delivery.body, headers=headers)

    assert response.status_code == 401


def test_zendesk_timestamp_outside_tolerance_is_refused(http: httpx.Client) -> None:
    delivery = samples.sign_zendesk(
        samples.zendesk_trigger(), ZENDESK_SECRET, at=datetime.now(UTC) - timedelta(minutes=6)
    )

    response = send(http, delivery)

    assert response.status_code == 401
    assert "tolerance 300 s" in response.json()["error"]


def test_malformed_json_is_400_with_the_reason(http: httpx.Client) -> None:
    body = b'{"webhookEvent": "jira:issue_updated", '
    headers = {"Content-Type": "application/json", "X-Hub-Signature": hub_signature(JIRA_SECRET, body)}

    response = http.post("/webhooks/jira", content=body, headers=headers)

    assert response.status_code == 400
    assert response.json()["error"].startswith("body is not valid JSON")


def test_json_that_is_not_an_object_is_400(http: httpx.Client) -> None:
    body = b"[1, 2]"
    headers = {"Content-Type": "application/json", "X-Hub-Signature": hub_signature(JIRA_SECRET, body)}

    response = http.post("/webhooks/jira", content=body, headers=headers)

    assert response.status_code == 400
    assert response.json() == {"error": "body must be a JSON object"}


def test_unknown_event_is_400_and_not_enqueued(http: httpx.Client, events_queue: Queue) -> None:
    payload: dict[str, Any] = samples.jira_issue()
    payload["webhookEvent"] = "jira:worklog_updated"

    response = send(http, signed_jira(payload))

    assert response.status_code == 400
    assert "jira:worklog_updated" in response.json()["error"]
    assert events_queue.count == 0


def test_wrong_content_type_is_415(http: httpx.Client) -> None:
    delivery = signed_jira()
    headers = dict(delivery.headers, **{"Content-Type": "text/plain"})

    response = http.post(delivery.path, content=delivery.body, headers=headers)

    assert response.status_code == 415


def test_events_caused_by_the_bridge_itself_are_ignored(http: httpx.Client, events_queue: Queue) -> None:
    payload = samples.jira_issue()
    payload["user"]["accountId"] = "bridge-account-id"

    response = send(http, signed_jira(payload))

    assert response.status_code == 202
    assert response.json() == {"ignored": "self"}
    assert events_queue.count == 0
