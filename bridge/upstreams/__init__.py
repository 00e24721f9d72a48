"""The upstream APIs the bridge calls: one folder each, and this registry, one line per upstream.

Every folder ``bridge/upstreams/<name>/`` has the same three parts:

- ``client.py``   the API's client, and ``from_settings(settings, transport)``: the client, or None while
  its variables are unset;
- ``actions.py``  ``ACTIONS``: the action kinds rules may plan for it, each with the function that makes
  the upstream call(s);
- ``sandbox.py``  ``API``: its in-memory emulation, served by ``bridge sandbox`` and the tests;

and they share ``transport.py`` (one pooled httpx client, answers mapped to ``bridge.errors``),
``models.py`` (the pydantic base of upstream shapes) and ``sandbox/`` (the emulations' server, faults and
call log). From the names below come the destinations (queues, rate limits, records), the action table
the rules are checked against, the functions the executor calls, the clients a worker builds and the
sandbox's emulated APIs. Adding an upstream is its folder and its line here (plus its variables in
``bridge/settings.py`` and its dev credentials in ``sandbox/config.py``).

The parts are imported by name when first asked for, so this module is cheap to import (settings and
the receiver only need the names) and no API's module imports another's.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import ModuleType, TracebackType
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from bridge.errors import NotConfigured, UpstreamError, UpstreamNotFound
from bridge.rules.params import ActionSpec

if TYPE_CHECKING:
    import httpx
    from redis import Redis
    from redis.client import Pipeline

    from bridge.settings import Settings
    from bridge.upstreams.transport import ApiTransport, RequestGuard

DESTINATIONS: tuple[str, ...] = (
    "jira",  # Jira Cloud platform REST: issue remote links, get issue
    "jira_software",  # Jira Software Cloud remote links, as a Connect app
    "zendesk",  # Zendesk Support: links between tickets and Jira issues
    "salesforce",  # Appfire's Salesforce connector on Jira Data Center: associations of an issue
    "jsm",  # Jira Service Management ops: an integration's actions
)
"""The upstream APIs, by the name their calls go by: each has its own queue, so one cannot hold up another."""

Result = dict[str, Any]


@dataclass(frozen=True)
class Call:
    """What an action's function knows of the call it makes besides its parameters."""

    key: str
    """The call's idempotency key, sent as ``Idempotency-Key``."""
    version: int
    """The version of the plan it belongs to (grows with every plan: Jira Software's updateSequenceNumber)."""
    again: bool = False
    """A call on the same record began before and never finished (its answer may be lost, the record may
    hold its effect): look before creating."""
    read: tuple[Any, ...] | None = None
    """The replies of the action's ``read_ahead``, read in the round trip that claimed the call; None when
    the action has none."""
    then: list[Callable[[Pipeline], object]] = field(default_factory=list, compare=False)
    """Writes of the bridge's own records that the call's effect makes true (a link in the index), queued by
    the action's function as it returns: the executor sends them in the round trip that ends the call,
    before the call is marked done."""


ReadAhead = Callable[["Pipeline", dict[str, Any]], object]
"""Queue on a pipeline the reads of the bridge's own records that an action's function will make for
``params``: ``(pipe, params)``. The executor sends them with the call's claim, after it, and the function
finds their replies in ``Call.read`` (a round trip fewer per call)."""

Perform = Callable[["Clients", "Redis", dict[str, Any], Call], Result]
"""Make one planned action's upstream call(s): ``(clients, redis, params, call) → result``."""

PerformMany = Callable[
    ["Clients", "Redis", list[tuple[dict[str, Any], Call]]], list["Result | UpstreamError"]
]
"""Make many calls of one kind in one request, for an API that takes them in bulk: ``(clients, redis,
[(params, call)…]) → [result or the error refusing that one…]`` in the same order; raises ``UpstreamError``
(or ``DestinationHeld``…) when the request as a whole failed."""


class Client(Protocol):
    transport: ApiTransport

    def close(self) -> None: ...


C = TypeVar("C", bound=Client)


@dataclass(frozen=True)
class Action:
    """One action kind an upstream offers rules: what a rule may ask (``spec``) and what does it."""

    spec: ActionSpec
    perform: Perform
    perform_many: PerformMany | None = None
    """For an API that takes many such calls in one request (Jira Software's bulk submit): the drain jobs
    merge waiting calls of different records into one request (``bridge.executor.Executor.perform_many``)."""
    read_ahead: ReadAhead | None = None
    """The reads ``perform`` makes of the bridge's own records, sent with the call's claim (``Call.read``)."""


def delete(call: Callable[[], object]) -> Result:
    """Make a delete call; what is already gone counts as deleted (the effect wanted is its absence)."""
    try:
        call()
    except UpstreamNotFound:
        return {"deleted": False, "reason": "not found"}
    return {"deleted": True}


def room(name: str, part: str) -> ModuleType:
    """Return one part (``client``, ``actions``, ``sandbox``) of the upstream ``name``."""
    return importlib.import_module(f"{__name__}.{name}.{part}")


@functools.cache
def actions() -> Mapping[str, Action]:
    """Return every action kind of every upstream, by kind."""
    table: dict[str, Action] = {}
    for name in DESTINATIONS:
        for action in room(name, "actions").ACTIONS:
            if action.spec.destination != name or action.spec.kind in table:
                raise ValueError(f"upstream {name}: action kind {action.spec.kind} is not its own")
            table[action.spec.kind] = action
    return table


def action_specs() -> dict[str, ActionSpec]:
    """Return what rules may plan: every action kind's destination, target and parameters."""
    return {kind: action.spec for kind, action in actions().items()}


class Clients:
    """The clients of the configured upstreams, by name; a worker process keeps them for its life."""

    def __init__(self, clients: Mapping[str, Client] | None = None) -> None:
        self._clients = dict(clients or {})

    def __contains__(self, name: object) -> bool:
        return name in self._clients

    def get(self, name: str, kind: type[C]) -> C | None:
        """Return the client of upstream ``name`` (of class ``kind``), or None when it is not configured."""
        client = self._clients.get(name)
        if client is None:
            return None
        if not isinstance(client, kind):
            raise TypeError(f"the {name} client is a {type(client).__name__}, not a {kind.__name__}")
        return client

    def need(self, name: str, kind: type[C], variables: str) -> C:
        """Return the client of upstream ``name``; raise ``NotConfigured`` naming its ``variables``."""
        client = self.get(name, kind)
        if client is None:
            raise NotConfigured(f"this action needs {variables} to be set")
        return client

    def guard_with(self, make: Callable[[str], RequestGuard]) -> None:
        """Put a guard made by ``make(name)`` in front of each client's requests (``bridge/guard.py``)."""
        for name, client in self._clients.items():
            client.transport.guard = make(name)

    def close(self) -> None:
        """Close every client's connections."""
        for client in self._clients.values():
            client.close()

    def __enter__(self) -> Clients:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()


def clients_from_settings(settings: Settings, transport: httpx.BaseTransport | None = None) -> Clients:
    """Build the clients whose base URL and credentials are all set (``transport``: tests only)."""
    built = {name: room(name, "client").from_settings(settings, transport) for name in DESTINATIONS}
    return Clients({name: client for name, client in built.items() if client is not None})
