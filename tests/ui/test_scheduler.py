"""The pair scheduler (no Qt): sync-now, one run per pair, backoff, pause, catch-up, clock jumps."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from app.services.scheduler import Backoff, SyncScheduler

WAIT = 10.0
MIN = dt.timedelta(minutes=1)


@dataclass
class Result:
    status: str


class Runner:
    """A fake sync: records runs, can block, returns the statuses it is given in turn."""

    def __init__(self) -> None:
        self.runs: list[str] = []
        self.statuses: list[str] = []
        self.gate: threading.Event | None = None
        self.entered = threading.Event()
        self.active = 0
        self.max_active = 0
        self.lock = threading.Lock()
        self.finished = threading.Semaphore(0)

    def __call__(self, pair_id: str) -> Result:
        with self.lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
            self.runs.append(pair_id)
        self.entered.set()
        if self.gate is not None:
            assert self.gate.wait(WAIT)
        with self.lock:
            self.active -= 1
        return Result(self.statuses.pop(0) if self.statuses else "ok")

    def done(self, pair_id: str, result: Any) -> None:
        self.finished.release()

    def wait_runs(self, n: int) -> None:
        for _ in range(n):
            assert self.finished.acquire(timeout=WAIT), f"only {len(self.runs)} runs"


@pytest.fixture
def runner() -> Runner:
    return Runner()


@pytest.fixture
def sched(runner: Runner) -> Iterator[SyncScheduler]:
    s = SyncScheduler(runner, on_finished=runner.done, interval=dt.timedelta(minutes=5))
    s.start()
    yield s
    if runner.gate is not None:
        runner.gate.set()
    s.shutdown()


def _about(when: dt.datetime | None, delta: dt.timedelta) -> bool:
    assert when is not None
    expected = dt.datetime.now(dt.UTC) + delta
    return abs((when - expected).total_seconds()) < 5


def test_first_run_then_the_interval(sched: SyncScheduler, runner: Runner) -> None:
    sched.set_pairs(["p1"], first_run_now=True)
    runner.wait_runs(1)
    assert runner.runs == ["p1"]
    assert _about(sched.next_run("p1"), dt.timedelta(minutes=5))


def test_new_pairs_wait_one_interval_and_removed_pairs_stop(sched: SyncScheduler) -> None:
    sched.set_pairs(["p1", "p2"])
    assert sched.pair_ids() == ["p1", "p2"]
    assert _about(sched.next_run("p2"), dt.timedelta(minutes=5))
    sched.set_pairs(["p2"])
    assert sched.pair_ids() == ["p2"]
    assert sched.next_run("p1") is None


def test_sync_now_while_running_runs_once_more_never_overlapping(
    sched: SyncScheduler, runner: Runner
) -> None:
    runner.gate = threading.Event()
    sched.set_pairs(["p1"], first_run_now=True)
    assert runner.entered.wait(WAIT)
    assert sched.is_running("p1")
    sched.sync_now("p1")
    sched.sync_now("p1")  # twice while running: still one more run, not two
    runner.gate.set()
    runner.wait_runs(2)
    assert runner.runs == ["p1", "p1"]
    assert runner.max_active == 1
    assert not runner.finished.acquire(timeout=0.3)


def test_sync_now_all_pairs(sched: SyncScheduler, runner: Runner) -> None:
    sched.set_pairs(["p1", "p2"])
    sched.sync_now()
    runner.wait_runs(2)
    assert sorted(runner.runs) == ["p1", "p2"]


def test_offline_backs_off_growing_then_ok_returns_to_interval(
    sched: SyncScheduler, runner: Runner
) -> None:
    runner.statuses = ["offline", "offline", "offline", "ok"]
    sched.set_pairs(["p1"])
    for expected in (1, 2, 4):
        sched.sync_now("p1")
        runner.wait_runs(1)
        assert _about(sched.next_run("p1"), expected * MIN)
    assert sched.failures("p1") == 3
    sched.sync_now("p1")
    runner.wait_runs(1)
    assert sched.failures("p1") == 0
    assert _about(sched.next_run("p1"), 5 * MIN)


def test_errors_back_off_from_the_interval_up_to_the_cap() -> None:
    b = Backoff(cap=dt.timedelta(hours=1))
    five = 5 * MIN
    assert [b.delay("error", n, five) for n in (1, 2, 3, 4, 5)] == [
        5 * MIN,
        10 * MIN,
        20 * MIN,
        40 * MIN,
        60 * MIN,
    ]
    assert b.delay("offline", 30, five) == 60 * MIN


def test_a_raising_sync_counts_as_an_error_and_the_schedule_goes_on(runner: Runner) -> None:
    def boom(pair_id: str) -> Result:
        raise RuntimeError("bug")

    s = SyncScheduler(boom, on_finished=runner.done)
    s.start()
    try:
        s.set_pairs(["p1"], first_run_now=True)
        runner.wait_runs(1)
        assert s.failures("p1") == 1
        assert _about(s.next_run("p1"), 5 * MIN)
    finally:
        s.shutdown()


def test_pause_for_an_hour_sync_now_once_then_resume(sched: SyncScheduler, runner: Runner) -> None:
    sched.set_pairs(["p1"])
    until = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    sched.pause(until)
    assert sched.paused and sched.paused_until == until
    assert sched.next_run("p1") is None
    sched.sync_now("p1")  # an explicit request runs even while paused...
    runner.wait_runs(1)
    assert sched.next_run("p1") is None  # ...and the pause holds
    sched.resume()
    runner.wait_runs(1)  # resuming catches up at once
    assert not sched.paused
    assert _about(sched.next_run("p1"), 5 * MIN)


def test_missed_runs_after_sleep_coalesce_into_one(sched: SyncScheduler, runner: Runner) -> None:
    sched.set_pairs(["p1"])
    # As after a 3-hour sleep: 36 runs were missed; exactly one happens, none is dropped.
    sched._sched.modify_job("p1", next_run_time=dt.datetime.now(dt.UTC) - dt.timedelta(hours=3))
    runner.wait_runs(1)
    assert runner.runs == ["p1"]
    assert not runner.finished.acquire(timeout=0.3)


def test_wall_clock_jumping_back_pulls_the_next_run_to_now(runner: Runner) -> None:
    offset = [dt.timedelta(0)]
    mono = [1000.0]
    s = SyncScheduler(
        runner,
        on_finished=runner.done,
        wall=lambda: dt.datetime.now(dt.UTC) + offset[0],
        monotonic=lambda: mono[0],
    )
    s.start()
    try:
        s.set_pairs(["p1"])
        s.check_clock()
        # The clock was set back 2 hours while 30 s passed: the next run is 2 h 5 min away.
        offset[0] = -dt.timedelta(hours=2)
        mono[0] += 30
        far = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2, minutes=5)
        s._sched.modify_job("p1", next_run_time=far)
        s.check_clock()
        runner.wait_runs(1)
    finally:
        s.shutdown()


def test_interval_changes_apply_to_every_pair(sched: SyncScheduler) -> None:
    sched.set_pairs(["p1"])
    sched.set_interval(dt.timedelta(minutes=2))
    assert _about(sched.next_run("p1"), 2 * MIN)
    sched.set_interval(dt.timedelta(seconds=5))  # below the floor: clamped to a minute
    assert sched.interval == MIN
