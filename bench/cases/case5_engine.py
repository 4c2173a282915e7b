"""Case 5: the engine alone (memory providers, real SQLite store, no network): CPU per linked
event of a no-op sync, at two calendar sizes, to show how the cost grows.

A no-op sync is ``Engine.run`` after everything is linked and nothing changed: load the links,
read both sides (nothing new), plan (nothing to do), record the run. It is split into loading
the links (``Repo.links``) and planning (``planner.plan``), each timed on its own as well."""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from app.core.model import Event, Recurrence, TimeSpan
from app.core.planner import Context, SideRead, plan
from app.core.rules import PairRules
from app.providers.memory import MemoryProvider
from app.store.db import Database
from app.store.repo import Repo
from app.sync.engine import Engine, PairSpec, SideSpec
from bench.cases.base import Config, Row
from bench.measure import proc_memory_mb

TITLE = "Engine only: no-op sync CPU per linked event"
REPEAT = 3  # CPU figures are the best of REPEAT runs (noise only ever adds)
TARGET_US = 20.0


def parts(cfg: Config, selected: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    return [{"n": n} for n in cfg.case5_sizes]


def _events(n: int, share: float, now: dt.datetime) -> list[Event]:
    out = []
    n_series = round(n * share)
    for i in range(n):
        start = now.replace(minute=0, second=0, microsecond=0) + dt.timedelta(
            days=-25 + (i * 13) % 200, hours=i % 9
        )
        out.append(
            Event(
                ref=None,
                when=TimeSpan(start, start + dt.timedelta(minutes=30), "UTC", "UTC"),
                title=f"Meeting {i}",
                description=f"Event {i}, seeded by bench.",
                location=f"Room {i % 40}",
                recurrence=Recurrence("FREQ=WEEKLY;COUNT=10") if i < n_series else None,
            )
        )
    return out


def _cpu(fn: Any) -> tuple[float, Any]:
    t = time.process_time()
    value = fn()
    return time.process_time() - t, value


def run(info: Any, cfg: Config, part: dict[str, Any]) -> dict[str, Any]:
    n = int(part["n"])
    now = dt.datetime.now(dt.UTC)
    a, b = MemoryProvider(["work"]), MemoryProvider(["home"])
    for e in _events(n, cfg.recurring_share, now):
        a.put("work", e)
    folder = Path(tempfile.mkdtemp(prefix="meridian-bench-engine-"))
    try:
        repo = Repo(Database(folder / "state.db"))
        repo.add_pair("p", "p", {})
        engine = Engine(repo, clock=lambda: now)
        spec = PairSpec("p", "p", PairRules(), SideSpec(a, "work"), SideSpec(b, "home"))
        t = time.perf_counter()
        with repo.db.tx():  # set-up only: one transaction instead of one per item
            first = engine.run(spec)
        setup_s = time.perf_counter() - t
        linked = repo.link_count("p")

        runs = []
        for _ in range(REPEAT):
            cpu, result = _cpu(lambda: engine.run(spec))
            assert not any(result.counts.values()), result.counts
            runs.append(cpu)
        loads = []
        plans = []
        for _ in range(REPEAT):
            cpu, links = _cpu(lambda: repo.links("p"))
            loads.append(cpu)
            ctx = Context(
                spec.rules, SideRead("work", {}), SideRead("home", {}), spec.rules.window(now)
            )
            cpu, the_plan = _cpu(lambda: plan(ctx, links))  # noqa: B023
            assert not the_plan.actions
            plans.append(cpu)
        memory = proc_memory_mb()
        repo.db.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    per = 1e6 / max(linked, 1)
    return {
        "n": n,
        "linked": linked,
        "setup": {"wall_s": round(setup_s, 2), "counts": dict(first.counts)},
        "noop_cpu_s": min(runs),
        "load_links_cpu_s": min(loads),
        "plan_cpu_s": min(plans),
        "us_per_link": {
            "noop_sync": round(min(runs) * per, 1),
            "load_links": round(min(loads) * per, 1),
            "plan": round(min(plans) * per, 1),
        },
        "memory_mb": memory,
    }


def rows(
    cfg: Config, results: list[dict[str, Any]], everything: dict[str, list[dict[str, Any]]]
) -> list[Row]:
    out: list[Row] = []
    for r in results:
        us = r["us_per_link"]
        label = f"{r['linked']:,} linked"
        out += [
            Row(
                "5",
                f"{label}: no-op sync (Engine.run), CPU per linked event",
                us["noop_sync"],
                "us",
                target=f"< {TARGET_US:.0f} us",
                met=us["noop_sync"] < TARGET_US,
                note=f"loading links {us['load_links']} us, planning {us['plan']} us; "
                f"total {r['noop_cpu_s']:.2f} s",
            ),
            Row(
                "5",
                f"{label}: planning only (planner.plan), CPU per linked event",
                us["plan"],
                "us",
                target=f"< {TARGET_US:.0f} us",
                met=us["plan"] < TARGET_US,
            ),
        ]
    if len(results) >= 2:
        small, large = results[0], results[-1]
        growth = large["us_per_link"]["noop_sync"] / max(small["us_per_link"]["noop_sync"], 1e-9)
        out.append(
            Row(
                "5",
                f"growth of the per-event cost, {small['linked']:,} -> {large['linked']:,}",
                round(growth, 2),
                "x",
                target="linear or better (<= ~1.2x)",
                met=growth <= 1.2,
                note=f"planning alone: "
                f"{large['us_per_link']['plan'] / max(small['us_per_link']['plan'], 1e-9):.2f}x",
            )
        )
    return out
