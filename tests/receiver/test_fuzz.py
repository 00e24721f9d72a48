"""A bounded fuzz run over both webhook endpoints: never a 5xx, nothing enqueued unless validly signed.

hypothesis sends signed and unsigned bodies (the senders' samples with fields replaced by values of
every JSON type, random JSON, random bytes, 10,000 keys), with arbitrary extra headers, to the real
receiver on loopback with the suite's Redis. After every request: the status is below 500, an unsigned
request enqueued nothing; after the run: the server still serves, and no body ever reached the
receiver's last-resort 400 (``unreadable``), i.e. every odd body was refused by a check that names it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from rq import Queue

from bridge import samples
from bridge.samples import SignedDelivery
from bridge.settings import Settings
from tests.receiver.conftest import ServeApp, jira_body, send, signed_jira, zendesk_body

EXAMPLES = 400
"""Requests per test (about 1,600 in all, ~12 s)."""

_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
    | st.sampled_from(["²", "٣٤٥", "..", "PROJ-1", "5001", "9999-12-31T23:59:59-01:00", "", " ", "\u0000"])
)
JSON = st.recursive(
    _LEAVES,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=20,
)
# Headers that frame the request are the HTTP client's to set (lying about them is tested elsewhere).
_FRAMING = {"content-length", "transfer-encoding", "host", "connection", "expect", "upgrade", "te", "trailer"}
HEADER_NAME = st.from_regex(r"\A[A-Za-z][A-Za-z0-9-]{0,30}\Z").filter(
    lambda name: name.lower() not in _FRAMING
)
HEADER_VALUE = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60).map(str.strip)
HEADERS = st.dictionaries(HEADER_NAME, HEADER_VALUE, max_size=6)

JIRA_PATHS = [
    "timestamp",
    "webhookEvent",
    "issue",
    "issue.id",
    "issue.key",
    "issue.self",
    "issue.fields",
    "issue.fields.customfield_10050",
    "issue.fields.customfield_10051",
    "issue.fields.labels",
    "issue.fields.status",
    "user",
    "user.accountId",
    "changelog",
    "changelog.items",
    "comment",
    "issueLink",
]
ZENDESK_PATHS = [
    "ticket",
    "ticket.id",
    "ticket.status",
    "ticket.updated_at",
    "ticket.jira_issue_keys",
    "ticket.url",
    "ticket.subject",
    "ticket.priority",
    "event",
    "actor_id",
    "type",
    "subject",
    "detail",
    "time",
    "id",
]


def _replaced(payload: dict[str, Any], changes: list[tuple[str, Any]]) -> dict[str, Any]:
    for path, value in changes:
        *parents, last = path.split(".")
        target: Any = payload
        for name in parents:
            if not isinstance(target, dict):
                break
            target = target.setdefault(name, {})
        if isinstance(target, dict):
            target[last] = value
    return payload


def _encode(payload: Any) -> bytes:
    try:
        return orjson.dumps(payload)
    except TypeError:  # integers beyond 64 bits: the standard library writes them
        return json.dumps(payload).encode()


@pytest.fixture
def receiver(serve_app: ServeApp, settings: Settings) -> Iterator[httpx.Client]:
    server = serve_app(settings)
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        yield client


def _check(
    client: httpx.Client, queue: Queue, delivery: SignedDelivery, signed: bool, extra: dict[str, str]
) -> None:
    before = queue.count
    headers = {**extra, **delivery.headers} if signed else {**delivery.headers, **extra}
    answer = client.post(delivery.path, content=delivery.body, headers=headers)
    assert answer.status_code < 500, (answer.status_code, answer.text, delivery.body[:300])
    if answer.status_code >= 400:
        assert answer.json()["error"]
    if not signed:
        assert answer.status_code in (400, 401, 413, 415), answer.text
        assert queue.count == before


FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)


@FUZZ
@given(changes=st.lists(st.tuples(st.sampled_from(JIRA_PATHS), JSON), max_size=4), extra=HEADERS)
@example(changes=[("issue.fields", {f"customfield_{n}": n for n in range(10_000)})], extra={})
@example(changes=[("timestamp", 253402300800000), ("issue.id", 2**70)], extra={})
def test_signed_jira_bodies_with_odd_fields(
    receiver: httpx.Client, events_queue: Queue, changes: list[tuple[str, Any]], extra: dict[str, str]
) -> None:
    payload = _replaced(samples.jira_issue(), changes)
    _check(receiver, events_queue, jira_body(_encode(payload)), True, extra)


@FUZZ
@given(changes=st.lists(st.tuples(st.sampled_from(ZENDESK_PATHS), JSON), max_size=4), extra=HEADERS)
@example(changes=[("ticket", {str(n): n for n in range(10_000)})], extra={})
def test_signed_zendesk_bodies_with_odd_fields(
    receiver: httpx.Client, events_queue: Queue, changes: list[tuple[str, Any]], extra: dict[str, str]
) -> None:
    payload = _replaced(samples.zendesk_trigger(), changes)
    _check(receiver, events_queue, zendesk_body(_encode(payload)), True, extra)


@FUZZ
@given(
    body=st.one_of(st.binary(max_size=2000), JSON.map(_encode)),
    path=st.sampled_from(["/webhooks/jira", "/webhooks/zendesk"]),
    signed=st.booleans(),
    extra=HEADERS,
)
@example(body=b"[" * 300_000 + b"]" * 300_000, path="/webhooks/jira", signed=True, extra={})
def test_random_bodies_signed_or_not(
    receiver: httpx.Client, events_queue: Queue, body: bytes, path: str, signed: bool, extra: dict[str, str]
) -> None:
    delivery = (jira_body if path.endswith("jira") else zendesk_body)(body)
    if not signed:
        # The same request with signatures that do not match (the secret of someone else).
        wrong = {"X-Hub-Signature": "sha256=" + "0" * 64, "X-Zendesk-Webhook-Signature": "A" * 43 + "="}
        delivery = SignedDelivery(delivery.path, {**delivery.headers, **wrong}, delivery.body)
    _check(receiver, events_queue, delivery, signed, extra)


@FUZZ
@given(
    payload=st.sampled_from(["jira", "zendesk"]),
    forged=st.dictionaries(
        st.sampled_from(
            [
                "X-Hub-Signature",
                "X-Zendesk-Webhook-Signature",
                "X-Zendesk-Webhook-Signature-Timestamp",
                "Content-Type",
                "X-Atlassian-Webhook-Identifier",
                "X-Zendesk-Webhook-Invocation-Id",
            ]
        ),
        HEADER_VALUE,
        min_size=1,
    ),
)
def test_forged_or_odd_authentication_headers_never_enqueue(
    receiver: httpx.Client, events_queue: Queue, payload: str, forged: dict[str, str]
) -> None:
    delivery = (
        signed_jira()
        if payload == "jira"
        else samples.sign_zendesk(samples.zendesk_trigger(), "wrong-secret")
    )
    headers = {**delivery.headers, **forged}
    signature_untouched = payload == "jira" and set(forged) <= {"X-Atlassian-Webhook-Identifier"}
    before = events_queue.count
    answer = receiver.post(delivery.path, content=delivery.body, headers=headers)
    assert answer.status_code < 500
    if not signature_untouched and answer.status_code >= 300:
        assert events_queue.count == before


def test_the_receiver_serves_on_after_fuzzing(receiver: httpx.Client, events_queue: Queue) -> None:
    for body in (b"\x00" * 100, b"{" * 70, b'{"webhookEvent": 1}'):
        assert (
            receiver.post("/webhooks/jira", content=body, headers=jira_body(body).headers).status_code == 400
        )
    assert send(receiver, signed_jira()).status_code == 202
    assert receiver.get("/healthz").status_code == 200
    assert "unreadable" not in receiver.get("/metrics").text
