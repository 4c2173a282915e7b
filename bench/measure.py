"""Clocks and memory: wall time (perf_counter), this process's CPU (process_time), another
process's CPU and memory (/proc/<pid>/stat and /proc/<pid>/status, Linux)."""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import resource
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def proc_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (0.0 where /proc is missing)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    # The command name (field 2) may hold spaces: split after its closing parenthesis.
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def proc_memory_mb(pid: int | None = None) -> dict[str, float]:
    """VmRSS (resident now) and VmHWM (peak resident) in MB, from /proc/<pid>/status."""
    path = Path(f"/proc/{pid if pid is not None else 'self'}/status")
    out: dict[str, float] = {}
    try:
        for line in path.read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                out[name] = round(int(value.split()[0]) / 1024, 1)
    except (OSError, ValueError):
        pass
    if "VmHWM" not in out and pid is None:  # no /proc: the peak from getrusage (KB on Linux)
        out["VmHWM"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return out


def release_memory() -> None:
    """Give freed memory back to the OS (gc, then glibc's malloc_trim), so that a peak measured
    next is not inflated by what set-up left behind."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def reset_peak_rss() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0: write 5 to clear_refs)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


@dataclass
class Span:
    """Wall and CPU time of a block; ``other`` adds the CPU of another process (the sandbox)."""

    other: Callable[[], float] | None = None
    wall: float = 0.0
    cpu: float = 0.0
    other_cpu: float = 0.0
    _t: tuple[float, float, float] = field(default=(0.0, 0.0, 0.0), repr=False)

    def __enter__(self) -> Span:
        self._t = (
            time.perf_counter(),
            time.process_time(),
            self.other() if self.other else 0.0,
        )
        return self

    def __exit__(self, *exc: object) -> None:
        w, c, o = self._t
        self.wall = time.perf_counter() - w
        self.cpu = time.process_time() - c
        self.other_cpu = (self.other() - o) if self.other else 0.0

    def as_dict(self) -> dict[str, Any]:
        d = {"wall_s": round(self.wall, 3), "cpu_s": round(self.cpu, 3)}
        if self.other is not None:
            d["sandbox_cpu_s"] = round(self.other_cpu, 3)
        return d


_DONE = object()


class PhaseClock:
    """Wall time spent inside chosen methods of chosen objects (the providers' reads and
    writes), to tell where a sync's time goes."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self._active: set[str] = set()
        self._spans: list[tuple[float, float]] = []  # (start, end) of every timed call

    def wrap(self, obj: Any, method: str, label: str) -> None:
        original = getattr(obj, method)

        def timed(*args: Any, **kwargs: Any) -> Any:
            with self._timing(label):
                return original(*args, **kwargs)

        setattr(obj, method, timed)

    @contextlib.contextmanager
    def _timing(self, label: str) -> Iterator[None]:
        # A wrapped method calling another one with the same label (apply <-> apply_iter)
        # counts once.
        if label in self._active:
            yield
            return
        self._active.add(label)
        t = time.perf_counter()
        try:
            yield
        finally:
            self._active.discard(label)
            end = time.perf_counter()
            self._spans.append((t, end))
            self.seconds[label] = self.seconds.get(label, 0.0) + end - t
            self.calls[label] = self.calls.get(label, 0) + 1

    def wrap_iter(self, obj: Any, method: str, label: str) -> None:
        """Like ``wrap``, for a method that hands its results over as they come: only the time
        spent inside it counts, not the caller's work between two results."""
        original = getattr(obj, method)

        def timed(*args: Any, **kwargs: Any) -> Iterator[Any]:
            parts = original(*args, **kwargs)
            try:
                while True:
                    with self._timing(label):
                        part = next(parts, _DONE)
                    if part is _DONE:
                        return
                    yield part
            finally:
                parts.close()

        setattr(obj, method, timed)

    def reset(self) -> None:
        self.seconds.clear()
        self.calls.clear()
        self._spans.clear()

    def covered(self) -> float:
        """Wall time inside any timed call: the two sides' reads run at the same time, so
        their phases overlap and must not be counted twice."""
        total, reach = 0.0, float("-inf")
        for start, end in sorted(self._spans):
            if end > reach:
                total += end - max(start, reach)
                reach = end
        return total

    def as_dict(self) -> dict[str, float]:
        return {k: round(v, 3) for k, v in sorted(self.seconds.items())}
