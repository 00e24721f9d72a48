"""What the rules see besides the event (``linked``), and what a plan changes of who names whom.

A ticket and an issue are linked when either names the other — the ticket's Jira field holds one of the
issue's keys, or the issue's JIRA_ZENDESK_FIELD holds the ticket's id — and neither is deleted. The
ticket's plan makes and unmakes the links (its remote links carry the ticket's subject and status, which
only the ticket knows); an issue's plan changes what it names and which tickets must be planned again
(``Changes.cascades``): those it names or stops naming, and all of its tickets when it moved (a new key
to show) or was deleted.

Everything read here that another plan writes is WATCHed on the planner's pipeline: the sets of who
names whom and the states of the subjects on the other side.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from redis.client import Pipeline
from redis.exceptions import RedisError

from bridge import ordering
from bridge.connections import batched, text
from bridge.errors import (
    DestinationHeld,
    NotConfigured,
    RetryableUpstreamError,
    RetryLater,
    UpstreamNotFound,
)
from bridge.event import Event
from bridge.rules.model import Linked
from bridge.stores import issue_ids, links, scripts, subjects
from bridge.upstreams.jira.client import JiraClient

if TYPE_CHECKING:
    from bridge.planner import Planner, Writes


@dataclass
class Changes:
    """What a plan changes besides its subject's state: who names whom, and the subjects to plan again."""

    names: list[tuple[str, set[str], set[str], str]] = field(default_factory=list)
    """(kind named, ids now named, ids no longer named, by whom)."""
    key_names: tuple[set[str], set[str], str] | None = None
    """(keys without an issue now named, no longer named, by which ticket)."""
    current_key: tuple[str, str] | None = None
    """(issue id, its current key)."""
    cascades: set[tuple[str, str]] = field(default_factory=set)
    version: int | None = None
    """A plan version taken after the view's own WATCHes, when it made any (the plan's then: see
    ``Planner._read_first``)."""

    def apply(self, pipe: Pipeline, ttl_s: int) -> None:
        """Write the changes in the planner's transaction."""
        for kind, named, unnamed, by in self.names:
            subjects.rename(pipe, kind, named, unnamed, by, ttl_s)
        if self.key_names is not None:
            subjects.rename_keys(pipe, *self.key_names, ttl_s)
        if self.current_key is not None:
            issue_ids.set_current_key(pipe, *self.current_key)


def ticket_view(
    planner: Planner,
    pipe: Pipeline,
    view: Event,
    new: subjects.Stored,
    stored: subjects.Stored | None,
    first: FirstReads | None = None,
) -> tuple[Linked, Changes]:
    """Return ``linked`` for a ticket's plan, and fill in what the plan wants linked (``new.links``).

    ``first``: the reads made with the ticket's state (after the plan's WATCH), used when they cover the
    keys it names and named; else they are read now (one round trip)."""
    ticket_id = new.id
    state = new.state
    keys = list(state.get("jira_issue_keys") or [])
    keys_before = list(stored.state.get("jira_issue_keys") or []) if stored else []
    wanted = keys + [k for k in keys_before if k not in keys]
    if first is None or not first.keys.issuperset(wanted):
        first = _ticket_reads(planner, ticket_id, wanted)
    remembered, naming, indexed = first.remembered, first.naming, first.indexed
    # The ids Jira answers are remembered with the issues' reads below (a round trip fewer).
    learned: list[Writes] = []
    resolved, unresolved = resolve(planner, keys, remembered, learned)
    live = not state.get("deleted")
    named = set(resolved.values()) if live else set()
    # The keys it named before name the issues it may have to unlink (remembered: no lookup upstream).
    known_before = {
        key: found for key in keys_before if key not in resolved and (found := remembered.get(key))
    }
    before = set(stored.links) if stored else set()
    related = sorted(set(resolved.values()) | naming | before | set(indexed))
    issues, known_keys, version = _issue_states(planner, pipe, related, learned)
    by_key = {issue_id: key for key, issue_id in {**known_before, **resolved}.items()}
    entries: list[dict[str, Any]] = []  # id, key, by_ticket, by_issue, linked, wanted
    for issue_id in related:
        issue = issues.get(issue_id)
        exists = not (issue is not None and issue.state.get("deleted"))
        key = (issue.state.get("key") if issue else None) or known_keys.get(issue_id) or by_key.get(issue_id)
        if key is None and issue_id in indexed:
            key = indexed[issue_id].issue_key
        entry = {
            "id": issue_id,
            "key": key,
            "by_ticket": issue_id in named,
            "by_issue": issue_id in naming,
            "linked": issue_id in before or issue_id in indexed,
        }
        entry["wanted"] = live and exists and key is not None and (entry["by_ticket"] or entry["by_issue"])
        if entry["wanted"] or entry["linked"]:
            entries.append(entry)
    new.links = [entry["id"] for entry in entries if entry["wanted"]]
    new.named = sorted(named)
    new.named_keys = sorted(unresolved) if live else []
    old_named = set(stored.named) if stored else set()
    old_keys = set(stored.named_keys) if stored else set()
    changes = Changes(
        names=[(ordering.ISSUE, named - old_named, old_named - named, ticket_id)],
        key_names=(set(new.named_keys) - old_keys, old_keys - set(new.named_keys), ticket_id),
        version=version,
    )
    referenced = stored.state.get("jira_issue_keys") if stored else None
    linked = Linked(
        jira_issue_keys=tuple(str(entry["key"]) for entry in entries if entry["wanted"]),
        referenced_jira_issue_keys=tuple(referenced or ()),
        issues=tuple(entries),
    )
    return linked, changes


def _linked_key(planner: Planner, ticket_id: str, issue_id: str) -> str | None:
    """The issue key the ticket's Zendesk link was made with (None: the index has no such link)."""
    found = links.get(planner.conn, ticket_id, issue_id)
    return found.issue_key if found is not None else None


def issue_view(
    planner: Planner,
    pipe: Pipeline,
    view: Event,
    new: subjects.Stored,
    stored: subjects.Stored | None,
    first: FirstReads | None = None,
) -> tuple[Linked, Changes]:
    """Return ``linked`` for an issue's plan, and the tickets to plan again after it (``first``: the reads
    made with the issue's state, after the plan's WATCH; else who names it is read now)."""
    issue_id = new.id
    state = new.state
    before = stored.state if stored else {}
    key, key_before = state.get("key"), before.get("key")
    deleted, deleted_before = bool(state.get("deleted")), bool(before.get("deleted"))
    field_now = state.get("zendesk_ticket_ids")
    names_now = set(field_now if field_now is not None else before.get("zendesk_ticket_ids") or [])
    names_before = set(before.get("zendesk_ticket_ids") or [])
    # Watched with the issue (watch_subject).
    naming = first.naming if first is not None else subjects.named_by(pipe, ordering.ISSUE, issue_id)
    waiting: set[str] = set()
    version = None
    with planner.conn.pipeline(transaction=False) as reads:
        if key:
            subjects.watch(pipe, subjects.named_key_key(str(key)))
            reads.smembers(subjects.named_key_key(str(key)))
            subjects.queue_next_version(reads, time.time_ns() // 1000)  # after this view's last WATCH
        reads.hkeys(links.issue_key(issue_id))
        *replies, indexed_reply = scripts.execute(reads)
    if key:
        waiting, version = {text(member) for member in replies[0]}, int(replies[1])
    indexed = set(links.tickets_of_reply(indexed_reply))
    everyone = names_now | names_before | naming | indexed | waiting
    cascades: set[str] = set(names_now ^ names_before)
    if stored is None and not deleted:
        # First sight of the issue (a catch-up meets every issue once): a ticket linked under the key it
        # has now is in line already; one linked under another key (it moved since) or naming it unlinked
        # is planned again. Planning them all would rewrite every link of a site on its first catch-up.
        cascades |= (naming | waiting) - indexed
        cascades |= {ticket_id for ticket_id in indexed if _linked_key(planner, ticket_id, issue_id) != key}
    elif stored is None or deleted != deleted_before or key != key_before:
        # A deletion or a move: every ticket it concerns is planned again.
        cascades |= everyone
    named = set() if deleted else names_now
    was_named = set() if deleted_before else names_before
    changes = Changes(
        names=[(ordering.TICKET, named - was_named, was_named - named, issue_id)],
        current_key=(issue_id, str(key)) if key and not deleted else None,
        cascades={(ordering.TICKET, ticket_id) for ticket_id in cascades},
        version=version,
    )
    entries: list[dict[str, Any]] = [
        {
            "id": ticket_id,
            "by_issue": ticket_id in names_now,
            "by_ticket": ticket_id in naming,
            "linked": ticket_id in indexed,
            "wanted": not deleted and (ticket_id in names_now or ticket_id in naming),
        }
        for ticket_id in sorted(names_now | naming | indexed)
    ]
    linked = Linked(
        zendesk_ticket_ids=tuple(str(entry["id"]) for entry in entries if entry["wanted"]),
        tickets=tuple(entries),
    )
    return linked, changes


def event_only(event: Event) -> Linked:
    """``linked`` from the event alone, as if nothing else were known (a preview without Redis): a ticket
    is linked with the issues its keys name (by key), an issue with the tickets it names."""
    if event["subject"]["kind"] == ordering.TICKET:
        issues = tuple(
            {"id": key, "key": key, "wanted": True, "by_ticket": True, "by_issue": False, "linked": False}
            for key in event["refs"]["jira_issue_keys"]
        )
        return Linked(jira_issue_keys=tuple(event["refs"]["jira_issue_keys"]), issues=issues)
    tickets = tuple(
        {"id": ticket, "wanted": True, "by_issue": True, "by_ticket": False, "linked": False}
        for ticket in event["refs"]["zendesk_ticket_ids"]
    )
    return Linked(zendesk_ticket_ids=tuple(event["refs"]["zendesk_ticket_ids"]), tickets=tickets)


def resolve(
    planner: Planner,
    keys: list[str],
    remembered: dict[str, str | None] | None,
    learned: list[Writes],
) -> tuple[dict[str, str], list[str]]:
    """Return ``{key: issue id}`` for the keys that name an issue, and the keys that name none.

    Remembered ids answer (``remembered``: read already by the caller); an unknown key costs one
    ``GET /rest/api/2/issue/{key}`` (which also finds a moved issue by its old key), and its answer is
    remembered by writes appended to ``learned`` for the caller to send in its next round trip (sent here
    when a later key's lookup fails). Without Jira configured no key can be resolved.
    """
    if remembered is None:
        remembered = issue_ids.ids(planner.conn, keys)
    resolved: dict[str, str] = {}
    unresolved: list[str] = []
    try:
        for key in keys:
            found = remembered.get(key)
            if found is None:
                found = _ask_jira(planner, key, learned)
            if found:
                resolved[key] = found
            else:
                unresolved.append(key)
    except BaseException:
        # What was learned before the failure is not asked again; the lookup's failure is what is raised.
        with contextlib.suppress(RedisError, OSError):
            _send(planner, learned)
        raise
    return resolved, unresolved


def _send(planner: Planner, writes: list[Writes]) -> None:
    """Send ``writes`` in a round trip of their own (none when there are none)."""
    if writes:
        with batched(planner.conn) as pipe:
            for write in writes:
                write(pipe)


def _ask_jira(planner: Planner, key: str, learned: list[Writes]) -> str:
    """The id of the issue ``key`` names, asked of Jira (``UNKNOWN`` when it names none); the writes
    remembering the answer are appended to ``learned``."""
    try:
        jira = planner.clients.need("jira", JiraClient, "JIRA_BASE_URL, JIRA_EMAIL and JIRA_API_TOKEN")
        issue = jira.get_issue(key, fields="updated")
    except NotConfigured:
        return issue_ids.UNKNOWN
    except UpstreamNotFound:
        learned.append(lambda pipe: issue_ids.remember_unknown(pipe, key))
        return issue_ids.UNKNOWN
    except RetryableUpstreamError as error:
        raise RetryLater(error.retry_after or 1.0, f"looking up {key}: {error}") from error
    except DestinationHeld as held:  # Jira's gate holds its requests: look it up when it opens
        raise RetryLater(
            max(0.0, held.until - time.time()), f"looking up {key}: {held}", True, counts=False
        ) from held

    def remember(pipe: Pipeline) -> None:
        issue_ids.remember_keys(pipe, issue.id, key, issue.key)
        issue_ids.set_current_key(pipe, issue.id, issue.key)

    learned.append(remember)
    return issue.id


@dataclass(frozen=True)
class FirstReads:
    """What a plan starts from besides its subject's state, read with it (``queue_first_reads``): who names
    the subject (``naming``: issue ids for a ticket, ticket ids for an issue) and, for a ticket, the ids
    remembered for ``keys`` and the index's links of it (``indexed``, by issue id)."""

    naming: set[str]
    keys: frozenset[str] = frozenset()
    remembered: dict[str, str | None] = field(default_factory=dict)
    indexed: dict[str, links.IndexedLink] = field(default_factory=dict)


def queue_first_reads(reads: Pipeline, kind: str, subject_id: str, keys: list[str]) -> None:
    """Queue the reads of ``FirstReads`` on ``reads`` (one to three commands: ``first_reads`` parses their
    replies; ``keys`` are a ticket's). The planner sends them with its load of the subject's state, after
    its WATCH."""
    if kind == ordering.TICKET and keys:
        reads.mget(issue_ids.id_keys(keys))
    reads.smembers(subjects.named_by_key(kind, subject_id))
    if kind == ordering.TICKET:
        reads.hgetall(links.ticket_key(subject_id))


def first_reads(kind: str, keys: list[str], replies: list[Any]) -> FirstReads:
    """``FirstReads`` from the replies of ``queue_first_reads(reads, kind, subject_id, keys)``, in order."""
    if kind != ordering.TICKET:
        (naming_reply,) = replies
        return FirstReads({text(member) for member in naming_reply})
    remembered = issue_ids.by_name(keys, replies[0]) if keys else {}
    naming_reply, indexed_reply = replies[-2:]
    return FirstReads(
        {text(member) for member in naming_reply},
        frozenset(keys),
        remembered,
        links.of_ticket_reply(indexed_reply),
    )


def _ticket_reads(planner: Planner, ticket_id: str, keys: list[str]) -> FirstReads:
    """Read a ticket's ``FirstReads`` in one round trip.

    On the planner's connection, not its pipeline: the pipeline has WATCHed the ticket and who names it
    (``watch_subject``), and a change by anyone after that aborts the plan whichever connection read it.
    """
    with planner.conn.pipeline(transaction=False) as reads:
        queue_first_reads(reads, ordering.TICKET, ticket_id, keys)
        return first_reads(ordering.TICKET, keys, reads.execute())


def _issue_states(
    planner: Planner, pipe: Pipeline, issue_ids_: list[str], learned: list[Writes]
) -> tuple[dict[str, subjects.Stored], dict[str, str | None], int | None]:
    """WATCH the states of the issues on the other side of a ticket's links, then read them, their current
    keys and a plan version taken after this WATCH in one round trip (on the planner's connection: the
    WATCH guards them from then on). No issue, no WATCH: no version (None).

    ``learned``: writes of the ids Jira answered (``resolve``), sent first in that round trip: the current
    keys read after them are the ones Jira just gave. They write none of the keys the plan WATCHes (a
    write of another connection would abort it)."""
    if not issue_ids_:
        _send(planner, learned)
        return {}, {}, None
    subjects.watch(pipe, *(subjects.subject_key(ordering.ISSUE, issue_id) for issue_id in issue_ids_))
    with planner.conn.pipeline(transaction=False) as reads:
        for write in learned:
            write(reads)
        written = len(reads.command_stack)
        for issue_id in issue_ids_:
            reads.hgetall(subjects.subject_key(ordering.ISSUE, issue_id))
        reads.mget(issue_ids.current_key_keys(issue_ids_))
        subjects.queue_next_version(reads, time.time_ns() // 1000)
        *states, current, version = scripts.execute(reads)[written:]
    found = {}
    for issue_id, reply in zip(issue_ids_, states, strict=True):
        stored = subjects.loaded(ordering.ISSUE, issue_id, reply)
        if stored is not None:
            found[issue_id] = stored
    return found, issue_ids.by_name(issue_ids_, current), int(version)
