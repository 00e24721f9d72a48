"""What a run works with, and what it reports: one row per subject it found out of line."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from redis import Redis

from bridge import defaults, job_queues
from bridge.errors import DestinationHeld, RetryableUpstreamError
from bridge.event import Event
from bridge.planner import Planner
from bridge.rules.model import PlannedAction
from bridge.rules.ruleset import RuleSet
from bridge.settings import Settings
from bridge.stores import runs
from bridge.upstreams import Clients


@dataclass(frozen=True)
class Row:
    """One subject a run found out of line: what it found and the calls the rules plan for it."""

    run_id: str
    subject: str
    """``ticket 5001`` or ``issue PROJ-1``."""
    found: str
    """Why: ``newer at the source``, ``remote link missing on PROJ-1``…"""
    calls: list[str]
    """The calls the rules plan for the subject now (``<kind> <target>``)."""
    action: str
    """What the run did about it: ``event`` (a catch-up's event), ``replan``, or ``none`` (a dry run)."""

    def as_json(self) -> dict[str, Any]:
        return {
            "run": self.run_id,
            "subject": self.subject,
            "found": self.found,
            "calls": self.calls,
            "action": self.action,
        }


T = TypeVar("T")


class Paused(Exception):  # not an error: a run's job hands over to the next
    """A run stopped between two pages: its job's time is up, or its next read may not go before ``at``
    (epoch seconds); a new job goes on from its cursors (then)."""

    def __init__(self, run_id: str, at: float | None = None) -> None:
        super().__init__(run_id)
        self.at = at


def _ignore(row: Row) -> None:
    return None


@dataclass
class Context:
    """A run's connection, clients, settings and rules, its record, and where its rows go."""

    conn: Redis
    clients: Clients
    settings: Settings
    rules: RuleSet
    run: runs.Run
    report: Callable[[Row], None] = field(default=_ignore)
    deadline: float | None = None
    """``time.monotonic()`` after which the run stops at its next page and goes on in another job."""

    @property
    def dry_run(self) -> bool:
        return self.run.dry_run

    def planner(self) -> Planner:
        return Planner(self.conn, self.rules, self.settings, self.clients)

    def keep_going(self) -> None:
        """Renew the run's lock between pages (a run of everything holds it; others hold none)."""
        if not self.run.subject and not self.run.dry_run:
            runs.renew(self.conn, self.run.kind, self.run.id)

    def page_done(self) -> None:
        """Mark the end of a page (its cursor saved): raise ``Paused`` when the run's time in this job is up."""
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise Paused(self.run.id)

    def not_before(self, at: float) -> None:
        """Wait until ``at`` (epoch seconds) before the next read: a job hands over to one scheduled then
        (``Paused``), instead of holding a worker; a run in a terminal sleeps (renewing its lock)."""
        while (wait := at - time.time()) > 0:
            if self.deadline is not None:
                raise Paused(self.run.id, at)
            self.keep_going()
            time.sleep(min(wait, defaults.RUN_READ_WAIT_MAX_S))

    def read(self, call: Callable[[], T]) -> T:
        """Make one read of a source, waiting out its destination's gate (rate limit, 429 pause, open
        circuit) and retrying a retryable answer (its ``Retry-After``, else a doubling backoff), so a run
        goes at its destinations' pace instead of failing; the last failure propagates."""
        for attempt in range(1, defaults.RUN_READ_ATTEMPTS + 1):
            try:
                return call()
            except DestinationHeld as held:
                wait = held.until - time.time()
            except RetryableUpstreamError as error:
                if attempt == defaults.RUN_READ_ATTEMPTS:
                    raise
                wait = error.retry_after or min(2.0**attempt, defaults.RUN_READ_WAIT_MAX_S)
            self.keep_going()
            time.sleep(min(max(wait, 0.05), defaults.RUN_READ_WAIT_MAX_S))
        return call()

    def offer(self, events: list[Event]) -> list[Event]:
        """Put the events whose state differs from the applied one through the rules, on the resync lane;
        return them (in a dry run: those it would put).

        Each is previewed first (no write): a state the bridge applied already costs no job and no call,
        so a second run over the same changes writes nothing. A dry run reports and enqueues nothing."""
        planner = self.planner()
        enqueued: list[Event] = []
        for event in events:
            # A dry run looks unknown keys up in Jira, so that its plan shows the calls a run would make.
            order, _view, _linked, actions = planner.preview(event, look_up=self.dry_run)
            if order in ("same", "older"):
                continue
            enqueued.append(event)
            self.report(
                self.row(event, f"{order} at the source", actions, "none" if self.dry_run else "event")
            )
        runs.count(self.conn, self.run.id, read=len(events), planned=len(enqueued))
        if self.dry_run or not enqueued:
            return enqueued
        with self.conn.pipeline() as pipe:
            for event in enqueued:
                job_queues.enqueue_resync_event(self.conn, pipe, event)
            pipe.execute()
        runs.count(self.conn, self.run.id, repaired=len(enqueued))
        return enqueued

    def replan(self, kind: str, subject_id: str, found: str, actions: list[PlannedAction]) -> None:
        """Plan a drifted subject again (once per run) from its applied state, on the resync lane."""
        if not runs.first_sight(self.conn, self.run.id, f"{kind}:{subject_id}"):
            return
        self.report(
            Row(
                self.run.id,
                f"{kind} {subject_id}",
                found,
                _calls(actions),
                "none" if self.dry_run else "replan",
            )
        )
        runs.count(self.conn, self.run.id, planned=1)
        if self.dry_run:
            return
        with self.conn.pipeline() as pipe:
            job_queues.enqueue_replan(
                self.conn, pipe, kind, subject_id, f"{self.run.kind} {self.run.id}", job_queues.RESYNC_QUEUE
            )
            pipe.execute()
        runs.count(self.conn, self.run.id, repaired=1)

    def row(self, event: Event, found: str, actions: list[PlannedAction], action: str) -> Row:
        subject = event["subject"]
        return Row(
            self.run.id,
            f"{subject['kind']} {subject.get('key') or subject['id']}",
            found,
            _calls(actions),
            action,
        )


def _calls(actions: list[PlannedAction]) -> list[str]:
    return [f"{action.kind} {action.target}" for action in actions]
