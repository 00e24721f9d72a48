"""The gate every request to a destination passes: its rate limit, its 429 pause, its circuit breaker.

A ``DestinationGuard`` sits in a client's transport (``bridge.upstreams.transport.RequestGuard``), one per
destination and process. Before a request it raises ``DestinationHeld`` when the destination's pause
or open circuit holds it, or when its next rate-limit slot is more than ``PACE_MAX_WAIT_S`` away (it
sleeps until a nearer one); after it, it tells the shared gate what the upstream answered
(``bridge/stores/breaker.py``, ``bridge/stores/ratelimit.py``). The drain jobs ask ``held()`` before they
take a unit, so that a held destination's calls stay waiting, in order, instead of failing one by one.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from redis import Redis

from bridge import defaults
from bridge.errors import DestinationHeld
from bridge.stores import breaker, ratelimit
from bridge.upstreams import DESTINATIONS

if TYPE_CHECKING:
    from bridge.settings import Settings
    from bridge.upstreams import Clients

log = logging.getLogger("bridge.worker")

PROBE_WAIT_S = 1.0
"""How long other requests wait while one probes a half-open circuit."""


@dataclass(frozen=True)
class Hold:
    """Why and until when (epoch seconds) a destination's requests are held."""

    until: float
    reason: str


class DestinationGuard:
    """The gate of one destination's requests in one process (its job thread's; not shared by threads).

    ``per_second``: the destination's rate limit (``BRIDGE_RATE_LIMIT_<DESTINATION>``), 0 for none;
    ``probe_lease_s``: how long a probe may take before another may try (the worker's lease).
    """

    def __init__(
        self,
        conn: Redis,
        destination: str,
        per_second: float = 0.0,
        probe_lease_s: float = defaults.BREAKER_OPEN_S,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.conn = conn
        self.destination = destination
        self.per_second = per_second
        self.probe_lease_s = probe_lease_s
        self._sleep = sleep
        self._gate = breaker.Gate()
        self._probing = False
        self._answered = 0
        self._flushed_at = time.monotonic()

    @property
    def paced(self) -> bool:
        """Whether the destination has a rate limit."""
        return self.per_second > 0

    def free_now(self) -> bool:
        """Whether a request could go without waiting more than one interval of the rate limit (True for
        a destination without one): an event job makes its own calls only then, a drain job the others."""
        return (
            self.per_second <= 0 or ratelimit.next_slot_in(self.conn, self.destination) <= 1 / self.per_second
        )

    def held(self) -> Hold | None:
        """Return why the destination's requests are held now, or None (read at most every ``GATE_CACHE_S``)."""
        gate = self._read()
        now = time.time()
        if gate.paused_until > now:
            return Hold(gate.paused_until, f"paused after a 429 until {_clock(gate.paused_until)}")
        if gate.open_until > now:
            return Hold(gate.open_until, f"circuit open until {_clock(gate.open_until)} ({gate.reason})")
        if gate.open_until and gate.probing:
            return Hold(now + PROBE_WAIT_S, "circuit half-open: another request probes")
        return None

    def before(self) -> None:
        """Let one request go (sleeping for its rate-limit slot if need be) or raise ``DestinationHeld``."""
        self._raise_if_held()
        if self._gate.open_until:  # half-open as last read: read again, then only the probe goes
            self._gate = breaker.read(self.conn, [self.destination])[self.destination]
            self._raise_if_held()
        if self._gate.open_until:
            if not breaker.try_probe(self.conn, self.destination, uuid.uuid4().hex, self.probe_lease_s):
                raise DestinationHeld(
                    self.destination, time.time() + PROBE_WAIT_S, "circuit half-open: another request probes"
                )
            self._probing = True
        if self.per_second > 0:
            slot = ratelimit.reserve(self.conn, self.destination, self.per_second, defaults.PACE_MAX_WAIT_S)
            if not slot.taken:
                self._end_probe(answered=None)
                raise DestinationHeld(
                    self.destination, time.time() + slot.wait_s, f"rate limit of {self.per_second:g}/s"
                )
            if slot.wait_s > 0:
                self._sleep(slot.wait_s)

    def _raise_if_held(self) -> None:
        hold = self.held()
        if hold is not None:
            raise DestinationHeld(self.destination, hold.until, hold.reason)

    def after(self, status: int | None, retry_after: float | None = None, what: str = "") -> None:
        """Tell the gate what became of a request: ``status`` (None: no answer) and ``Retry-After``."""
        answered = status is not None and status < 500 and status != 408
        if status == 429:
            until = time.time() + (retry_after if retry_after is not None else defaults.PAUSE_DEFAULT_S)
            breaker.pause(self.conn, self.destination, until)
            self._gate = breaker.Gate()  # read again next time
            log.warning(
                "%s answered 429: every worker holds its requests until %s", self.destination, _clock(until)
            )
        if self._probing:
            self._end_probe(answered)
        elif answered:
            self._answered += 1
            if time.monotonic() - self._flushed_at >= defaults.BREAKER_FLUSH_S:
                self.flush()
        elif breaker.failed(self.conn, self.destination, what or f"last: {status or 'no answer'}"):
            self._gate = breaker.Gate()
            log.warning(
                "%s: circuit opened (%s); its calls wait %g s, then one probe goes",
                self.destination,
                what or status,
                defaults.BREAKER_OPEN_S,
            )

    def flush(self) -> None:
        """Add the requests that got an answer since the last flush to the shared window."""
        if self._answered:
            breaker.answered(self.conn, {self.destination: self._answered})
        self._answered = 0
        self._flushed_at = time.monotonic()

    def _end_probe(self, answered: bool | None) -> None:
        if not self._probing:
            return
        self._probing = False
        if answered is None:  # the probe was never sent: let another try
            breaker.release_probe(self.conn, self.destination)
            return
        breaker.probed(self.conn, self.destination, answered)
        self._gate = breaker.Gate()
        log.warning(
            "%s: circuit %s after its probe", self.destination, "closed" if answered else "opened again"
        )

    def _read(self) -> breaker.Gate:
        if time.time() - self._gate.read_at >= defaults.GATE_CACHE_S:
            self._gate = breaker.read(self.conn, [self.destination])[self.destination]
        return self._gate


def _clock(moment: float) -> str:
    return time.strftime("%H:%M:%S", time.gmtime(moment)) + "Z"


def guard_all(conn: Redis, clients: Clients, settings: Settings) -> dict[str, DestinationGuard]:
    """Put a gate in front of each configured client's requests and return the gates by destination: a
    worker process does it at start, and so does a command that reads upstreams in bulk (``bridge
    resync``), which then shares the workers' rate limits, pauses and circuits."""
    guards = {
        name: DestinationGuard(
            conn, name, settings.rate_limits.get(name, 0.0), probe_lease_s=settings.worker_lease_s * 2
        )
        for name in DESTINATIONS
        if name in clients
    }
    clients.guard_with(guards.__getitem__)
    return guards
