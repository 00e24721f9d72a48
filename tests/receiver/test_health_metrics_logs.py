"""Health, readiness, Prometheus metrics, and the one JSON log line per delivery."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import httpx
import orjson
import pytest

from bridge import logs, samples
from tests.receiver.conftest import send, signed_jira, signed_zendesk
from tests.values import JIRA_SECRET, ZENDESK_SECRET


def test_healthz_and_readyz(http: httpx.Client) -> None:
    assert http.get("/healthz").json() == {"status": "ok"}
    ready = http.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready"}


def test_metrics_count_deliveries_duplicates_rejections_and_enqueue_latency(http: httpx.Client) -> None:
    delivery = signed_jira(identifier="m-1")
    send(http, delivery)
    send(http, delivery)
    send(http, samples.sign_zendesk(samples.zendesk_trigger(), "wrong-secret"))

    text = http.get("/metrics").text

    assert 'bridge_deliveries_total{outcome="accepted",source="jira"} 1.0' in text
    assert 'bridge_deliveries_total{outcome="duplicate",source="jira"} 1.0' in text
    assert 'bridge_duplicate_deliveries_total{source="jira"} 1.0' in text
    assert 'bridge_rejected_deliveries_total{reason="bad_signature",source="zendesk"} 1.0' in text
    assert 'bridge_enqueue_seconds_count{source="jira"} 2.0' in text


@pytest.fixture
def json_logs() -> Iterator[None]:
    """The bridge's JSON logging, as the processes configure it; the test's own logging after."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    logs.configure("INFO")
    yield
    root.handlers[:], _ = saved
    root.setLevel(saved[1])


@pytest.mark.usefixtures("json_logs")
def test_one_json_log_line_per_delivery_without_secrets(
    http: httpx.Client, capsys: pytest.CaptureFixture[str]
) -> None:
    jira = signed_jira(identifier="log-1")
    zendesk = signed_zendesk(invocation="log-2")

    accepted = send(http, jira)
    send(http, zendesk)
    time.sleep(0.1)  # the lines of a loop iteration are written at its end

    lines = [line for line in capsys.readouterr().err.splitlines() if '"logger":"bridge.receiver"' in line]
    assert len(lines) == 2
    first = orjson.loads(lines[0])
    assert first["source"] == "jira"
    assert first["delivery_id"] == "example.atlassian.net:log-1"
    assert first["event_id"] == accepted.json()["event_id"]
    assert first["outcome"] == "accepted"
    assert isinstance(first["ms"], float)
    everything = "\n".join(lines)
    for secret in (
        JIRA_SECRET,
        ZENDESK_SECRET,
        jira.headers["X-Hub-Signature"],
        zendesk.headers["X-Zendesk-Webhook-Signature"],
    ):
        assert secret not in everything
