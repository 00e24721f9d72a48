"""Fixtures of the receiver tests: the real app served by uvicorn on loopback, and a way to send to it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import redis
from rq import Queue
from rq.serializers import JSONSerializer

from bridge import job_queues, samples
from bridge.receiver.app import create_app
from bridge.receiver.protocol import DeadlineProtocol
from bridge.serving import ServerThread
from bridge.settings import Settings
from bridge.sources.signing import hub_signature, zendesk_signature
from tests.values import JIRA_SECRET, ZENDESK_SECRET

ServeApp = Callable[[Settings], ServerThread]


@pytest.fixture
def serve_app() -> Iterator[ServeApp]:
    """Return a factory serving ``create_app(settings)`` on loopback; the servers stop after the test."""
    servers: list[ServerThread] = []

    def serve(settings: Settings) -> ServerThread:
        # Served as `bridge web` serves: with the deadlines of bridge/receiver/protocol.py.
        server = ServerThread(create_app(settings), http=DeadlineProtocol.with_settings(settings)).start()
        servers.append(server)
        return server

    yield serve
    for server in servers:
        server.stop()


@pytest.fixture
def bridge_url(serve_app: ServeApp, settings: Settings) -> str:
    """Base URL of a receiver configured with the test settings."""
    return serve_app(settings).base_url


@pytest.fixture
def http(bridge_url: str) -> Iterator[httpx.Client]:
    """An HTTP client on the receiver."""
    with httpx.Client(base_url=bridge_url, timeout=10) as client:
        yield client


@pytest.fixture
def events_queue(redis_client: redis.Redis) -> Queue:
    """The RQ queue the receiver enqueues on."""
    return Queue(job_queues.EVENTS_QUEUE, connection=redis_client, serializer=JSONSerializer)


def signed_jira(
    payload: dict[str, Any] | None = None, identifier: str | None = None
) -> samples.SignedDelivery:
    """A Jira delivery signed with the test secret."""
    return samples.sign_jira(payload or samples.jira_issue(), JIRA_SECRET, identifier)


def signed_zendesk(
    payload: dict[str, Any] | None = None, invocation: str | None = None
) -> samples.SignedDelivery:
    """A Zendesk delivery signed with the test secret."""
    return samples.sign_zendesk(payload or samples.zendesk_trigger(), ZENDESK_SECRET, invocation)


def send(client: httpx.Client, delivery: samples.SignedDelivery) -> httpx.Response:
    """Post a signed delivery."""
    return client.post(delivery.path, content=delivery.body, headers=delivery.headers)


def jira_body(body: bytes, identifier: str | None = None) -> samples.SignedDelivery:
    """Raw body bytes signed as Jira signs them (for bodies ``orjson`` would not encode)."""
    headers = signed_jira(identifier=identifier).headers
    return samples.SignedDelivery(
        "/webhooks/jira", {**headers, "X-Hub-Signature": hub_signature(JIRA_SECRET, body)}, body
    )


def zendesk_body(body: bytes, invocation: str | None = None) -> samples.SignedDelivery:
    """Raw body bytes signed as Zendesk signs them."""
    headers = signed_zendesk(invocation=invocation).headers
    timestamp = headers["X-Zendesk-Webhook-Signature-Timestamp"]
    signature = zendesk_signature(ZENDESK_SECRET, timestamp, body)
    return samples.SignedDelivery(
        "/webhooks/zendesk", {**headers, "X-Zendesk-Webhook-Signature": signature}, body
    )
