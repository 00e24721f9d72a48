"""No cross-site form reaches a state-changing call, and the dashboard's CSRF token is per login session.

Reproduced (issue 11, point 9): state-changing ops API calls were accepted from any client that sent no
``Origin`` (a form post, for one, from a page that suppresses its referrer), and the dashboard's CSRF token
was an HMAC of the password alone: the same token for ever, for everybody.
"""

from __future__ import annotations

import hashlib
import hmac
import re

import httpx
import pytest

from tests.ops.conftest import AUTH, OPS_PASSWORD, OPS_USER

# What an HTML form can send without a preflight (the CORS "simple" content types).
SIMPLE_BODIES = [
    ("application/x-www-form-urlencoded", b"a=b"),
    (
        "multipart/form-data; boundary=x",
        b"--x\r\nContent-Disposition: form-data; name=a\r\n\r\nb\r\n--x--\r\n",
    ),
    ("text/plain", b"a=b"),
    (None, b""),
]
STATE_CHANGING = [
    ("POST", "/api/ops/pause"),
    ("POST", "/api/ops/resume"),
    ("POST", "/api/ops/failed/requeue"),
    ("POST", "/api/ops/failed/some-job/requeue"),
    ("POST", "/api/ops/events/some-event/replay"),
    ("DELETE", "/api/ops/jobs/some-job"),
]


def _paused(url: str) -> bool:
    return bool(httpx.get(url + "/api/ops/overview", auth=AUTH).json()["paused"])


@pytest.mark.parametrize(("method", "path"), STATE_CHANGING)
@pytest.mark.parametrize(("content_type", "body"), SIMPLE_BODIES)
def test_state_changing_calls_refuse_what_a_cross_site_form_can_send(
    ops_url: str, method: str, path: str, content_type: str | None, body: bytes
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}

    answer = httpx.request(method, ops_url + path, auth=AUTH, content=body, headers=headers)

    assert answer.status_code == 403
    assert "application/json or an X-Requested-With header" in answer.json()["error"]
    assert not _paused(ops_url)


def test_a_json_body_or_a_custom_header_is_accepted(ops_url: str) -> None:
    assert httpx.post(ops_url + "/api/ops/pause", auth=AUTH, json={}).status_code == 200
    assert _paused(ops_url)
    resumed = httpx.post(ops_url + "/api/ops/resume", auth=AUTH, headers={"X-Requested-With": "script"})
    assert resumed.status_code == 200
    assert not _paused(ops_url)


def test_a_json_post_from_another_origin_is_still_refused(ops_url: str) -> None:
    answer = httpx.post(
        ops_url + "/api/ops/pause", auth=AUTH, json={}, headers={"Origin": "https://evil.example"}
    )

    assert answer.status_code == 403
    assert not _paused(ops_url)


def _token(page: httpx.Response) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert match, page.text
    return match.group(1)


def _pause_form(client: httpx.Client, token: str) -> httpx.Response:
    return client.post("/dashboard/actions/pause", data={"csrf": token, "back": "/dashboard"})


def test_each_login_session_gets_its_own_csrf_token(ops_url: str) -> None:
    with (
        httpx.Client(base_url=ops_url, auth=AUTH) as alice,
        httpx.Client(base_url=ops_url, auth=AUTH) as bob,
    ):
        first = alice.get("/dashboard")
        alice_token, bob_token = _token(first), _token(bob.get("/dashboard"))

        assert alice_token != bob_token
        # Within a session the token stays (several tabs, reloads) ...
        assert _token(alice.get("/dashboard")) == alice_token
        # ... and the cookie that names the session cannot be read or sent by another site.
        cookie = first.headers["set-cookie"].lower()
        assert "httponly" in cookie
        assert "samesite=strict" in cookie
        assert "path=/dashboard" in cookie
        # One session's token is worthless in another session.
        assert _pause_form(bob, alice_token).status_code == 403
        assert not _paused(ops_url)
        assert _pause_form(alice, alice_token).status_code == 303
        assert _paused(ops_url)


def test_the_old_password_derived_token_and_a_missing_session_are_refused(ops_url: str) -> None:
    key = OPS_PASSWORD.encode()
    old_token = hmac.new(key, f"csrf:{OPS_USER}".encode(), hashlib.sha256).hexdigest()
    with httpx.Client(base_url=ops_url, auth=AUTH) as browser:
        token = _token(browser.get("/dashboard"))

        assert _pause_form(browser, old_token).status_code == 403
        browser.cookies.clear()
        assert _pause_form(browser, token).status_code == 403
    assert not _paused(ops_url)


def test_a_forged_session_cookie_is_not_a_session(ops_url: str) -> None:
    with httpx.Client(base_url=ops_url, auth=AUTH) as browser:
        token = _token(browser.get("/dashboard"))
        (cookie,) = [c for c in browser.cookies.jar]
        sid, started, signature = (cookie.value or "").split(".")
        browser.cookies.clear()
        browser.cookies.set("bridge_session", f"{sid}.{int(started) + 1}.{signature}", path="/dashboard")

        assert _pause_form(browser, token).status_code == 403
