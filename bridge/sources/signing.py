"""Signature helpers shared by the sources: HMAC computations and constant-time comparison."""

from __future__ import annotations

import base64
import hashlib
import hmac


def hub_signature(secret: str, body: bytes) -> str:
    """Return Jira's ``X-Hub-Signature`` value for ``body``: ``sha256=<hex HMAC-SHA256>``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def zendesk_signature(secret: str, timestamp: str, body: bytes) -> str:
    """Return Zendesk's signature: base64(HMAC-SHA256(secret, timestamp + body)), secret used as given."""
    digest = hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def same(expected: str, given: str) -> bool:
    """Compare two strings in constant time (as bytes, so any characters are fine)."""
    return hmac.compare_digest(expected.encode(), given.encode())
