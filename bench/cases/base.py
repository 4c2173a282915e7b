"""What every case shares: the settings, the table row, and request counting from the sandbox's
exact request log (every HTTP request it answered; batch items are logged as ``batched``)."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from app.sandbox.admin import SandboxAdmin
from app.sync.engine import RunResult
from bench.bounds import ratio
from bench.clients import Meridian
from bench.measure import Span


@dataclass
class Config:
    latency_ms: int = 30
    quick: bool = False
    recurring_share: float = 0.1
    case1_sizes: tuple[int, ...] = (1000, 5000)
    case2_pairs: int = 5
    case2_events_per_pair: int = 1000  # 5 pairs x 1,000 = 5,000 linked events
    case3_events: int = 1000
    case4_events: int = 1000
    case4_edits: int = 200  # half on each side; a fifth of them on events edited on both
    case5_sizes: tuple[int, ...] = (10_000, 50_000)
    case6_pairs: int = 5
    case6_events_per_pair: int = 100
    case6_idle_s: float = 10.0
    case6_launch_timeout_s: float = 60.0
    case7_events: int = 1000
    case7_quota: int = 100  # requests per user ...
    case7_quota_s: float = 2.0  # ... per this many seconds (sliding window)

    @classmethod
    def make(cls, latency_ms: int, quick: bool) -> Config:
        if not quick:
            return cls(latency_ms=latency_ms)
        return cls(
            latency_ms=latency_ms,
            quick=True,
            case1_sizes=(100,),
            case2_events_per_pair=20,
            case3_events=50,
            case4_events=100,
            case4_edits=20,
            case5_sizes=(500, 2000),
            case6_pairs=2,
            case6_events_per_pair=5,
            case6_idle_s=1.5,
            case6_launch_timeout_s=20.0,
            case7_events=100,
            case7_quota=40,
            case7_quota_s=1.0,
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Config:
        d = dict(d)
        for k in ("case1_sizes", "case5_sizes"):
            d[k] = tuple(d[k])
        return cls(**d)


@dataclass
class Row:
    """One line of the table: a figure, the bound it is compared with, and the target."""

    case: str
    what: str
    figure: float | int | str | None
    unit: str = ""
    bound: float | int | None = None
    target: str = ""  # e.g. "<= 1.1x bound", "< 20 us"
    met: bool | None = None  # None: no target for this line
    note: str = ""
    ratio: float | None = field(default=None)

    def __post_init__(self) -> None:
        if self.ratio is None and isinstance(self.figure, int | float) and self.bound:
            self.ratio = ratio(float(self.figure), float(self.bound))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def within(figure: float | None, bound: float | None, factor: float) -> bool | None:
    if figure is None or bound is None:
        return None
    return figure <= bound * factor + 1e-9


# --- the sandbox's request log ------------------------------------------------------------------

SIDE_OF_SERVICE = {"graph": "outlook", "google": "google"}


def log_mark(admin: SandboxAdmin) -> int:
    return int(admin.requests(since=10**12)["last"])


def requests_since(admin: SandboxAdmin, since: int, *, entries: bool = False) -> dict[str, Any]:
    """HTTP requests per side (a batch is one), batch items per side, 429s per side."""
    log = admin.requests(since)
    http: Counter[str] = Counter()
    items: Counter[str] = Counter()
    throttled: Counter[str] = Counter()
    for e in log["entries"]:
        side = SIDE_OF_SERVICE.get(e["service"])
        if side is None:
            continue  # sign-in services
        (items if e["batched"] else http)[side] += 1
        if e["status"] == 429:
            throttled[side] += 1
    out: dict[str, Any] = {
        "outlook": http["outlook"],
        "google": http["google"],
        "total": http["outlook"] + http["google"],
        "outlook_items": items["outlook"],
        "google_items": items["google"],
        "throttled": {"outlook": throttled["outlook"], "google": throttled["google"]},
        "by_endpoint": log["counts"],
    }
    if entries:
        out["entries"] = log["entries"]
    return out


def summary(results: list[RunResult]) -> dict[str, Any]:
    counts: Counter[str] = Counter()
    for r in results:
        counts.update(r.counts)
    return {
        "status": sorted({r.status for r in results}),
        "messages": [r.message for r in results if r.message],
        "counts": dict(counts),
        "provider_requests": {
            "outlook": sum(r.requests.get("a", 0) for r in results),
            "google": sum(r.requests.get("b", 0) for r in results),
        },
    }


def timed_run(m: Meridian, pair: str | None = None, *, entries: bool = False) -> dict[str, Any]:
    """One `sync now` (SyncService.run) of one pair or all, measured: wall, CPU, requests."""
    admin = m.info.admin()
    since = log_mark(admin)
    m.phases.reset()
    with Span(m.info.cpu_seconds) as span:
        results = m.service.run(pair)
    phases = m.phases.as_dict()
    # Planning, commits, set-up: the wall time outside every provider call.
    phases["rest"] = round(span.wall - m.phases.covered(), 3)
    return {
        **span.as_dict(),
        **summary(results),
        "phases_s": phases,
        "requests": requests_since(admin, since, entries=entries),
    }


def settle(m: Meridian, pair: str | None = None, runs: int = 4) -> list[dict[str, Any]]:
    """Poll until a run writes nothing (the echo of our own writes has been read back)."""
    out = []
    for _ in range(runs):
        r = timed_run(m, pair)
        out.append(r)
        c = r["counts"]
        if not any(c.get(k) for k in ("created", "updated", "deleted")) and r["requests"][
            "total"
        ] <= 2 * len(m.service.pairs() if pair is None else [pair]):
            break
    return out
