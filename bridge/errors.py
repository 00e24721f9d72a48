"""The bridge's exception tree.

BridgeError
├── SettingsError        a variable is missing or malformed (start-up)
├── DeliveryRejected     an inbound webhook is refused (carries the HTTP status and reason)
└── UpstreamError        an upstream API call failed (``bridge.clients.errors``)
"""

from __future__ import annotations


class BridgeError(Exception):
    """Root of every error the bridge raises on purpose."""


class SettingsError(BridgeError):
    """A configuration variable is missing or malformed; the message names the variable."""


class DeliveryRejected(BridgeError):
    """An inbound delivery is refused with ``status`` and a reason the sender can read."""

    def __init__(self, status: int, reason: str, code: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        # Short machine-readable reason, the label of the rejections metric.
        self.code = code
