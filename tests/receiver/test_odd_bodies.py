"""Validly signed odd bodies are refused with 400 and their reason, counted, and the connection lives on.

Reproduced (issue 11, point 4): each of these answered 500 and left the keep-alive connection hanging.
The kind is "a value the sender would never send, signed": times, numbers, ids and nesting out of range,
and fields of another JSON type than the sender documents.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import pytest
from rq import Queue

from bridge import samples
from bridge.samples import SignedDelivery
from bridge.settings import Settings
from tests.receiver.conftest import ServeApp, jira_body, signed_jira, signed_zendesk, zendesk_body

NOT_IN_UTC = "9999-12-31T23:59:59-01:00"
"""A valid ISO 8601 time that has no UTC equivalent (it would be in the year 10000)."""

Change = Callable[[dict[str, Any]], None]


def _nested(depth: int) -> Any:
    value: Any = "deep"
    for _ in range(depth):
        value = [value]
    return value


def _jira(change: Change) -> SignedDelivery:
    payload = samples.jira_issue()
    change(payload)
    # The standard library's encoder writes what orjson refuses to (huge integers, deep nesting).
    return jira_body(json.dumps(payload).encode())


def _zendesk(change: Change) -> SignedDelivery:
    payload = samples.zendesk_trigger()
    change(payload)
    return zendesk_body(json.dumps(payload).encode())


def _subscription(change: Change) -> SignedDelivery:
    payload: dict[str, Any] = {
        "type": "zen:event-type:ticket.status_changed",
        "id": "01HSUBSCRIPTION",
        "time": "2026-01-01T00:00:00Z",
        "subject": "zen:ticket:5001",
        "detail": {"id": "5001", "status": "OPEN", "updated_at": "2026-01-01T00:00:00Z"},
        "event": {"current": "OPEN", "previous": "NEW"},
    }
    change(payload)
    return zendesk_body(json.dumps(payload).encode())


def _set(path: str, value: Any) -> Change:
    def change(payload: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target = payload
        for name in parents:
            target = target.setdefault(name, {})
        target[last] = value

    return change


ODD_BODIES: dict[str, tuple[SignedDelivery | Callable[[], SignedDelivery], str]] = {
    # Jira `timestamp`: out of range, not a whole number, not ASCII digits, wrong type.
    "jira timestamp year 10000": (lambda: _jira(_set("timestamp", 253402300800000)), "bad_time"),
    "jira timestamp 1e20": (lambda: _jira(_set("timestamp", 1e20)), "bad_time"),
    "jira timestamp superscript two": (lambda: _jira(_set("timestamp", "²")), "bad_time"),
    "jira timestamp arabic digits": (lambda: _jira(_set("timestamp", "١٦٠٦٤٨٠٤٣٦٣٠٢")), "bad_time"),
    "jira timestamp negative": (lambda: _jira(_set("timestamp", -1606480436302)), "bad_time"),
    "jira timestamp boolean": (lambda: _jira(_set("timestamp", True)), "bad_time"),
    "jira timestamp fraction": (lambda: _jira(_set("timestamp", 1606480436302.5)), "bad_time"),
    "jira timestamp list": (lambda: _jira(_set("timestamp", [1606480436302])), "bad_time"),
    "jira timestamp huge integer": (lambda: _jira(_set("timestamp", 10**30)), "bad_time"),
    "jira timestamp null": (lambda: _jira(_set("timestamp", None)), "bad_time"),
    # Jira ids and keys of another type or form.
    "jira issue id huge": (lambda: _jira(_set("issue.id", 2**70)), "bad_id"),
    "jira issue id object": (lambda: _jira(_set("issue.id", {"id": "10001"})), "bad_id"),
    "jira issue key dot-dot": (lambda: _jira(_set("issue.key", "..")), "bad_id"),
    "jira issue key number": (lambda: _jira(_set("issue.key", 12)), "bad_id"),
    # Jira fields of another JSON type than documented.
    "jira changelog items a number": (lambda: _jira(_set("changelog.items", 5)), "accepted"),
    "jira labels a number": (lambda: _jira(_set("issue.fields.labels", 5)), "accepted"),
    "jira issue self not a URL": (lambda: _jira(_set("issue.self", "http://[::1")), "accepted"),
    "jira comment body nested 300 deep": (
        lambda: _jira(_set("comment", {"id": "1", "body": _nested(300)})),
        "too_deep",
    ),
    # Zendesk times: out of range once in UTC, before 2000, far ahead, not text.
    "zendesk updated_at 9999 minus one hour": (
        lambda: _zendesk(_set("ticket.updated_at", "9999-12-31T23:59:59-01:00")),
        "unknown_shape",
    ),
    "zendesk updated_at year 1": (
        lambda: _zendesk(_set("ticket.updated_at", "0001-01-01T00:00:00+01:00")),
        "unknown_shape",
    ),
    "zendesk updated_at 1970": (
        lambda: _zendesk(_set("ticket.updated_at", "1970-01-01T00:00:00Z")),
        "bad_time",
    ),
    "zendesk updated_at 2099": (
        lambda: _zendesk(_set("ticket.updated_at", "2099-01-01T00:00:00Z")),
        "future_time",
    ),
    "zendesk updated_at number": (lambda: _zendesk(_set("ticket.updated_at", 1606480436)), "unknown_shape"),
    # Zendesk ids of another type or form.
    "zendesk ticket id superscript": (lambda: _zendesk(_set("ticket.id", "²")), "bad_id"),
    "zendesk ticket id arabic digits": (lambda: _zendesk(_set("ticket.id", "٣٤٥")), "bad_id"),
    "zendesk ticket id huge number": (lambda: _zendesk(_set("ticket.id", 10**25)), "bad_id"),
    "zendesk ticket id list": (lambda: _zendesk(_set("ticket.id", [5001])), "bad_id"),
    "zendesk trigger event a list": (lambda: _zendesk(_set("event", ["ticket.updated"])), "unknown_event"),
    "zendesk subscription times 9999": (
        lambda: _subscription(
            lambda p: p.update(time=NOT_IN_UTC, detail={"id": "5001", "updated_at": NOT_IN_UTC})
        ),
        "unknown_shape",
    ),
    "zendesk subscription custom_fields a number": (
        lambda: _subscription(_set("detail.custom_fields", 5)),
        "accepted",
    ),
    "zendesk subscription subject arabic digits": (
        lambda: _subscription(lambda p: p.update(subject="zen:ticket:٣٤٥", detail={})),
        "unknown_shape",
    ),
    "zendesk account_id huge": (lambda: _subscription(_set("account_id", 10**30)), "accepted"),
}


@pytest.fixture
def server(serve_app: ServeApp, settings: Settings) -> Iterator[http.client.HTTPConnection]:
    running = serve_app(settings)
    connection = http.client.HTTPConnection("127.0.0.1", running.port, timeout=10)
    yield connection
    connection.close()


def _post(
    connection: http.client.HTTPConnection, delivery: SignedDelivery
) -> tuple[int, dict[str, Any], str]:
    connection.request("POST", delivery.path, body=delivery.body, headers=delivery.headers)
    response = connection.getresponse()
    return response.status, orjson.loads(response.read()), response.getheader("connection") or ""


def _rejections(connection: http.client.HTTPConnection) -> dict[tuple[str, str], float]:
    connection.request("GET", "/metrics")
    text = connection.getresponse().read().decode()
    counts = {}
    for line in text.splitlines():
        if line.startswith("bridge_rejected_deliveries_total{"):
            labels, value = line[len("bridge_rejected_deliveries_total{") :].split("} ")
            parsed = dict(part.split("=") for part in labels.split(","))
            counts[(parsed["source"].strip('"'), parsed["reason"].strip('"'))] = float(value)
    return counts


@pytest.mark.parametrize("case", list(ODD_BODIES))
def test_odd_signed_body_is_refused_with_its_reason_and_the_connection_serves_on(
    server: http.client.HTTPConnection, events_queue: Queue, case: str
) -> None:
    make, expected = ODD_BODIES[case]
    delivery = make() if callable(make) else make
    source = delivery.path.rsplit("/", 1)[1]

    status, answer, connection_header = _post(server, delivery)
    socket_before = server.sock

    if expected == "accepted":
        # Fields the bridge does not need may have any type: the event goes on without them.
        assert status == 202, answer
    else:
        assert status == 400, answer
        assert answer["error"]
        assert _rejections(server)[(source, expected)] == 1
        assert events_queue.count == 0
    assert connection_header != "close"
    # The same keep-alive connection takes the next delivery at once.
    fine = signed_jira() if source == "jira" else signed_zendesk(samples.zendesk_trigger("5002"))
    assert _post(server, fine)[0] == 202
    assert server.sock is socket_before


def test_nan_and_infinity_are_not_json(server: http.client.HTTPConnection) -> None:
    for literal in (b"NaN", b"Infinity", b"-Infinity", b"1e400"):
        body = b'{"webhookEvent": "jira:issue_updated", "timestamp": ' + literal + b"}"
        status, answer, _ = _post(server, jira_body(body))
        assert status == 400
        assert "not valid JSON" in answer["error"]


def test_a_body_nested_deeper_than_the_limit_is_refused_before_parsing(
    server: http.client.HTTPConnection,
) -> None:
    body = b'{"webhookEvent": "jira:issue_updated", "x": ' + b"[" * 65 + b"]" * 65 + b"}"

    status, answer, _ = _post(server, jira_body(body))

    assert status == 400
    assert answer == {"error": "body nests arrays and objects deeper than 64"}
