"""A small HTTP/1.1 load generator on raw asyncio sockets (keep-alive, no pipelining).

Python HTTP clients cost more per request than the servers measured here; this one sends pre-built
request bytes and reads just enough of each answer to find its end, so that the client is not what is
measured. It runs in its own process, beside the server's.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass
class LoadResult:
    """Requests completed, by status, over ``seconds``."""

    seconds: float
    statuses: collections.Counter[int] = field(default_factory=collections.Counter)
    errors: int = 0

    @property
    def total(self) -> int:
        return sum(self.statuses.values())

    def rate(self, status: int | None = None) -> float:
        count = self.total if status is None else self.statuses[status]
        return count / self.seconds if self.seconds else 0.0


async def _connection(
    host: str,
    port: int,
    requests: Sequence[bytes],
    start: int,
    stride: int,
    deadline: float,
    result: LoadResult,
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    index = start
    try:
        while time.perf_counter() < deadline and index < len(requests):
            writer.write(requests[index])
            index += stride
            head = await read_answer(reader)
            result.statuses[int(head[9:12])] += 1
    except (OSError, ValueError, asyncio.IncompleteReadError):
        result.errors += 1
    finally:
        writer.close()


async def _run(
    host: str, port: int, requests: Sequence[bytes], connections: int, seconds: float
) -> LoadResult:
    result = LoadResult(seconds)
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(
        *(_connection(host, port, requests, i, connections, deadline, result) for i in range(connections))
    )
    result.seconds = time.perf_counter() - started
    return result


def run_load(host: str, port: int, requests: Sequence[bytes], connections: int, seconds: float) -> LoadResult:
    """Send ``requests`` (each used once, spread over the connections) for up to ``seconds``."""
    try:
        import uvloop

        return uvloop.run(_run(host, port, requests, connections, seconds))
    except ImportError:
        return asyncio.run(_run(host, port, requests, connections, seconds))


async def read_answer(reader: asyncio.StreamReader) -> bytes:
    """Read one HTTP/1.1 answer (its body by ``Content-Length``); return its head."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    if length:
        await reader.readexactly(length)
    return head


def http_request(path: str, headers: dict[str, str], body: bytes) -> bytes:
    """Build the bytes of one HTTP/1.1 POST."""
    lines = [f"POST {path} HTTP/1.1", "Host: bench"] + [f"{k}: {v}" for k, v in headers.items()]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body
