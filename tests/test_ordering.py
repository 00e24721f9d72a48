"""The ordering's pure parts: when "the same state" may move the applied state's time, and how a read of
the source is ordered (bridge/ordering.py, bridge/sources/current.py)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from bridge import defaults, ordering
from bridge.event import Normalized
from bridge.sources import current


def _ticket(
    sequence: int, precision: int, partial: dict[str, object], exact: bool = False
) -> ordering.Candidate:
    return ordering.Candidate(ordering.TICKET, "5001", sequence, precision, partial, exact)


def test_a_newer_delivery_that_tells_the_whole_state_moves_the_time_to_its_own() -> None:
    told = _ticket(10_000, 1000, {"jira_issue_keys": ["A-1"], "deleted": None})
    assert ordering.confirmed(told, 0, 60_000) == (0, 60_000)  # overlapping: nothing is learnt
    assert ordering.confirmed(told, 0, 1000) == (10_000, 1000)


def test_an_event_that_tells_part_of_the_state_never_confirms_it() -> None:
    restore = _ticket(10_600, 1, {"deleted": None})
    assert ordering.confirmed(restore, 0, 1000) is None
    assert not ordering.tells_whole_state(restore)


def test_a_read_of_the_source_stretches_the_interval_to_the_read() -> None:
    read = _ticket(9_000, 4_000, {"deleted": None}, exact=True)
    assert ordering.confirmed(read, 8_000, 2_000) == (9_000, 4_000)
    assert ordering.confirmed(read, 0, 20_000) == (0, 20_000)  # ends later already: kept


def test_a_delivery_stamped_within_a_read_that_tells_another_state_is_a_tie() -> None:
    read_at, margin = 100_000, defaults.SOURCE_READ_MARGIN_MS
    deletion = _ticket(read_at - 500, 1, {"deleted": "soft"})
    order = ordering.compare(deletion, read_at - margin, 2 * margin, same=False)
    assert order is ordering.Order.AMBIGUOUS
    stamped_before = _ticket(read_at - margin - 10, 1, {"deleted": "soft"})
    assert ordering.compare(stamped_before, read_at - margin, 2 * margin, same=False) is ordering.Order.OLDER


def test_a_read_is_ordered_by_when_it_was_made_not_by_updated_at() -> None:
    updated = datetime(2026, 1, 1, tzinfo=UTC)
    found = Normalized(
        type="ticket.updated",
        subject={"kind": "ticket", "id": "5001"},
        actor={"id": None, "name": None},
        occurred_at=updated,
        sequence=int(updated.timestamp() * 1000),
        refs={"jira_issue_keys": [], "zendesk_ticket_ids": ["5001"], "salesforce_ids": []},
        data={"sequence_precision_ms": 1000, "from_source": True},
    )
    started = time.time()
    read = current.as_read(found, started)
    margin = defaults.SOURCE_READ_MARGIN_MS
    assert read.sequence == int(started * 1000) - margin
    end = read.sequence + read.data["sequence_precision_ms"]
    assert int(time.time() * 1000) + margin >= end >= int(started * 1000) + margin
    assert read.occurred_at == updated  # what operators see of the ticket's own time stays


def test_only_a_deletion_nothing_can_follow_is_final() -> None:
    assert ordering.final(_ticket(1, 1, {"deleted": "permanent"}))
    assert not ordering.final(_ticket(1, 1, {"deleted": "soft"}))  # a restore may follow, delivered first
    assert not ordering.final(_ticket(1, 1, {"deleted": None}))
    issue = ordering.Candidate(ordering.ISSUE, "10000", 1, 1, {"deleted": True})
    assert ordering.final(issue)
