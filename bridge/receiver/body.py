"""Reading a request's headers and body straight from ASGI, under a size limit.

The webhook routes are plain ASGI apps: they answer every delivery, so they skip building a Starlette
``Request`` and read what they need from the scope once.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.types import Receive, Scope

from bridge.errors import DeliveryRejected

MAX_JSON_DEPTH = 64
"""Deepest nesting of arrays and objects accepted in a body (the senders' bodies nest about 8 deep; the
JSON parser crashes the process on a few hundred thousand, and events must stay encodable)."""

# A JSON string, escapes included (the unrolled form of "(?:[^"\\]|\\.)*", which is linear).
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKETS = bytes(byte for byte in range(256) if byte not in b"[]{}")


def headers_of(scope: Scope) -> dict[str, str]:
    """Return the request headers as a dict of lower-case names (the last of repeated ones wins)."""
    return {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}


def query_of(scope: Scope) -> dict[str, str]:
    """Return the query parameters (most deliveries have none: then no parsing at all)."""
    raw: bytes = scope.get("query_string", b"")
    return dict(parse_qsl(raw.decode("latin-1"))) if raw else {}


def check_content_type(headers: dict[str, str]) -> None:
    """Refuse anything but JSON (``application/json`` or a ``+json`` type), with 415."""
    media_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise DeliveryRejected(
            415, f"content type must be application/json, got {media_type or 'none'!r}", "media_type"
        )


async def read_limited(headers: dict[str, str], receive: Receive, limit: int) -> bytes:
    """Return the body, or refuse with 413 as soon as it is known to be larger than ``limit`` bytes."""
    declared = headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise DeliveryRejected(413, f"body of {declared} bytes is over the limit of {limit}", "too_large")
    chunks: list[bytes] = []
    size = 0
    more = True
    # A chunked body has no Content-Length: count while reading and stop at the limit.
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise DeliveryRejected(400, "client disconnected before the body was complete", "disconnected")
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise DeliveryRejected(413, f"body is over the limit of {limit} bytes", "too_large")
        chunks.append(chunk)
        more = message.get("more_body", False)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def parse_json(body: bytes) -> dict[str, Any]:
    """Return the body as a JSON object; refuse invalid JSON, other values and too deep nesting with 400."""
    if _nesting_over(body, MAX_JSON_DEPTH):
        raise DeliveryRejected(400, f"body nests arrays and objects deeper than {MAX_JSON_DEPTH}", "too_deep")
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise DeliveryRejected(
            400, f"body is not valid JSON: {exc.msg} at character {exc.pos}", "bad_json"
        ) from None
    if not isinstance(payload, dict):
        raise DeliveryRejected(400, "body must be a JSON object", "unknown_shape")
    return payload


def _nesting_over(body: bytes, limit: int) -> bool:
    """Tell whether arrays and objects nest deeper than ``limit``, before a parser recurses into them."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    depth = 0
    # Brackets inside strings do not count: drop the strings, then everything but brackets.
    for byte in _JSON_STRING.sub(b"", body).translate(None, _NOT_BRACKETS):
        if byte in b"[{":
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False
