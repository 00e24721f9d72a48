"""Planning: an event → its subject's newest state → the rules → versioned calls, in one transaction.

The promise is that every upstream ends as the rules define for the newest state of every ticket and
issue, whatever order deliveries come in. Planning keeps it in four steps:

1. **Order** (bridge/ordering.py): the event's state of its subject is compared with the state the bridge
   applied last (bridge/stores/subjects.py). An older one plans nothing; the same state plans nothing; a
   tie the clocks cannot break is settled by reading the subject from its source (bridge/sources/current.py).
2. **Look**: the rules see the subject's whole newest state and ``linked`` (bridge/linked.py): for a ticket,
   every issue it is or was linked with and whether either side still names the other.
3. **Plan**: the rules (bridge/rules/) turn that into actions; every action of one plan gets the plan's
   version, a number that grows with every plan. A call of an older plan never takes effect on a record
   after a call of a newer one (bridge/executor.py), so a late retry cannot undo newer state.
4. **Commit**: the subject's new state, who names whom, the calls (on their destinations' waiting lists)
   and the re-plans of the subjects this change concerns (``cascades``: the tickets of an issue that moved,
   was deleted or named other tickets) are written in one MULTI, under WATCH of everything read in 1-2.
   Another worker that changed any of it meanwhile makes this plan start over (optimistic locking), so
   plans of one subject, and of a ticket and its issues, are serializable.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Literal

from redis import Redis
from redis.client import Pipeline
from redis.exceptions import WatchError

from bridge import defaults, job_queues, keys, ordering, tracing
from bridge.errors import DestinationHeld, NotConfigured, RetryableUpstreamError, RetryLater
from bridge.event import Event, new_event_id
from bridge.linked import Changes, FirstReads, first_reads, issue_view, queue_first_reads, ticket_view
from bridge.rules.model import Linked, PlannedAction
from bridge.rules.ruleset import RuleSet
from bridge.settings import Settings
from bridge.sources import current
from bridge.stores import batches, history, issue_ids, scripts, subjects
from bridge.upstreams import Clients

PlanOutcome = Literal["planned", "skipped", "superseded", "unchanged"]

Writes = Callable[[Pipeline], object]
"""Writes queued on a pipeline that a plan sends with reads of its own: with its first reads
(``Planner.plan``'s ``with_first``), or the ids Jira answered with the issues' reads (``linked.resolve``)."""

Override = dict[str, str]
"""An operator's "make the calls again" (``bridge.rules.model.override_of``): who, via what, when, which event."""


@dataclass
class Plan:
    """What planning made of an event: the calls, and why there are none when there are none."""

    outcome: PlanOutcome
    reason: str
    event: Event
    actions: list[PlannedAction] = field(default_factory=list)
    not_configured: list[PlannedAction] = field(default_factory=list)
    cascades: list[tuple[str, str]] = field(default_factory=list)
    in_force: str = ""
    """When superseded or unchanged: the id of the event whose plan is in force for the subject."""

    @property
    def destinations(self) -> list[str]:
        return sorted({action.destination for action in self.actions})


class _ReadSource(Exception):
    """Only the source can tell the subject's state: the event ties with the applied one (``tie``), or
    brings a deleted subject back without telling its fields (``restored``)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _ReadTooEarly(Exception):
    """A read of the source began within the margin of a newer applied state (``_read_too_early``): read
    again in ``wait_s`` seconds (now, when 0)."""

    def __init__(self, wait_s: float) -> None:
        super().__init__(f"read again in {wait_s:.1f} s")
        self.wait_s = wait_s


class Planner:
    """Plans events for one worker process (its rules, settings and clients)."""

    def __init__(self, conn: Redis, rules: RuleSet, settings: Settings, clients: Clients) -> None:
        self.conn = conn
        self.rules = rules
        self.settings = settings
        self.clients = clients

    def plan(self, event: Event, override: Override | None = None, with_first: Writes | None = None) -> Plan:
        """Plan ``event`` and commit its calls (each carrying ``override``, when an operator asked for them).

        ``with_first``: writes sent with the plan's first reads, before any rule runs (the event's own record,
        ``history.save_event``), in their round trip.

        Raises ``RetryLater`` when the source must be read and cannot be now (the event job is retried),
        ``RuleError`` when a rule fails on it.
        """
        candidate = ordering.candidate_of(event)
        if candidate is None:
            if with_first is not None:
                with self.conn.pipeline(transaction=False) as pipe:
                    with_first(pipe)
                    scripts.execute(pipe)
            return self._plan_stateless(event, override)
        writes = [with_first] if with_first is not None else []
        if candidate.kind == ordering.ISSUE:
            # Any key an issue had names it for good (a moved issue's old key still finds it).
            aliases = [event["subject"].get("key", ""), str(event.get("data", {}).get("previous_key") or "")]
            issue_id = candidate.id
            writes.append(lambda pipe: issue_ids.remember_keys(pipe, issue_id, *aliases))
        for _ in range(defaults.PLAN_ATTEMPTS):
            sending, writes = writes, []  # with the first attempt's reads only
            try:
                return self._attempt(event, candidate, override, sending)
            except WatchError:
                continue
            except _ReadSource as read:
                event = self._from_source(candidate.kind, candidate.id, event, read.reason)
            except _ReadTooEarly as early:
                if early.wait_s > 0:
                    # The job runs again then; a delivered event reads anew, a read is made again below.
                    raise RetryLater(
                        early.wait_s,
                        f"{candidate.kind} {candidate.id}: a newer state was applied while it was read; "
                        "reading it again past the margin",
                        counts=False,
                    ) from None
                event = self._from_source(candidate.kind, candidate.id, event, "again")
            found = ordering.candidate_of(event)
            assert found is not None
            candidate = found
        raise RetryLater(
            1.0, f"{candidate.kind} {candidate.id} kept changing while it was planned", counts=False
        )

    def replan(self, kind: str, subject_id: str, reason: str, override: Override | None = None) -> Plan:
        """Plan a subject again from its newest state (a cascade, a resync, an operator's "again"): nothing
        is compared.

        A subject the bridge never saw is read from its source first.
        """
        for _ in range(defaults.PLAN_ATTEMPTS):
            try:
                with self.conn.pipeline() as pipe:
                    subjects.watch_subject(pipe, kind, subject_id)
                    stored, version, first = self._read_first(kind, subject_id)
                    if stored is None:
                        pipe.reset()
                        return self.plan(self._from_source(kind, subject_id, None, reason), override)
                    event = _replay_event(stored, reason)
                    history.save_event(self.conn, event, self.settings.record_retention_s)
                    candidate = ordering.candidate_of(event)
                    assert candidate is not None
                    return self._commit(
                        pipe, event, candidate, stored, stored.state, version, override, first
                    )
            except WatchError:
                continue
        raise RetryLater(1.0, f"{kind} {subject_id} kept changing while it was planned", counts=False)

    def again(self, event: Event, override: Override) -> Plan:
        """Plan, to be made again, the calls the rules plan now for the newest state of ``event``'s subject
        (an operator's override: the upstream lost an effect the idempotency records say was made).

        The newest state, never the event's own if it is older: the plan gets the newest version, so no
        older state comes back, and every call carries ``override`` (a new idempotency key that records it)
        and looks upstream before it creates. The plan is a new event (``delivery_id`` ``replan:again:<id>``);
        an event about no state of its own (a comment) is planned again as a copy of itself.
        """
        reason = f"again:{event['id']}"
        candidate = ordering.candidate_of(event)
        if candidate is not None:
            return self.replan(candidate.kind, candidate.id, reason, override)
        now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        copy: Event = {**event, "id": new_event_id(), "delivery_id": f"replan:{reason}", "received_at": now}
        history.save_event(self.conn, copy, self.settings.record_retention_s)
        return self._plan_stateless(copy, override)

    def preview(self, event: Event, look_up: bool = False) -> tuple[str, Event, Linked, list[PlannedAction]]:
        """What planning would make of ``event`` now, writing nothing: how it orders against the applied
        state (``newer``, ``older``, ``same``, ``ambiguous`` or ``stateless``), the event the rules would see
        (an event that is not newer shows its subject's newest state instead), ``linked`` and the actions.

        No source is read, and keys are looked up only among the ids the bridge remembers (with
        ``look_up``, a key it does not know is looked up in Jira: a read, whose id it then remembers).
        The views it shares with planning take plan versions it leaves unused (the counter only grows).
        """
        candidate = ordering.candidate_of(event)
        if candidate is None:
            return "stateless", event, Linked(), self.rules.plan(event, self.settings, Linked())
        with self.conn.pipeline() as pipe:
            subjects.watch_subject(pipe, candidate.kind, candidate.id)
            stored = subjects.load(pipe, candidate.kind, candidate.id)
            merged = ordering.merge(stored.state if stored else None, candidate.partial)
            order = ordering.Order.NEWER
            if stored is not None:
                order = ordering.compare(candidate, stored.sequence, stored.precision, merged == stored.state)
                if order is not ordering.Order.NEWER:
                    event, merged = _replay_event(stored, "preview"), stored.state
            view = ordering.rules_event(event, candidate.kind, merged)
            new = subjects.Stored(
                candidate.kind, candidate.id, candidate.sequence, 1, dict(merged), view["id"]
            )
            # No lookups upstream unless asked for.
            planner = Planner(self.conn, self.rules, self.settings, self.clients if look_up else Clients())
            if candidate.kind == ordering.TICKET:
                linked, _ = ticket_view(planner, pipe, view, new, stored)
            else:
                linked, _ = issue_view(planner, pipe, view, new, stored)
            pipe.reset()
        return order.value, view, linked, self.rules.plan(view, self.settings, linked)

    def _attempt(
        self,
        event: Event,
        candidate: ordering.Candidate,
        override: Override | None,
        writes: Sequence[Writes] = (),
    ) -> Plan:
        with self.conn.pipeline() as pipe:
            key = subjects.subject_key(candidate.kind, candidate.id)
            subjects.watch_subject(pipe, candidate.kind, candidate.id)
            named_keys = (
                candidate.partial.get("jira_issue_keys") if candidate.kind == ordering.TICKET else None
            )
            stored, version, first = self._read_first(candidate.kind, candidate.id, named_keys, writes)
            merged = ordering.merge(stored.state if stored else None, candidate.partial)
            if stored is not None:
                order = ordering.compare(candidate, stored.sequence, stored.precision, merged == stored.state)
                subject = f"{candidate.kind} {candidate.id}"
                if order is ordering.Order.OLDER:
                    return Plan(
                        "superseded",
                        f"{subject} is newer already (event {stored.event_id})",
                        event,
                        in_force=stored.event_id,
                    )
                if order is ordering.Order.SAME:
                    # An event telling part of the state confirms nothing (an earlier change of the rest
                    # may still be on its way): the applied time stays, and a deletion stamped before
                    # this event but delivered after it is read from the source (below), not applied.
                    moved = ordering.confirmed(candidate, stored.sequence, stored.precision)
                    if moved is not None and moved != (stored.sequence, stored.precision):
                        pipe.multi()
                        pipe.hset(key, mapping={"sequence": moved[0], "precision": moved[1]})
                        pipe.execute()
                    return Plan(
                        "unchanged",
                        f"{subject} is in this state already (event {stored.event_id})",
                        event,
                        in_force=stored.event_id,
                    )
                if order is ordering.Order.AMBIGUOUS:
                    raise _ReadSource("tie")
                if ordering.restored_untold(candidate, stored.state):
                    raise _ReadSource("restored")
                if not ordering.tells_whole_state(candidate) and not ordering.final(candidate):
                    # Newer, but it tells part of the state: the rest, as of its time, is the source's. A
                    # soft deletion too: a restore made after it may have been delivered before it.
                    raise _ReadSource("partial")
                if _read_too_early(event, candidate, stored):
                    raise _ReadTooEarly(_read_again_in(stored))
            return self._commit(pipe, event, candidate, stored, merged, version, override, first)

    def _read_first(
        self,
        kind: str,
        subject_id: str,
        named_keys: list[str] | None = None,
        writes: Sequence[Writes] = (),
    ) -> tuple[subjects.Stored | None, int, FirstReads]:
        """Read what a plan starts from in one round trip, once its WATCH is in place: the subject's stored
        state, the plan's version and its ``FirstReads`` (for a ticket, with the ids of the keys its event
        names, ``named_keys``); ``writes`` go in the same round trip, after the reads.

        On the planner's connection: the WATCH guards what any connection reads from then on. The version
        is taken after the WATCH, and a view that WATCHes more keys later takes another after its last
        WATCH (``Changes.version``): so a plan that commits has a greater version than any plan that wrote
        a key it watches and committed before it (that EXEC came before the WATCH that would have seen
        it, and the version before the EXEC). Two plans of which one only *read* what the other writes
        are ordered by when they took their versions, not by their EXECs: when the writer takes its
        version before the reader takes its own and commits after the reader (while the writer's rules
        run), the reader's calls carry the greater version though they saw the older state. (Taking the
        version just before MULTI narrowed that window to about one round trip; only a version given
        inside the transaction would close it.) The default rules have no record that plans of both a
        ticket and an issue write. A plan that starts over takes new versions (versions only have to
        grow)."""
        keys = named_keys or []
        with self.conn.pipeline(transaction=False) as reads:
            subjects.queue_load(reads, kind, subject_id)
            subjects.queue_next_version(reads, time.time_ns() // 1000)
            queue_first_reads(reads, kind, subject_id, keys)
            count = len(reads.command_stack)
            for write in writes:
                write(reads)
            found, version, *rest = scripts.execute(reads)[:count]
        first = first_reads(kind, keys, rest)
        return subjects.loaded(kind, subject_id, found), int(version), first

    def _commit(
        self,
        pipe: Pipeline,
        event: Event,
        candidate: ordering.Candidate,
        stored: subjects.Stored | None,
        merged: dict[str, object],
        version: int,
        override: Override | None = None,
        first: FirstReads | None = None,
    ) -> Plan:
        kind = candidate.kind
        view = ordering.rules_event(event, kind, merged)
        sequence, precision = candidate.sequence, candidate.precision
        if stored is not None and stored.sequence > sequence:
            # The order never goes back (the delivered state standing for the source when none is
            # configured, or a re-plan): the interval starts where the applied one did, and ends as its own.
            sequence, precision = stored.sequence, max(1, sequence + precision - stored.sequence)
        new = subjects.Stored(kind, candidate.id, sequence, precision, dict(merged), view["id"])
        if kind == ordering.TICKET:
            linked, changes = ticket_view(self, pipe, view, new, stored, first)
        else:
            linked, changes = issue_view(self, pipe, view, new, stored, first)
        actions = self.rules.plan(view, self.settings, linked)
        if changes.version is not None:  # the view WATCHed more after the first reads: a version since
            version = changes.version
        return self._write(pipe, view, actions, changes, new, override, version)

    def _plan_stateless(self, event: Event, override: Override | None = None) -> Plan:
        """Plan an event about something without a state of its own (a comment, an issue link)."""
        actions = self.rules.plan(event, self.settings, Linked())
        with self.conn.pipeline() as pipe:
            return self._write(pipe, event, actions, Changes(), None, override)

    def _write(
        self,
        pipe: Pipeline,
        event: Event,
        actions: list[PlannedAction],
        changes: Changes,
        new: subjects.Stored | None,
        override: Override | None = None,
        version: int | None = None,
    ) -> Plan:
        """Commit the plan (the MULTI under the WATCH of ``pipe``), its actions with ``version`` (a new one
        when None: a plan with no state of its own watches nothing)."""
        if version is None:
            version = subjects.next_version(self.conn, time.time_ns() // 1000)
        versioned = [replace(action, version=version, override=override) for action in actions]
        kept = [action for action in versioned if action.destination in self.clients]
        skipped = [action for action in versioned if action.destination not in self.clients]
        by_destination: dict[str, list[PlannedAction]] = {}
        for action in kept:
            by_destination.setdefault(action.destination, []).append(action)
        ttl = self.settings.idempotency_ttl_s
        pipe.multi()
        if new is not None:
            subjects.save(pipe, new, ttl)
        changes.apply(pipe, ttl)
        traceparent = tracing.traceparent()  # the calls continue the trace of the job planning them
        for destination, planned in by_destination.items():
            batches.add(pipe, event["id"], destination, [action.to_dict() for action in planned], traceparent)
        cause = f"{event['type']} {event['subject']['kind']} {event['subject']['id']}"
        for kind, subject_id in changes.cascades:
            job_queues.enqueue_replan(self.conn, pipe, kind, subject_id, cause)
        event_key = keys.EVENT_KEY.format(event_id=event["id"])
        replans = ", ".join(f"{kind} {subject_id}" for kind, subject_id in sorted(changes.cascades))
        if kept:
            pipe.hset(event_key, history.PENDING_FIELD, len(by_destination))
            history.set_event_status(pipe, event["id"], "planned", actions=len(versioned))
            reason = ""
        elif replans:
            # Its effect is the re-plans of the subjects it concerns (their own events show their calls).
            reason = f"no call of its own; planned again: {replans}"
            history.set_event_status(pipe, event["id"], "done", reason, actions=len(skipped))
        else:
            reason = self._nothing_planned(event)
            history.set_event_status(pipe, event["id"], "skipped", reason, actions=len(skipped))
        pipe.execute()
        outcome: PlanOutcome = "planned" if kept else "skipped"
        return Plan(outcome, reason, event, kept, skipped, sorted(changes.cascades))

    def _nothing_planned(self, event: Event) -> str:
        """Say why an event planned no call: which rules looked at it (their conditions left nothing to do)."""
        looked = [rule.name for rule in self.rules.rules if rule.when.matches(event["source"], event["type"])]
        if not looked:
            return "no rule planned a call: no rule looks at this event's type"
        return f"no rule planned a call: {', '.join(looked)} looked at it and found nothing to do"

    def _from_source(self, kind: str, subject_id: str, delivered: Event | None, reason: str = "tie") -> Event:
        """Read the subject from its source (and record the read as an event for operators); without one
        configured, the delivered state stands."""
        event = self._read(kind, subject_id, delivered, reason)
        if delivered is None or event["id"] != delivered["id"]:
            history.save_event(self.conn, event, self.settings.record_retention_s)
        return event

    def _read(self, kind: str, subject_id: str, delivered: Event | None, reason: str) -> Event:
        delivery = f"source:{reason}:{delivered['id'] if delivered else subject_id}"
        try:
            if kind == ordering.TICKET:
                return current.read_ticket(self.clients, self.settings, subject_id, delivery)
            return current.read_issue(self.clients, self.settings, subject_id, delivery)
        except RetryableUpstreamError as error:
            raise RetryLater(
                error.retry_after or defaults.BUSY_RETRY_S, f"reading {kind} {subject_id}: {error}"
            ) from error
        except DestinationHeld as held:  # its gate holds the source's requests: read it when it opens
            raise RetryLater(
                max(0.0, held.until - time.time()), f"reading {kind} {subject_id}: {held}", True, counts=False
            ) from held
        except NotConfigured:
            if delivered is None:
                return _unknown_event(kind, subject_id, reason)
            # Nothing to ask: the state delivered last wins the tie (the senders mostly keep order).
            return {**delivered, "data": {**delivered.get("data", {}), "from_source": True}}


def _read_too_early(event: Event, candidate: ordering.Candidate, stored: subjects.Stored) -> bool:
    """Whether a read of the source that tells another state than the applied one began within the
    margin of that state's time (``current.as_read``): a clock ahead of ours may have stamped a change
    made after the read, so the read may be older than what it would replace."""
    return bool(event.get("data", {}).get("read")) and stored.sequence >= candidate.sequence


def _read_again_in(stored: subjects.Stored) -> float:
    """Seconds until a read would begin past the margin of the applied state's time."""
    due_ms = stored.sequence + defaults.SOURCE_READ_MARGIN_MS + defaults.SOURCE_READ_AGAIN_AFTER_MS
    return max(0.0, due_ms / 1000 - time.time())


def applied_event(stored: subjects.Stored, reason: str) -> Event:
    """The event the rules see for a subject's applied state (``delivery_id`` ``replan:<reason>``): what a
    link audit compares the upstreams with."""
    return _replay_event(stored, reason)


def _replay_event(stored: subjects.Stored, reason: str) -> Event:
    """The event the rules see when a subject is planned again from its applied state."""
    state = stored.state
    now = datetime.now(UTC)
    if stored.kind == ordering.TICKET:
        subject = {"kind": "ticket", "id": stored.id}
        refs = {
            "jira_issue_keys": list(state.get("jira_issue_keys") or []),
            "zendesk_ticket_ids": [stored.id],
        }
        data = {name: state.get(name) for name in ("status", "subject", "priority", "url", "deleted")}
        data["jira_keys_known"] = state.get("jira_issue_keys") is not None
        source, event_type = "zendesk", ordering.ticket_type("ticket.updated", state)
    else:
        subject = {"kind": "issue", "id": stored.id, "key": str(state.get("key") or "")}
        refs = {
            "jira_issue_keys": [subject["key"]] if subject["key"] else [],
            "zendesk_ticket_ids": list(state.get("zendesk_ticket_ids") or []),
        }
        data = {"issue": {name: state.get(name) for name in ordering.ISSUE_FIELDS}}
        data["refs_known"] = {"zendesk_ticket_ids": "zendesk_ticket_ids" in state, "salesforce_ids": True}
        refs["salesforce_ids"] = list(state.get("salesforce_ids") or [])
        source, event_type = "jira", "issue.deleted" if state.get("deleted") else "issue.updated"
    data.update({"event": "replan", "from_source": True, "sequence_precision_ms": stored.precision})
    refs.setdefault("salesforce_ids", [])
    return {
        "version": defaults.EVENT_VERSION,
        "id": new_event_id(),
        "source": source,  # type: ignore[typeddict-item]
        "type": event_type,
        "delivery_id": f"replan:{reason}",
        "occurred_at": now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "sequence": stored.sequence,
        "actor": {"id": None, "name": None},
        "subject": subject,  # type: ignore[typeddict-item]
        "refs": refs,  # type: ignore[typeddict-item]
        "data": data,
        "received_at": now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    }


def _unknown_event(kind: str, subject_id: str, reason: str) -> Event:
    """A subject the bridge never saw and cannot read: what is known of it is that it exists."""
    stored = subjects.Stored(kind, subject_id, int(time.time() * 1000), 1, {})
    return _replay_event(stored, reason)
