"""Oversized bodies: refused with 413 from the declared length, or while streaming, never buffered."""

from __future__ import annotations

import contextlib
import select
import socket

import httpx
import redis

from bridge.settings import Settings
from tests.receiver.conftest import ServeApp, signed_jira

FIFTY_MIB = 50 * 1024 * 1024


def test_declared_oversize_body_is_413(serve_app: ServeApp, settings: Settings) -> None:
    server = serve_app(settings.replace(max_body_bytes=1000))
    delivery = signed_jira()

    response = httpx.post(
        server.base_url + delivery.path, content=delivery.body + b" " * 1000, headers=delivery.headers
    )

    assert response.status_code == 413
    assert "limit of 1000" in response.json()["error"]


def test_streamed_50_mib_body_is_refused_while_it_is_still_arriving(
    bridge_url: str, redis_client: redis.Redis
) -> None:
    """A chunked 50 MiB upload gets its 413 before the sender is done: the receiver stops at the limit."""
    host, port = bridge_url.removeprefix("http://").split(":")
    chunk = b" " * 65536
    framed = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    sent = 0
    answer = b""
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            b"POST /webhooks/jira HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
            b"X-Hub-Signature: sha256=00\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        sock.setblocking(False)
        while sent < FIFTY_MIB and not answer:
            readable, writable, _ = select.select([sock], [sock], [], 5)
            if readable:
                answer = sock.recv(65536)
            elif writable:
                with contextlib.suppress(BlockingIOError, BrokenPipeError, ConnectionResetError):
                    sent += sock.send(framed)
    assert answer.startswith(b"HTTP/1.1 413")
    assert sent < FIFTY_MIB // 4
    assert redis_client.dbsize() == 0
