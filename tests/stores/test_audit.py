"""The audit log: newest first, paged by entry id, bounded by its cap."""

from __future__ import annotations

import pytest
import redis

from bridge import defaults, keys
from bridge.stores import audit


def test_entries_come_back_newest_first_a_page_at_a_time(redis_client: redis.Redis) -> None:
    for n in range(5):
        audit.record(redis_client, actor="ann", via="api", action="requeue", target=f"job-{n}", ok=n != 3)

    first = audit.recent(redis_client, limit=3)
    older = audit.recent(redis_client, limit=3, before=first[-1].id)

    assert [entry.target for entry in first + older] == [f"job-{n}" for n in (4, 3, 2, 1, 0)]
    assert [entry.ok for entry in first] == [True, False, True]
    assert (first[0].actor, first[0].via, first[0].action) == ("ann", "api", "requeue")
    assert first[0].at >= first[-1].at > 0
    assert audit.count(redis_client) == 5


def test_the_log_is_bounded(redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(defaults, "AUDIT_LOG_MAX", 100)
    for n in range(1000):
        audit.record(redis_client, actor="cron", via="schedule", action="reconcile", target=str(n), ok=True)

    # Trimmed in whole stream nodes (MAXLEN ~): never below the cap, and far from the thousand written.
    assert 100 <= redis_client.xlen(keys.AUDIT_KEY) < 300
    assert audit.recent(redis_client, limit=1)[0].target == "999"


def test_a_run_records_itself(redis_client: redis.Redis) -> None:
    audit.record_run(redis_client, "resync", "tickets since 2026-11-01", True, "12 events")

    (entry,) = audit.recent(redis_client)
    assert (entry.actor, entry.via, entry.action, entry.detail) == (
        "bridge",
        "schedule",
        "resync",
        "12 events",
    )
