"""What the rules produce: planned actions, and what they know about links (``Linked``)."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson


@dataclass(frozen=True)
class Linked:
    """What the bridge's link index knows about the event's subject.

    ``jira_issue_keys``: keys linked to the ticket (Zendesk events); ``zendesk_ticket_ids``: tickets linked
    to the issue (Jira events); ``referenced_jira_issue_keys``: the keys the ticket itself held the last
    time an event said which keys it holds (Zendesk events). Rule 2 unlinks the keys the ticket *dropped*,
    not every linked key it does not hold: a link made from the Jira side (rule 4) is not the ticket's to undo.
    """

    jira_issue_keys: tuple[str, ...] = ()
    zendesk_ticket_ids: tuple[str, ...] = ()
    referenced_jira_issue_keys: tuple[str, ...] = ()


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
    # "<source>:<subject.kind>:<subject.id>": sequences are only comparable within one subject.
    subject: str

    @property
    def idempotency_key(self) -> str:
        """Return the call's identity: sha256 of kind, target, subject, sequence and the canonical params.

        The subject and its sequence are part of it so that a ticket that goes open → solved → open, or a
        key removed and added again, makes its calls again; a redelivered, replayed or re-run event (same
        subject and sequence) still makes each call once.
        """
        return idempotency_key(self.kind, self.target, self.params, self.subject, self.sequence)

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
        )


def canonical_json(value: Any) -> bytes:
    """Serialize ``value`` with sorted keys and no spaces, UTF-8 (the same bytes on every run)."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def idempotency_key(kind: str, target: str, params: dict[str, Any], subject: str, sequence: int) -> str:
    """Return sha256 hex of ``kind, target, subject, sequence`` (one per line) and the canonical params."""
    digest = hashlib.sha256()
    digest.update(f"{kind}\n{target}\n{subject}\n{sequence}\n".encode())
    digest.update(canonical_json(params))
    return digest.hexdigest()
