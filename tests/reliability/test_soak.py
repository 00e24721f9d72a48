"""The soak, short: random histories delivered in disorder while workers die, Redis restarts and upstreams
fail; the upstreams must end as the rules define for every subject's newest state (tests/reliability/)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.reliability.soak import Soak, SoakConfig


@pytest.mark.timeout(170)
def test_the_upstreams_end_as_the_rules_define_whatever_happened_on_the_way(tmp_path: Path) -> None:
    report = Soak(SoakConfig(seed=7), tmp_path).run()
    print("\n" + report.summary(), file=sys.stderr)

    problems = report.verdict.lost + report.verdict.duplicate + report.verdict.stale
    assert report.refused == [], report.refused[:5]
    assert report.exited == []  # no worker gave up (a Redis restart is waited out, even at start)
    assert (len(report.verdict.lost), len(report.verdict.duplicate), len(report.verdict.stale)) == (
        0,
        0,
        0,
    ), report.summary() + "\n" + "\n".join(problems[:20]) + "\n" + report.diagnosis
    assert report.converged_after_s is not None
    assert report.converged_after_s <= 60
    # The run was hostile: every kind of disorder happened.
    assert report.kills >= 2
    assert report.redis_restarts == 1
    assert report.redelivered > 0
    assert report.faults > 10
