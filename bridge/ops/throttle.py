"""Failed logins to the dashboard and the ops API, counted in Redis per client address and per user name.

Counting in Redis makes the limits hold across every web process and dyno. A window opens with the first
failure of an address (or a user name) and lasts ``window_s``; once ``per_address`` (or ``per_user``)
failures fall in it, every login of that address (or name) is answered 429 with ``Retry-After`` until the
window ends, without the password being checked, so that guessing goes no further. The user name is kept
as a hash (any text may be sent as one); passwords are never stored or logged.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable

from redis import Redis

from bridge.keys import LOGIN_FAILURES_KEY

_LOGGER = logging.getLogger("bridge.ops")

FAILURES_PER_ADDRESS = 10
"""Failed logins one client address may make in a window before it is refused with 429."""

FAILURES_PER_USER = 50
"""Failed logins one user name may get in a window, from all addresses together."""

WINDOW_S = 900
"""Length of a throttle window, from the first failure in it."""


class LoginThrottle:
    """Per-address and per-user-name limits on failed logins, shared by all processes through Redis."""

    def __init__(
        self,
        connection: Callable[[], Redis],
        per_address: int = FAILURES_PER_ADDRESS,
        per_user: int = FAILURES_PER_USER,
        window_s: int = WINDOW_S,
    ) -> None:
        self._connection = connection
        self.per_address = per_address
        self.per_user = per_user
        self.window_s = window_s

    def retry_after(self, address: str, user: str) -> int | None:
        """Return the seconds until ``address`` or ``user`` may try again, or None when they may now."""
        keys = _keys(address, user)
        pipe = self._connection().pipeline(transaction=False)
        for key in keys:
            pipe.get(key)
            pipe.pttl(key)
        address_count, address_ttl, user_count, user_ttl = pipe.execute()
        waits = [
            ttl
            for count, ttl, limit in (
                (address_count, address_ttl, self.per_address),
                (user_count, user_ttl, self.per_user),
            )
            if count is not None and int(count) >= limit
        ]
        if not waits:
            return None
        # A key without TTL (-1) cannot exist here, but waiting a window is the safe answer if it did.
        return max(1, -(-max(ttl if ttl > 0 else self.window_s * 1000 for ttl in waits) // 1000))

    def failed(self, address: str, user: str) -> None:
        """Count a failed login of ``user`` from ``address`` (and log it, without the password)."""
        pipe = self._connection().pipeline(transaction=True)
        for key in _keys(address, user):
            # The first failure opens the window; later ones count in it without extending it.
            pipe.set(key, 0, ex=self.window_s, nx=True)
            pipe.incr(key)
        _, address_count, _, user_count = pipe.execute()
        _LOGGER.warning(
            "dashboard login failed",
            extra={
                "user": user[:64],
                "client": address,
                "failures_of_client": address_count,
                "failures_of_user": user_count,
                "throttled": address_count >= self.per_address or user_count >= self.per_user,
            },
        )


def _keys(address: str, user: str) -> tuple[str, str]:
    user_hash = hashlib.sha256(user.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return (
        LOGIN_FAILURES_KEY.format(kind="addr", value=address[:64]),
        LOGIN_FAILURES_KEY.format(kind="user", value=user_hash),
    )
