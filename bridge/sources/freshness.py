"""How old or how far ahead a delivery's own time may be, and what identifies its signed content.

The signatures of both senders cover the body, not the headers that identify a delivery: a captured
body sent again with a new ``X-Atlassian-Webhook-Identifier`` (or ``X-Zendesk-Webhook-Invocation-Id``)
would be a new delivery. So the receiver also remembers a hash of what the signature covers, in the
same Redis step as the enqueue, and refuses Jira bodies older than the replay window
(``BRIDGE_JIRA_MAX_AGE_S``), so that no remembered hash needs to outlive it. Zendesk's signature covers
its timestamp, which must already be within ``BRIDGE_SIGNATURE_TOLERANCE_S`` of now.

A time later than now (beyond the clocks' tolerance) is refused too: as a ``sequence`` it would make
every genuine later event of its subject look stale.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from bridge import defaults
from bridge.errors import DeliveryRejected
from bridge.event import Normalized


def check_not_ahead(found: Normalized, now: datetime) -> None:
    """Refuse an event whose time or sequence lies ahead of ``now`` by more than the clocks' tolerance."""
    ahead_s = max((found.occurred_at - now).total_seconds(), found.sequence / 1000 - now.timestamp())
    if ahead_s > defaults.MAX_CLOCK_AHEAD_S:
        raise DeliveryRejected(
            400,
            f"the event's time is {int(ahead_s)} s ahead of the receiver's clock"
            f" (at most {defaults.MAX_CLOCK_AHEAD_S} s are tolerated)",
            "future_time",
        )


def check_not_older(found: Normalized, now: datetime, max_age_s: int, what: str) -> None:
    """Refuse an event whose time is older than ``max_age_s`` (a replay, or a delivery beyond retries)."""
    age_s = now.timestamp() - found.sequence / 1000
    if age_s > max_age_s:
        raise DeliveryRejected(
            400,
            f"{what} is {int(age_s)} s old, older than the replay window of {max_age_s} s"
            " (BRIDGE_JIRA_MAX_AGE_S); `bridge reconcile` repairs what older changes left undone",
            "too_old",
        )


def content_key(*signed: bytes) -> str:
    """Return the dedupe id of a delivery's signed content (the parts its signature covers)."""
    digest = hashlib.sha256()
    for part in signed:
        digest.update(part)
    return "signed:" + digest.hexdigest()
