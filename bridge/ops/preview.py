"""What the rules would plan for an event now, calling nothing (``bridge rules test``, an event's page).

The plan is the planner's (bridge/planner.py, ``Planner.preview``), writing nothing: how the event orders
against its subject's applied state, and the calls the rules plan for the newest state with ``linked`` as
the worker would read it now (an event older than, or the same as, what was applied shows the plan of the
subject's newest state: what a re-plan would make). Each planned call says
whether it was made already (its idempotency key is recorded: a replay would skip it as a duplicate) and
whether its upstream is configured (else the worker records it as ``skipped-not-configured``).

An event to preview is a recorded event, an event of version 1 (README, "The event"), a Jira or Zendesk
delivery body as the senders post it (normalized here as the receiver would), or a packaged sample.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from redis import Redis

from bridge import keys, samples
from bridge.errors import NotFound, RuleError
from bridge.event import Event, Source, build_event
from bridge.linked import event_only
from bridge.planner import Planner
from bridge.rules.loader import load_rules
from bridge.rules.ruleset import RuleSet
from bridge.settings import Settings
from bridge.sources import jira, zendesk
from bridge.stores import history
from bridge.upstreams import DESTINATIONS, Clients, clients_from_settings

EVENT_FIELDS = frozenset({"version", "id", "source", "type", "subject", "refs", "sequence"})
"""Fields that make a JSON object an event of version 1 rather than a delivery body."""

_rules_cache: dict[str, tuple[float, RuleSet]] = {}


def current_rules(settings: Settings) -> RuleSet:
    """Return the rules ``BRIDGE_RULES`` names (or the built-in ones), read again when the file changes."""
    path = settings.rules_path
    if path is None:
        return load_rules(None)
    changed = Path(path).stat().st_mtime
    cached = _rules_cache.get(path)
    if cached is None or cached[0] != changed:
        cached = _rules_cache[path] = (changed, load_rules(path))
    return cached[1]


def event_from_json(value: Any, settings: Settings) -> Event:
    """Return the event a JSON value stands for: an event of version 1, or a Jira or Zendesk delivery body."""
    if not isinstance(value, dict):
        raise NotFound("the JSON is not an object: expected an event or a Jira/Zendesk webhook body")
    if value.keys() >= EVENT_FIELDS:
        event: Event = value  # type: ignore[assignment]  # the event shape, as recorded
        return event
    source: Source = "jira" if "webhookEvent" in value else "zendesk"
    found = (jira if source == "jira" else zendesk).normalize(value, settings)
    return build_event(found, source, "preview", datetime.now(UTC))


def sample_event(source: str, settings: Settings) -> Event:
    """Return the packaged sample delivery of ``source`` (as ``bridge send-sample`` sends it), normalized."""
    if source == "jira":
        payload = samples.jira_issue(
            "PROJ-2", "5002", field=settings.jira_zendesk_field or "customfield_10050"
        )
    else:
        payload = samples.zendesk_trigger("5001", "PROJ-1")
    return event_from_json(payload, settings)


def plan(rules: RuleSet, event: Event, settings: Settings, conn: Redis | None) -> dict[str, Any]:
    """Return the calls ``rules`` plan for ``event`` now; ``conn`` None plans as if nothing were linked."""
    answer: dict[str, Any] = {
        "event_id": event["id"],
        "subject": history.subject_words(dict(event)),
        "rules": rules.path,
        "order": None,
        "linked": None,
        "calls": [],
        "error": None,
    }
    try:
        if conn is None:
            planned = rules.plan(event, settings, event_only(event))
        else:
            order, _, linked, planned = Planner(conn, rules, settings, Clients()).preview(event)
            answer["order"], answer["linked"] = order, asdict(linked)
    except RuleError as error:
        answer["error"] = str(error)
        return answer
    done = _made_already(conn, [action.idempotency_key for action in planned]) if conn is not None else set()
    if answer["order"] in ("same", "older"):
        # The subject's applied state is this one or newer: what it plans was planned already, and a
        # replay of the event plans nothing.
        done = {action.idempotency_key for action in planned}
    configured = _configured(settings)
    answer["calls"] = [
        {
            "rule": action.rule,
            "kind": action.kind,
            "destination": action.destination,
            "target": action.target,
            "params": action.params,
            "idempotency_key": action.idempotency_key,
            "made_already": action.idempotency_key in done,
            "configured": action.destination in configured,
        }
        for action in planned
    ]
    return answer


def plan_recorded(conn: Redis, event_id: str, settings: Settings) -> dict[str, Any]:
    """Return what the current rules would plan now for a recorded event (before a replay)."""
    record = history.load_event(conn, event_id)
    if record is None:
        raise NotFound(f"no event {event_id!r} (unknown, or older than the retention)")
    event: Event = record.event  # type: ignore[assignment]  # stored as the event shape
    return plan(current_rules(settings), event, settings, conn)


def _made_already(conn: Redis, idempotency_keys: list[str]) -> set[str]:
    with conn.pipeline(transaction=False) as pipe:
        for key in idempotency_keys:
            pipe.exists(keys.IDEMPOTENCY_KEY.format(key=key))
        found = pipe.execute()
    return {key for key, exists in zip(idempotency_keys, found, strict=True) if exists}


def _configured(settings: Settings) -> set[str]:
    with clients_from_settings(settings) as clients:
        return {destination for destination in DESTINATIONS if destination in clients}
