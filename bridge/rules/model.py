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

    @property
    def idempotency_key(self) -> str:
        """Return the call's identity: sha256 of kind, object, version and the canonical params.

        The plan's version is part of it so that a ticket that goes open → solved → open, or a key removed
        and added again, makes its calls again; a redelivered, replayed or re-run event plans nothing new
        (its subject's state is already applied) and a re-run plan makes each call once.
        """
        return idempotency_key(self.kind, self.object or self.target, self.params, self.version)

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
        )


def canonical_json(value: Any) -> bytes:
    """Serialize ``value`` with sorted keys and no spaces, UTF-8 (the same bytes on every run)."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def idempotency_key(kind: str, obj: str, params: dict[str, Any], version: int) -> str:
    """Return sha256 hex of ``kind, object, version`` (one per line) and the canonical params."""
    digest = hashlib.sha256()
    digest.update(f"{kind}\n{obj}\n{version}\n".encode())
    digest.update(canonical_json(params))
    return digest.hexdigest()
