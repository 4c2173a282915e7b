"""When each pair syncs: one APScheduler job per pair, sync-now, pause, backoff, catch-up.

No Qt here (library-notes.md §6: QtScheduler leaks timers on every wakeup), so this is a plain
``BackgroundScheduler``; jobs run on its worker threads and report through callbacks, which the
UI turns into Qt signals.

The traps this module exists to avoid:

* ``misfire_grace_time=None`` + ``coalesce``: a run missed while the laptop slept happens once
  on wake-up instead of being dropped (the default grace of 1 s drops it) or repeated;
* ``max_instances`` counts per job id, so "sync now" moves the pair's one job (``modify_job``)
  instead of adding a second job that could overlap it; a sync-now that arrives while the pair
  is running is remembered and run right after;
* the wall clock can jump back (a manual change, a VM restore): a heartbeat compares it with the
  monotonic clock and pulls any run that now lies too far ahead back to "now".
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler

log = logging.getLogger(__name__)

# Sync intervals the person may choose; a managed policy may narrow these later.
MIN_INTERVAL = dt.timedelta(minutes=1)
MAX_INTERVAL = dt.timedelta(hours=24)
_RESUME_JOB = "resume-all"
_HEARTBEAT_JOB = "heartbeat"
_FAILED = frozenset({"offline", "error", "failed"})


@dataclass(frozen=True)
class Backoff:
    """Retry delays after failed runs: first, doubled per failure, capped.

    Offline starts short (the network usually returns soon after wake-up and a check costs
    nothing); any other error starts at the normal interval so a broken server is not hammered.
    """

    offline_first: dt.timedelta = dt.timedelta(minutes=1)
    cap: dt.timedelta = dt.timedelta(hours=1)

    def delay(self, status: str, failures: int, interval: dt.timedelta) -> dt.timedelta:
        first = self.offline_first if status == "offline" else interval
        doublings = min(max(failures - 1, 0), 20)  # 2**20 intervals is past any cap already
        return min(first * (1 << doublings), max(self.cap, interval))


def clamp_interval(interval: dt.timedelta) -> dt.timedelta:
    return max(MIN_INTERVAL, min(MAX_INTERVAL, interval))


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class SyncScheduler:
    """Runs ``run(pair_id)`` for each pair on its own schedule; callbacks come from workers."""

    def __init__(
        self,
        run: Callable[[str], Any],
        *,
        interval: dt.timedelta = dt.timedelta(minutes=5),
        backoff: Backoff | None = None,
        on_started: Callable[[str], None] | None = None,
        on_finished: Callable[[str, Any], None] | None = None,
        on_changed: Callable[[], None] | None = None,
        heartbeat: dt.timedelta = dt.timedelta(seconds=60),
        wall: Callable[[], dt.datetime] = _now,  # for the heartbeat only (tests fake jumps)
        monotonic: Callable[[], float] = time.monotonic,
        workers: int = 2,
    ) -> None:
        self._run = run
        self.interval = clamp_interval(interval)
        self.backoff = backoff or Backoff()
        self.on_started = on_started
        self.on_finished = on_finished
        self.on_changed = on_changed
        self._wall = wall
        self._mono = monotonic
        self._heartbeat = heartbeat
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)  # signalled when no run is under way
        self._active = 0  # runs under way (each up to its listeners' return)
        self._closed = False
        self._running: set[str] = set()
        self._again: set[str] = set()
        self._failures: dict[str, int] = {}
        self._paused_until: dt.datetime | None = None
        self._paused = False
        self._last_beat = (self._wall(), self._mono())
        self._sched = BackgroundScheduler(
            timezone=dt.UTC,
            executors={"default": ThreadPoolExecutor(max_workers=workers)},
            job_defaults={"max_instances": 1, "coalesce": True, "misfire_grace_time": None},
        )

    # --- life cycle ----------------------------------------------------------------------------

    def start(self) -> None:
        if self._sched.running:
            return
        self._sched.start()
        self._sched.add_job(
            self.check_clock,
            "interval",
            seconds=self._heartbeat.total_seconds(),
            id=_HEARTBEAT_JOB,
            replace_existing=True,
        )

    def shutdown(self, wait: bool = True) -> None:
        """Stop; with ``wait``, also until the runs under way have finished.

        APScheduler's own wait joins the jobs while it holds its job-store lock, which a run
        that ends needs to set its next time: both would wait forever. So it is stopped without
        waiting, and the runs are waited for here; jobs it queued but had not started do nothing.
        """
        with self._lock:
            self._closed = True
        if self._sched.running:
            self._sched.shutdown(wait=False)
        if wait:
            with self._idle:
                self._idle.wait_for(lambda: self._active == 0)

    # --- pairs ---------------------------------------------------------------------------------

    def set_pairs(self, pair_ids: Iterable[str], *, first_run_now: bool = False) -> None:
        """Make the jobs match the pairs: add new ones (first run now or after one interval)."""
        wanted = set(pair_ids)
        have = {j.id for j in self._sched.get_jobs() if j.id not in (_RESUME_JOB, _HEARTBEAT_JOB)}
        for pid in have - wanted:
            self._remove(pid)
        for pid in sorted(wanted - have):
            start = _now() if first_run_now else _now() + self.interval
            self._sched.add_job(
                self._job,
                "interval",
                args=[pid],
                id=pid,
                seconds=self.interval.total_seconds(),
                next_run_time=None if self._paused else start,
                # One run at a time is kept by ``_running`` (a second instance returns at once).
                # APScheduler's own count lasts until the job function returns, i.e. also while
                # the "finished" listeners run; with 1, a sync-now asked for from a listener
                # would be dropped as "maximum number of running instances reached".
                max_instances=2,
            )
        self._changed()

    def _remove(self, pair_id: str) -> None:
        with contextlib.suppress(JobLookupError):
            self._sched.remove_job(pair_id)
        with self._lock:
            self._failures.pop(pair_id, None)
            self._again.discard(pair_id)

    def pair_ids(self) -> list[str]:
        return sorted(
            j.id for j in self._sched.get_jobs() if j.id not in (_RESUME_JOB, _HEARTBEAT_JOB)
        )

    def next_run(self, pair_id: str | None = None) -> dt.datetime | None:
        """When the pair (or the soonest of all pairs) runs next; None while paused."""
        times = [
            j.next_run_time
            for j in self._sched.get_jobs()
            if j.id not in (_RESUME_JOB, _HEARTBEAT_JOB)
            and (pair_id is None or j.id == pair_id)
            and j.next_run_time is not None
        ]
        return min(times) if times else None

    def is_running(self, pair_id: str | None = None) -> bool:
        with self._lock:
            return bool(self._running) if pair_id is None else pair_id in self._running

    def failures(self, pair_id: str) -> int:
        with self._lock:
            return self._failures.get(pair_id, 0)

    # --- the person's controls ---------------------------------------------------------------

    def set_interval(self, interval: dt.timedelta) -> None:
        self.interval = clamp_interval(interval)
        for pid in self.pair_ids():
            job = self._sched.get_job(pid)
            if job is None:
                continue
            nxt = job.next_run_time
            self._sched.reschedule_job(
                pid, trigger="interval", seconds=self.interval.total_seconds()
            )
            if self._paused:
                self._sched.pause_job(pid)
            elif nxt is not None:
                # Keep the run that was due sooner: a longer interval starts counting from now.
                self._sched.modify_job(pid, next_run_time=min(nxt, _now() + self.interval))
        self._changed()

    def sync_now(self, pair_id: str | None = None) -> None:
        """Run the pair (or every pair) now; one already running runs again when it finishes."""
        for pid in [pair_id] if pair_id else self.pair_ids():
            with self._lock:
                if pid in self._running:
                    self._again.add(pid)
                    continue
            try:
                self._sched.modify_job(pid, next_run_time=_now())
            except JobLookupError:
                log.info("sync now: no pair %s", pid)

    def pause(self, until: dt.datetime | None = None) -> None:
        """Pause every pair until ``until`` (None: until resumed); a running sync finishes."""
        with self._lock:
            self._paused = True
            self._paused_until = until
            self._again.clear()
        for pid in self.pair_ids():
            self._sched.pause_job(pid)
        if until is not None:
            self._sched.add_job(
                self.resume, "date", run_date=until, id=_RESUME_JOB, replace_existing=True
            )
        self._changed()

    def resume(self) -> None:
        with self._lock:
            self._paused = False
            self._paused_until = None
        with contextlib.suppress(JobLookupError):
            self._sched.remove_job(_RESUME_JOB)
        for pid in self.pair_ids():
            # A pause long enough to miss a run catches up at once.
            self._sched.modify_job(pid, next_run_time=_now())
        self._changed()

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def paused_until(self) -> dt.datetime | None:
        return self._paused_until

    # --- clock --------------------------------------------------------------------------------

    def check_clock(self) -> None:
        """Pull runs back to now when the wall clock jumped backwards since the last beat."""
        wall, mono = self._wall(), self._mono()
        last_wall, last_mono = self._last_beat
        self._last_beat = (wall, mono)
        drift = (wall - last_wall).total_seconds() - (mono - last_mono)
        if drift > -60:
            return  # forwards (sleep, NTP) is handled by the misfire settings
        log.info("wall clock went back by %.0f s: rescheduling", -drift)
        now = _now()
        for pid in self.pair_ids():
            job = self._sched.get_job(pid)
            if job is not None and job.next_run_time and job.next_run_time > now + self.interval:
                self._sched.modify_job(pid, next_run_time=now)
        self._changed()

    # --- the job -----------------------------------------------------------------------------

    def _job(self, pair_id: str) -> None:
        with self._lock:
            if self._closed:
                return
            self._active += 1
        try:
            self._one_job(pair_id)
        finally:
            with self._idle:
                self._active -= 1
                self._idle.notify_all()

    def _one_job(self, pair_id: str) -> None:
        with self._lock:
            if pair_id in self._running:
                return
            self._running.add(pair_id)
        try:
            while True:
                delay, result = self._run_once(pair_id)
                with self._lock:
                    again = pair_id in self._again and not self._paused
                    self._again.discard(pair_id)
                if not again:
                    break
                _call(self.on_finished, pair_id, result)
            # Listeners hear "finished" after the next run time is set, so they can show it.
            self._reschedule(pair_id, delay)
        finally:
            with self._lock:
                self._running.discard(pair_id)
                late = pair_id in self._again
                self._again.discard(pair_id)
        if late:  # a sync-now that arrived while rescheduling
            self.sync_now(pair_id)
        _call(self.on_finished, pair_id, result)

    def _run_once(self, pair_id: str) -> tuple[dt.timedelta | None, Any]:
        _call(self.on_started, pair_id)
        result: Any = None
        try:
            result = self._run(pair_id)
            status = str(getattr(result, "status", "ok"))
        except Exception:
            log.exception("sync of pair %s raised", pair_id)
            status = "error"
        with self._lock:
            if status in _FAILED:
                self._failures[pair_id] = self._failures.get(pair_id, 0) + 1
                delay: dt.timedelta | None = self.backoff.delay(
                    status, self._failures[pair_id], self.interval
                )
            else:
                self._failures.pop(pair_id, None)
                delay = None
        return delay, result

    def _reschedule(self, pair_id: str, delay: dt.timedelta | None) -> None:
        # The next run counts from the end of this one (a long run never causes a burst).
        job = self._sched.get_job(pair_id)
        if job is None:
            self._changed()
            return
        if self._paused:
            # A "sync now" during a pause runs once; APScheduler re-armed the job, disarm it.
            self._sched.pause_job(pair_id)
            self._changed()
            return
        self._sched.modify_job(pair_id, next_run_time=_now() + (delay or self.interval))
        self._changed()

    def _changed(self) -> None:
        _call(self.on_changed)


def _call(fn: Callable[..., None] | None, *args: Any) -> None:
    if fn is None:
        return
    try:
        fn(*args)
    except Exception:  # a listener's bug must not stop the schedule
        log.exception("scheduler listener failed")
