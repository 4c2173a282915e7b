"""The lower bounds the benchmark compares with (bench/bounds.py), on case 1's figures."""

from __future__ import annotations

from bench.bounds import SyncBound, quota_wall_s
from bench.measure import PhaseClock


def test_initial_sync_bound_counts_the_series_read_by_id() -> None:
    # 5,000 events: 10,000 delta rows, 500 series masters, 5,500 Google writes.
    b = SyncBound(
        outlook_rows=10_000, google_rows=0, outlook_writes=0, google_writes=5_500, outlook_by_id=500
    )
    assert b.outlook_requests_listed == 10  # the formula: pages only
    assert b.outlook_requests == 10 + 25  # and 25 $batch of 20 masters
    assert b.google_requests == 1 + 110
    # Pages follow each other, then the masters they name in 7 waves of 4; then 110 batches.
    assert b.round_trips == 10 + 7 + 110
    assert b.wall_s(30) == 3.81
    assert b.wall_s_listed(30) == 3.6


def test_without_series_the_two_formulas_agree() -> None:
    b = SyncBound(outlook_rows=1, google_rows=0, outlook_writes=0, google_writes=1)
    assert b.outlook_requests == b.outlook_requests_listed == 1
    assert b.round_trips == 2 and b.wall_s(30) == b.wall_s_listed(30)


def test_quota_floor() -> None:
    assert quota_wall_s(100, 100, 2.0) == 0.0
    assert quota_wall_s(1101, 100, 2.0) == 22.0


def test_overlapping_phases_count_once() -> None:
    clock = PhaseClock()
    clock._spans += [(0.0, 2.0), (1.0, 3.0), (5.0, 6.0), (5.5, 5.75)]  # two reads at once
    assert clock.covered() == 4.0
