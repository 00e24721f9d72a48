"""Connections that never finish are closed (issue 11, point 1), against a real ``bridge web`` process.

Reproduced: 250 sockets that sent ``POST /webhooks/jira`` headers with ``Content-Length: 1000`` and one
byte of body stayed open for minutes; with the file descriptor limit reached, signed deliveries failed.
Now every request has a header and a body deadline (408 and close), headers are bounded in size (431),
and connections beyond BRIDGE_MAX_CONNECTIONS are answered 503 with ``Retry-After`` at once.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bridge import defaults
from bridge.embedded_redis import free_port
from bridge.settings import Settings
from tests.receiver.conftest import ServeApp, send, signed_jira
from tests.values import JIRA_SECRET, ZENDESK_SECRET

DEADLINE_S = 2.0
SLOW_SENDERS = 250
SLOW_START = (
    b"POST /webhooks/jira HTTP/1.1\r\nHost: bridge\r\nContent-Type: application/json\r\n"
    b"Content-Length: 1000\r\n\r\n{"
)


@pytest.fixture
def web(redis_url: str, tmp_path: Path) -> Iterator[str]:
    """``bridge web`` as deployed, with 2 s deadlines; its URL."""
    yield from _web(redis_url, tmp_path, DEADLINE_S)


@pytest.fixture
def web_at_defaults(redis_url: str, tmp_path: Path) -> Iterator[str]:
    """``bridge web`` as deployed, with its default deadlines; its URL."""
    yield from _web(redis_url, tmp_path, None)


def _web(redis_url: str, tmp_path: Path, deadline_s: float | None) -> Iterator[str]:
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("BRIDGE_", "JIRA_", "ZENDESK_"))},
        "REDIS_URL": redis_url,
        "PORT": str(port),
        "JIRA_WEBHOOK_SECRET": JIRA_SECRET,
        "ZENDESK_WEBHOOK_SECRET": ZENDESK_SECRET,
    }
    if deadline_s is not None:
        env |= {"BRIDGE_HEADER_TIMEOUT_S": str(deadline_s), "BRIDGE_BODY_TIMEOUT_S": str(deadline_s)}
    log = (tmp_path / "web.log").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "bridge", "web"], env=env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while not _healthy(url):
            assert process.poll() is None, (tmp_path / "web.log").read_text()
            assert time.monotonic() < deadline, "bridge web did not start"
            time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(20)
        log.close()


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url + "/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=10)


def _answer_and_close(sock: socket.socket, within_s: float) -> tuple[bytes, float]:
    """Read until the server closes; return what it sent and when it closed (monotonic)."""
    sock.settimeout(within_s)
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received, time.monotonic()


def test_slow_senders_do_not_stop_a_signed_delivery_and_each_gets_408_within_the_deadline(web: str) -> None:
    _slow_senders_get_408(web, DEADLINE_S)


def test_at_the_default_body_deadline_slow_senders_get_408_and_deliveries_go_through(
    web_at_defaults: str,
) -> None:
    _slow_senders_get_408(web_at_defaults, defaults.DEFAULT_BODY_TIMEOUT_S)


def _slow_senders_get_408(web: str, deadline_s: float) -> None:
    slow = []
    for _ in range(SLOW_SENDERS):
        sock = _connect(web)
        sock.sendall(SLOW_START)
        slow.append((sock, time.monotonic()))

    delivery = signed_jira()
    started = time.monotonic()
    accepted = httpx.post(web + delivery.path, content=delivery.body, headers=delivery.headers, timeout=10)

    assert accepted.status_code == 202, accepted.text
    assert time.monotonic() - started < DEADLINE_S
    for sock, sent_at in slow:
        with sock:
            answer, closed_at = _answer_and_close(sock, deadline_s + 5)
        assert answer.startswith(b"HTTP/1.1 408 "), answer
        assert b"connection: close" in answer
        assert deadline_s - 0.5 < closed_at - sent_at < deadline_s + 3


def test_headers_trickled_byte_by_byte_get_408_within_the_header_deadline(web: str) -> None:
    with _connect(web) as sock:
        started = time.monotonic()
        sock.sendall(b"POST /webhooks/jira HTTP/1.1\r\n")
        sock.settimeout(0.25)
        answer = b""
        # One header byte every 0.25 s: each byte would have reset uvicorn's keep-alive timer.
        for byte in b"X-Slow: " + b"a" * 40:
            try:
                sock.send(bytes([byte]))
                answer += sock.recv(65536)
            except TimeoutError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                break
            if answer:
                break
        rest, closed_at = _answer_and_close(sock, 5)
    assert (answer + rest).startswith(b"HTTP/1.1 408 ")
    assert closed_at - started < DEADLINE_S + 1.5


def test_a_connection_that_sends_nothing_is_closed_after_the_header_deadline(web: str) -> None:
    with _connect(web) as sock:
        started = time.monotonic()
        answer, closed_at = _answer_and_close(sock, DEADLINE_S + 5)
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert DEADLINE_S - 0.5 < closed_at - started < DEADLINE_S + 1.5


def test_headers_over_the_size_limit_get_431(web: str) -> None:
    with _connect(web) as sock:
        sock.sendall(
            b"POST /webhooks/jira HTTP/1.1\r\nHost: bridge\r\n" + b"X-Padding: " + b"a" * 70_000 + b"\r\n"
        )
        answer, _ = _answer_and_close(sock, 5)
    assert answer.startswith(b"HTTP/1.1 431 ")


def test_connections_over_the_cap_are_answered_503_with_retry_after_at_once(
    serve_app: ServeApp, settings: Settings
) -> None:
    server = serve_app(settings.replace(max_connections=20, header_timeout_s=DEADLINE_S))
    held = [_connect(server.base_url) for _ in range(20)]
    try:
        with _connect(server.base_url) as extra:
            answer, _ = _answer_and_close(extra, 2)
        assert answer.startswith(b"HTTP/1.1 503 ")
        assert b"retry-after: 5" in answer
        # Once the held connections miss their header deadline, deliveries are taken again.
        for sock in held:
            _answer_and_close(sock, DEADLINE_S + 5)
        with httpx.Client(base_url=server.base_url, timeout=10) as client:
            assert send(client, signed_jira()).status_code == 202
    finally:
        for sock in held:
            sock.close()


def test_a_slow_body_after_an_early_answer_is_still_cut_off(serve_app: ServeApp, settings: Settings) -> None:
    # A wrong content type is answered before the body is read; the trickling body must not keep the
    # connection open (every byte would have reset uvicorn's keep-alive timer), nor get a second answer.
    server = serve_app(settings.replace(body_timeout_s=DEADLINE_S))
    with _connect(server.base_url) as sock:
        started = time.monotonic()
        sock.sendall(
            b"POST /webhooks/jira HTTP/1.1\r\nHost: b\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\n"
        )
        sock.settimeout(0.3)
        received = b""
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            for _ in range(int(DEADLINE_S / 0.3) + 10):
                sock.send(b"x")
                with contextlib.suppress(TimeoutError):
                    received += sock.recv(65536)
        rest, closed_at = _answer_and_close(sock, 5)
    answers = received + rest
    assert answers.startswith(b"HTTP/1.1 415 ")
    assert answers.count(b"HTTP/1.1 ") == 1
    assert closed_at - started < DEADLINE_S + 2
