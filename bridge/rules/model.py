"""What the rules produce: planned actions, and what they know about links (``Linked``)."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson


@dataclass(frozen=True)
class Linked:
    """What the bridge knows of the subject's links, as of the newest state of every subject involved.

    Ticket events: ``issues``, one mapping per issue the ticket is or was linked with, each
    ``{id, key, wanted, by_ticket, by_issue, linked}``: ``by_ticket`` — the ticket's Jira field names the
    issue (by any key it ever had); ``by_issue`` — the issue's JIRA_ZENDESK_FIELD names the ticket;
    ``linked`` — the bridge linked them before; ``wanted`` — either side names the other and both
    exist. ``jira_issue_keys``: current keys of the wanted issues; ``referenced_jira_issue_keys``: the keys
    the ticket's field held at its previous state.
    Issue events: ``tickets`` (``{id, wanted, by_ticket, by_issue, linked}``) and ``zendesk_ticket_ids``
    (the wanted ones).
    """

    jira_issue_keys: tuple[str, ...] = ()
    zendesk_ticket_ids: tuple[str, ...] = ()
    referenced_jira_issue_keys: tuple[str, ...] = ()
    issues: tuple[dict[str, Any], ...] = ()
    tickets: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class PlannedAction:
    """One call the rules want made for one event, before any upstream is asked."""

    kind: str
    destination: str
    target: str
    params: dict[str, Any] = field(hash=False)
    rule: str
    event_id: str
    sequence: int
    # "<source>:<subject.kind>:<subject.id>": the subject whose newest state the plan came from.
    subject: str
    # The record the call writes (``ActionSpec.object``) and the plan's version: on one object, a call of
    # an older plan never takes effect after one of a newer plan (bridge/planner.py).
    object: str = ""
    version: int = 0
    # An operator's "make the calls again" (``bridge replay EVENT --again``): who asked, through what, when,
    # and of which event (``Override``). Such a call is made even though its like was made before.
    override: dict[str, str] | None = field(default=None, hash=False)

    @property
    def idempotency_key(self) -> str:
        """Return the call's identity: sha256 of kind, object, version and the canonical params (and of the
        override, for a call an operator asked to make again).

        The plan's version is part of it so that a ticket that goes open → solved → open, or a key removed
        and added again, makes its calls again; a redelivered, replayed or re-run event plans nothing new
        (its subject's state is already applied) and a re-run plan makes each call once. An override makes a
        new key that records who asked and when: the call is made once more, and only once.
        """
        return idempotency_key(
            self.kind, self.object or self.target, self.params, self.version, self.override
        )

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict (RQ job arguments travel as JSON)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PlannedAction:
        """Rebuild a planned action from ``to_dict``'s output."""
        return cls(
            kind=data["kind"],
            destination=data["destination"],
            target=data["target"],
            params=dict(data["params"]),
            rule=data["rule"],
            event_id=data["event_id"],
            sequence=int(data["sequence"]),
            subject=data["subject"],
            object=str(data.get("object") or ""),
            version=int(data.get("version") or 0),
            override=dict(data["override"]) if data.get("override") else None,
        )


def canonical_json(value: Any) -> bytes:
    """Serialize ``value`` with sorted keys and no spaces, UTF-8 (the same bytes on every run)."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def idempotency_key(
    kind: str, obj: str, params: dict[str, Any], version: int, override: dict[str, str] | None = None
) -> str:
    """Return sha256 hex of ``kind, object, version`` (one per line) and the canonical params; with an
    ``override``, then a line ``again`` and the canonical override."""
    digest = hashlib.sha256()
    digest.update(f"{kind}\n{obj}\n{version}\n".encode())
    digest.update(canonical_json(params))
    if override:
        digest.update(b"\nagain\n" + canonical_json(override))
    return digest.hexdigest()


def override_of(by: str, via: str, event_id: str, at: str) -> dict[str, str]:
    """Return the record of an operator's "make the calls again": ``by`` (a login or OS user), ``via``
    (``dashboard``, ``api``, ``cli``), ``event_id`` (the event they replayed), ``at`` (ISO 8601 UTC)."""
    return {"by": by, "via": via, "event_id": event_id, "at": at}
