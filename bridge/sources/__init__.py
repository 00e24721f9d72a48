"""Inbound sources: one module per sender, each with ``verify``, ``delivery_key`` and ``normalize``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Delivery:
    """One inbound webhook request as received: lower-cased headers, query, raw body."""

    headers: Mapping[str, str]
    query: Mapping[str, str]
    body: bytes
    received_at: datetime
