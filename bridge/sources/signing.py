"""Signature helpers shared by the sources: HMAC computations and constant-time comparison."""

from __future__ import annotations

import base64
import hmac


def hub_signature(secret: str, body: bytes) -> str:
    """Return Jira's ``X-Hub-Signature`` value for ``body``: ``sha256=<hex HMAC-SHA256>``."""
    return "sha256=" + hmac.digest(secret.encode(), body, "sha256").hex()


def zendesk_signature(secret: str, timestamp: str, body: bytes) -> str:
    """Return Zendesk's signature: base64(HMAC-SHA256(secret, timestamp + body)), secret used as given."""
    digest = hmac.digest(secret.encode(), timestamp.encode() + body, "sha256")
    return base64.b64encode(digest).decode()


def same(expected: str, given: str) -> bool:
    """Compare two strings in constant time (as bytes, so any characters are fine)."""
    return hmac.compare_digest(expected.encode(), given.encode())
