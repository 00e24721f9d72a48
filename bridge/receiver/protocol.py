"""uvicorn's HTTP/1.1 protocol with the deadlines it lacks: headers, body, header size, connections.

uvicorn (0.54, ``uvicorn/protocols/http/httptools_impl.py``) closes a kept-alive connection that stays idle
for ``timeout_keep_alive``, but has no deadline at all for a request in progress, nor for a connection
that never sends a byte: a byte a minute keeps a connection open for ever (each byte even cancels the
keep-alive timer), and a few hundred such connections exhaust the process's file descriptors, after
which genuine deliveries fail. Its ``limit_concurrency`` counts those very connections and answers the
genuine ones 503 without ``Retry-After``. So ``bridge web`` serves with this subclass:

- **headers**: from the connection's start, or a request's first byte, the request line and headers must
  be complete within BRIDGE_HEADER_TIMEOUT_S, and at most ``MAX_HEADER_BYTES`` long (431 beyond);
- **body**: once the headers are in, the body must be complete within BRIDGE_BODY_TIMEOUT_S;
- a request that misses its deadline is answered 408 (if no answer was started) and the connection closed;
  the app's ``receive`` then reports a disconnect and anything it sends is dropped;
- **connections**: beyond BRIDGE_MAX_CONNECTIONS open connections (lowered to what the file descriptor
  limit allows), a new one is answered 503 with ``Retry-After`` and closed before anything is read.

These deadlines bound what one process holds; in front of the bridge, a buffering proxy or ingress with
its own body timeouts absorbs slow clients before they reach it (docs/deploy.md, "What to put in front").
"""

from __future__ import annotations

import asyncio
import functools
import logging
import resource
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from bridge import defaults
from bridge.settings import Settings

_LOGGER = logging.getLogger("bridge.receiver")

FD_RESERVE = 64
"""File descriptors kept for everything but client connections (Redis, logs, the listening socket)."""


@functools.cache
def _from_env() -> Settings:
    return Settings.from_env()


@functools.cache
def fd_bound(wanted: int) -> int:
    """Raise the soft file descriptor limit as far as allowed; return how many connections fit under it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, wanted + FD_RESERVE)
    if soft != resource.RLIM_INFINITY and soft < wanted + FD_RESERVE <= target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted + FD_RESERVE, hard))
            soft = wanted + FD_RESERVE
        except (ValueError, OSError):  # a container may forbid it: then fit under the limit as it is
            pass
    if soft == resource.RLIM_INFINITY:
        return wanted
    return max(1, min(wanted, soft - FD_RESERVE))


def _answer(status: int, reason: str, message: str, extra: bytes = b"") -> bytes:
    body = message.encode()
    return (
        b"HTTP/1.1 %d %b\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: %d\r\n"
        b"connection: close\r\n%b\r\n%b" % (status, reason.encode(), len(body), extra, body)
    )


class DeadlineProtocol(HttpToolsProtocol):
    """``HttpToolsProtocol`` with header and body deadlines, a header size limit and a connection cap."""

    settings: Settings | None = None
    """The settings the deadlines come from; None: the environment's (``bridge web``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        settings = self.settings or _from_env()
        self.header_timeout_s = settings.header_timeout_s
        self.body_timeout_s = settings.body_timeout_s
        self.max_connections = fd_bound(settings.max_connections)
        self._deadline: asyncio.TimerHandle | None = None
        self._reading_headers = True
        self._header_bytes = 0

    @classmethod
    def with_settings(cls, settings: Settings) -> type[DeadlineProtocol]:
        """Return the protocol bound to ``settings`` (servers in one process with settings of their own)."""
        return type("DeadlineProtocol", (cls,), {"settings": settings})

    # Connections -----------------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.max_connections:
            retry_after = b"retry-after: %d\r\n" % defaults.OVERLOADED_RETRY_AFTER_S
            self._refuse(503, "Service Unavailable", "too many connections, retry later", retry_after)
            return
        self._arm(self.header_timeout_s, "headers")

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._reading_headers and not self.transport.is_closing():
            # The whole chunk arrived before the headers were complete: all of it counts as headers.
            self._header_bytes += len(data)
            if self._header_bytes > defaults.MAX_HEADER_BYTES:
                limit = defaults.MAX_HEADER_BYTES
                self._refuse(431, "Request Header Fields Too Large", f"headers over {limit} bytes")

    # Parser callbacks ------------------------------------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._reading_headers = True
        if self._deadline is None:
            self._arm(self.header_timeout_s, "headers")

    def on_headers_complete(self) -> None:
        self._reading_headers = False
        self._header_bytes = 0
        self._disarm()
        super().on_headers_complete()
        self._arm(self.body_timeout_s, "body")

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    # Deadlines -------------------------------------------------------------------------------------------

    def _arm(self, seconds: float, phase: str) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._late, phase)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _late(self, phase: str) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        seconds = self.header_timeout_s if phase == "headers" else self.body_timeout_s
        client = f"{self.client[0]}:{self.client[1]}" if self.client else "unknown"
        _LOGGER.warning("request %s not complete within %g s: 408 to %s", phase, seconds, client)
        self._refuse(408, "Request Timeout", f"request {phase} not complete within {seconds:g} s")

    def _refuse(self, status: int, reason: str, message: str, extra: bytes = b"") -> None:
        """Answer ``status`` (unless this request's answer was started) and close the connection."""
        self._disarm()
        # While headers are read, self.cycle is still the previous request's (kept alive), if any.
        cycle = None if self._reading_headers else self.cycle
        if cycle is not None:
            started = cycle.response_started
            if not cycle.response_complete:
                # The app is still on this request: it sees a disconnect, and what it sends is dropped.
                cycle.disconnected = True
                cycle.message_event.set()
            if started:
                self.transport.close()
                return
        self.transport.write(_answer(status, reason, message, extra))
        self.transport.close()
