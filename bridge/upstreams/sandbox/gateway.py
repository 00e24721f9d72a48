"""The sandbox's front door: every call to an emulated API is logged, delayed and faulted here.

It runs before Starlette's own middleware so that it holds the server's ``send``, which a dropped
connection needs. The hot path is a prefix check, one tuple appended to the call log and, only while
faults exist, a scan of them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping

import orjson
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bridge.upstreams.sandbox.call_log import CallLog
from bridge.upstreams.sandbox.emulation import EmulatedApi
from bridge.upstreams.sandbox.faults import Fault, FaultTable
from bridge.upstreams.sandbox.quotas import QuotaTable, retry_after


def _routing(apis: Mapping[str, EmulatedApi]) -> list[tuple[str, str, int]]:
    """(path prefix, api, length of the mount prefix to cut), longest prefix first: the first match wins."""
    table = [(api.prefix + api.paths, name, len(api.prefix)) for name, api in apis.items()]
    return sorted(table, key=lambda row: len(row[0]), reverse=True)


def _idempotency_key(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"idempotency-key":
            return str(value.decode("latin-1"))
    return None


def fault_response(fault: Fault, api: EmulatedApi) -> Response:
    """The answer a status fault gives: its body, or an error in the API's own shape."""
    if fault.body is None:
        response = api.error(fault.status or 500, f"sandbox fault {fault.id}", {})
    elif isinstance(fault.body, str):
        response = Response(fault.body, fault.status or 500, media_type=_text_type(fault.body))
    else:
        response = Response(orjson.dumps(fault.body), fault.status or 500, media_type="application/json")
    if fault.retry_after is not None:
        response.headers["retry-after"] = fault.retry_after
    return response


def _text_type(body: str) -> str:
    try:
        orjson.loads(body)
    except orjson.JSONDecodeError:
        return "text/plain"
    return "application/json"


async def _drop(send: Send) -> None:
    """Close the connection without an answer (uvicorn's ``send`` is bound to the request's cycle)."""
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is None:
        raise RuntimeError("this server does not let the sandbox drop a connection")
    transport.close()
    # Let the server see the disconnect before the app returns, so it sends no 500 of its own.
    await asyncio.sleep(0)


class Gateway:
    """ASGI wrapper of the sandbox app: call log, configured latency and faults."""

    def __init__(
        self,
        app: ASGIApp,
        apis: Mapping[str, EmulatedApi],
        calls: CallLog,
        faults: FaultTable,
        latency_s: float,
        quotas: QuotaTable | None = None,
    ) -> None:
        self.app = app
        self.apis = apis
        self.calls = calls
        self.faults = faults
        self.latency_s = latency_s
        self.quotas = quotas if quotas is not None else QuotaTable()
        self._routing = _routing(apis)

    def _classify(self, path: str) -> tuple[str, str] | None:
        """Return (api, path below its prefix) for a call to an emulated API, else None."""
        for prefix, api, cut in self._routing:
            if path.startswith(prefix):
                return api, path[cut:]
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = self._classify(scope["path"]) if scope["type"] == "http" else None
        if found is None:
            await self.app(scope, receive, send)
            return
        api, path = found
        method: str = scope["method"]
        at = time.time()
        status: list[int | None] = [None]

        async def recording_send(message: Message) -> None:
            if message["type"] in ("http.response.start", "bridge.swallowed"):
                status[0] = message["status"]
            if message["type"] != "bridge.swallowed":
                await send(message)

        try:
            if self.latency_s:
                await asyncio.sleep(self.latency_s)
            wait = self.quotas.take(api) if self.quotas.quotas else 0.0
            fault = self.faults.take(api, method, path) if self.faults.faults else None
            if wait:
                response = self.apis[api].error(429, "rate limit exceeded (sandbox quota)", {})
                response.headers["retry-after"] = retry_after(wait)
                await response(scope, receive, recording_send)
            elif fault is None:
                await self.app(scope, receive, recording_send)
            else:
                await self._inject(fault, api, scope, receive, send, recording_send)
        finally:
            query = scope.get("query_string", b"").decode("latin-1")
            self.calls.record(api, method, path, query, status[0], _idempotency_key(scope), at)

    async def _inject(
        self, fault: Fault, api: str, scope: Scope, receive: Receive, send: Send, recording_send: Send
    ) -> None:
        if fault.delay_s:
            await asyncio.sleep(fault.delay_s)
        if fault.drop:
            await _drop(send)
        elif fault.drop_after:
            # The emulated API does the work; its answer goes nowhere (the call log still shows it).
            async def swallowed(message: Message) -> None:
                if message["type"] == "http.response.start":
                    await recording_send({**message, "type": "bridge.swallowed"})

            await self.app(scope, receive, swallowed)
            await _drop(send)
        elif fault.status is None:
            await self.app(scope, receive, recording_send)
        else:
            await fault_response(fault, self.apis[api])(scope, receive, recording_send)
