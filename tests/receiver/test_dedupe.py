"""Duplicate deliveries: one event per delivery id, also when copies arrive at the same moment."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
from rq import Queue

from bridge import samples
from tests.receiver.conftest import send, signed_jira, signed_zendesk


def test_repeated_jira_delivery_answers_duplicate_with_the_first_event_id(
    http: httpx.Client, events_queue: Queue
) -> None:
    delivery = signed_jira(identifier="69312270414585119")

    first = send(http, delivery)
    again = send(http, delivery)

    assert first.status_code == 202
    assert again.status_code == 200
    assert again.json() == {"event_id": first.json()["event_id"], "duplicate": True}
    assert events_queue.count == 1


def test_same_identifier_from_another_jira_site_is_not_a_duplicate(
    http: httpx.Client, events_queue: Queue
) -> None:
    other_site = samples.jira_issue()
    other_site["issue"]["self"] = "https://other.atlassian.net/rest/api/2/10001"

    first = send(http, signed_jira(samples.jira_issue(), identifier="42"))
    second = send(http, signed_jira(other_site, identifier="42"))

    assert (first.status_code, second.status_code) == (202, 202)
    assert events_queue.count == 2


def test_zendesk_invocation_id_identifies_a_delivery(http: httpx.Client, events_queue: Queue) -> None:
    first = send(http, signed_zendesk(invocation="inv-1"))
    retried = send(http, signed_zendesk(invocation="inv-1"))  # signed anew, as a retry is
    # Another invocation is another delivery when its signed content differs too (the same timestamp and
    # body under a new invocation id is a replay: tests/receiver/test_replay.py).
    other = send(http, signed_zendesk(samples.zendesk_trigger("5002"), invocation="inv-2"))

    assert retried.json() == {"event_id": first.json()["event_id"], "duplicate": True}
    assert other.status_code == 202
    assert events_queue.count == 2


def test_concurrent_copies_of_one_delivery_make_one_event(bridge_url: str, events_queue: Queue) -> None:
    delivery = signed_jira(identifier="simultaneous-1")

    def post(_: int) -> httpx.Response:
        return httpx.post(
            bridge_url + delivery.path, content=delivery.body, headers=delivery.headers, timeout=10
        )

    with ThreadPoolExecutor(max_workers=16) as pool:
        responses = list(pool.map(post, range(32)))

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200] * 31 + [202]
    assert len({response.json()["event_id"] for response in responses}) == 1
    assert events_queue.count == 1
