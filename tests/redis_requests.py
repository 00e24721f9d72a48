"""Counting what a test's code sends to Redis: each request (one command, or one pipeline) as its bytes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import cast

import redis.connection


@contextmanager
def sent_to_redis() -> Iterator[list[bytes]]:
    """Record every request this process's Redis connections send while the block runs: one item per
    round trip (a pipeline's commands are one request), its packed bytes."""
    sent: list[bytes] = []
    send = redis.connection.Connection.send_packed_command

    def recorded(self: redis.connection.Connection, command: object, check_health: bool = True) -> None:
        parts = command if isinstance(command, list) else [command]
        sent.append(b"".join(bytes(cast(bytes, part)) for part in parts))
        send(self, command, check_health)  # type: ignore[no-untyped-call]

    redis.connection.Connection.send_packed_command = recorded  # type: ignore[method-assign,assignment]
    try:
        yield sent
    finally:
        redis.connection.Connection.send_packed_command = send  # type: ignore[method-assign]
