"""Failed logins are throttled per client address and per user name across processes (issue 11, point 2).

Reproduced: 3,000 wrong passwords for the ops API in 7 s, all answered 401, none logged, and the right
password worked right after.
"""

from __future__ import annotations

import inspect
import logging
import time

import httpx
import pytest

from bridge.ops import auth
from bridge.ops.throttle import FAILURES_PER_ADDRESS, FAILURES_PER_USER
from bridge.ops.throttle import WINDOW_S as THROTTLE_WINDOW_S
from tests.ops.conftest import AUTH, OPS_PASSWORD, OPS_USER, WINDOW_S, ServeOps


def _get(url: str, auth: tuple[str, str], address: str = "198.51.100.7") -> httpx.Response:
    return httpx.get(url + "/api/ops/queues", auth=auth, headers={"X-Forwarded-For": address}, timeout=10)


def test_wrong_passwords_from_one_address_are_answered_429(
    ops_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Default settings: 10 failures per address in a window of 15 minutes.
    guesses = [_get(ops_url, (OPS_USER, f"guess-{n}")) for n in range(FAILURES_PER_ADDRESS + 20)]

    statuses = [answer.status_code for answer in guesses]
    assert statuses[:FAILURES_PER_ADDRESS] == [401] * FAILURES_PER_ADDRESS
    assert set(statuses[FAILURES_PER_ADDRESS:]) == {429}
    retry_after = int(guesses[-1].headers["Retry-After"])
    assert THROTTLE_WINDOW_S - 60 <= retry_after <= THROTTLE_WINDOW_S
    # While throttled, even the right password is not checked (no oracle for the guesser) ...
    assert _get(ops_url, AUTH).status_code == 429
    # ... and another address is not held up by this one.
    assert _get(ops_url, AUTH, "203.0.113.9").status_code == 200

    failures = [record for record in caplog.records if record.getMessage() == "dashboard login failed"]
    assert len(failures) == FAILURES_PER_ADDRESS
    assert failures[0].__dict__["client"] == "198.51.100.7"
    assert failures[0].__dict__["user"] == OPS_USER
    assert "guess-" not in caplog.text
    assert OPS_PASSWORD not in caplog.text


def test_the_right_password_works_again_when_the_window_ends(serve_ops: ServeOps) -> None:
    url = serve_ops(window_s=WINDOW_S, per_address=3).base_url
    for n in range(3):
        assert _get(url, (OPS_USER, f"guess-{n}")).status_code == 401
    throttled = _get(url, AUTH)
    assert throttled.status_code == 429
    retry_after = int(throttled.headers["Retry-After"])
    assert 1 <= retry_after <= WINDOW_S
    time.sleep(retry_after + 0.2)
    assert _get(url, AUTH).status_code == 200


def test_one_user_name_is_throttled_across_addresses(ops_url: str) -> None:
    answers = [
        _get(ops_url, (OPS_USER, "wrong"), f"10.0.{n // 250}.{n % 250}") for n in range(FAILURES_PER_USER + 5)
    ]

    assert [a.status_code for a in answers[:FAILURES_PER_USER]] == [401] * FAILURES_PER_USER
    assert {a.status_code for a in answers[FAILURES_PER_USER:]} == {429}
    # A fresh address is refused too: the limit is on the name.
    assert _get(ops_url, AUTH, "192.0.2.200").status_code == 429


def test_the_count_is_shared_by_every_web_process(serve_ops: ServeOps) -> None:
    first, second = serve_ops().base_url, serve_ops().base_url
    for n in range(FAILURES_PER_ADDRESS):
        _get(first if n % 2 else second, (OPS_USER, "wrong"))

    assert _get(first, AUTH).status_code == 429
    assert _get(second, AUTH).status_code == 429


def test_the_dashboard_pages_are_throttled_too(ops_url: str) -> None:
    for _ in range(FAILURES_PER_ADDRESS):
        assert httpx.get(ops_url + "/dashboard", auth=(OPS_USER, "wrong")).status_code == 401

    throttled = httpx.get(ops_url + "/dashboard", auth=AUTH)

    assert throttled.status_code == 429
    assert "Retry-After" in throttled.headers


def test_a_request_without_credentials_is_challenged_not_counted(ops_url: str) -> None:
    for _ in range(FAILURES_PER_ADDRESS + 5):
        answer = httpx.get(ops_url + "/api/ops/queues")
        assert answer.status_code == 401
        assert answer.headers["WWW-Authenticate"].startswith("Basic")
    assert httpx.get(ops_url + "/api/ops/queues", auth=AUTH).status_code == 200


def test_a_good_login_is_not_slowed_by_the_throttle(ops_url: str) -> None:
    started = time.monotonic()
    for _ in range(50):
        assert httpx.get(ops_url + "/api/ops/queues", auth=AUTH).status_code == 200
    assert time.monotonic() - started < 10


def test_login_checks_stay_constant_time() -> None:
    source = inspect.getsource(auth.authorized)
    assert source.count("hmac.compare_digest") == 2
    assert "==" not in source


def test_logging_has_no_password_even_for_odd_user_names(
    ops_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    _get(ops_url, ("x" * 5000, "hunter2-secret"))

    (record,) = [r for r in caplog.records if r.getMessage() == "dashboard login failed"]
    assert len(record.__dict__["user"]) == 64
    assert "hunter2-secret" not in caplog.text
