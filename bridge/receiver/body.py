"""Reading a request body under a size limit, without buffering what is over it."""

from __future__ import annotations

from starlette.requests import Request

from bridge.errors import DeliveryRejected

_JSON_TYPES = ("application/json",)


def check_content_type(request: Request) -> None:
    """Refuse anything but JSON (``application/json`` or a ``+json`` type), with 415."""
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type not in _JSON_TYPES and not media_type.endswith("+json"):
        raise DeliveryRejected(
            415, f"content type must be application/json, got {media_type or 'none'!r}", "media_type"
        )


async def read_limited(request: Request, limit: int) -> bytes:
    """Return the body, or refuse with 413 as soon as it is known to be larger than ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise DeliveryRejected(413, f"body of {declared} bytes is over the limit of {limit}", "too_large")
    chunks: list[bytes] = []
    size = 0
    # A chunked body has no Content-Length: count while reading and stop at the limit.
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise DeliveryRejected(413, f"body is over the limit of {limit} bytes", "too_large")
        chunks.append(chunk)
    return b"".join(chunks)
