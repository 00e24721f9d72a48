"""The ops API against its own OpenAPI description, with schemathesis (issue 11, point 8).

Reproduced: ``GET /api/ops/queues/bridge-events/jobs?page=abc`` answered 500, and some answers did not
match the description (arrays where it said objects). schemathesis generates valid and invalid calls
from ``/api/ops/openapi.json`` and checks every answer: no server error, every status and body as
described. Bounded (a fixed number of examples per operation, derandomized) to fit CI.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.core.result import Ok

from bridge import samples
from tests.ops.conftest import AUTH, ServeOps
from tests.receiver.conftest import signed_jira

EXAMPLES_PER_OPERATION = 50
"""Calls generated per operation and mode (12 operations, 2 modes: about 1,200 calls, ~15 s)."""


def test_bad_parameters_are_4xx_not_500(ops_url: str) -> None:
    for query, status in (
        ("page=abc", 400),
        ("page=0", 400),
        ("page=-1", 400),
        ("page=" + "9" * 40, 400),
        ("page=²", 400),
        ("page=1.5", 400),
        ("registry=nope", 400),
        ("registry=", 400),
        ("page=2&registry=failed", 200),
    ):
        answer = httpx.get(ops_url + f"/api/ops/queues/bridge-events/jobs?{query}", auth=AUTH)
        assert answer.status_code == status, (query, answer.text)
        if status == 400:
            assert answer.json()["error"]
    assert httpx.get(ops_url + "/api/ops/queues/no-such-queue/jobs", auth=AUTH).status_code == 404
    assert httpx.get(ops_url + "/dashboard/queues/bridge-events?page=abc", auth=AUTH).status_code == 400


def test_lists_are_described_as_lists(ops_url: str) -> None:
    spec = httpx.get(ops_url + "/api/ops/openapi.json", auth=AUTH).json()
    for path in ("/api/ops/queues", "/api/ops/failed"):
        described = spec["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        assert described["type"] == "array"
        assert isinstance(httpx.get(ops_url + path, auth=AUTH).json(), list)


@pytest.mark.timeout(120)
def test_every_answer_matches_the_openapi_description(serve_ops: ServeOps) -> None:
    # Logins are not throttled here: generated calls include wrong credentials on purpose.
    url = serve_ops(per_address=10**9, per_user=10**9).base_url
    # Some data, so that lists and the event view have something to describe.
    with httpx.Client(base_url=url) as client:
        delivery = signed_jira(samples.jira_issue())
        event_id = client.post(delivery.path, content=delivery.body, headers=delivery.headers).json()[
            "event_id"
        ]
    spec = httpx.get(url + "/api/ops/openapi.json", auth=AUTH).json()
    schema = schemathesis.openapi.from_dict(spec)
    session = requests.Session()
    login = {"Authorization": httpx.BasicAuth(*AUTH)._auth_header}
    started = time.monotonic()
    calls = 0

    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(
                max_examples=EXAMPLES_PER_OPERATION,
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def check(case: schemathesis.Case[Any]) -> None:
                nonlocal calls
                calls += 1
                case.call_and_validate(base_url=url, session=session, headers=login)

            check()

    session.close()
    elapsed = time.monotonic() - started
    print(f"schemathesis: {calls} calls in {elapsed:.1f} s, event {event_id}")
    assert elapsed < 60
