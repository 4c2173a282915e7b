"""A two-calendar world on memory providers, with the real engine and a real SQLite store."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.core.model import Event, TimeSpan
from app.core.rules import PairRules, Side
from app.providers.memory import MemoryProvider
from app.store.db import Database
from app.store.repo import Repo
from app.sync.engine import Engine, PairSpec, RunResult, SideSpec

NOW = dt.datetime(2026, 11, 21, 9, tzinfo=dt.UTC)


def event(title: str, day: int = 2, hour: int = 9, **kw: Any) -> Event:
    start = NOW.replace(hour=hour) + dt.timedelta(days=day)
    return Event(
        ref=None,
        when=TimeSpan(start, start + dt.timedelta(hours=1), "UTC", "UTC"),
        title=title,
        **kw,
    )


@dataclass
class World:
    a: MemoryProvider
    b: MemoryProvider
    path: Path
    rules: PairRules

    def engine(self, db_name: str = "state.db", at: dt.datetime = NOW) -> tuple[Engine, Repo]:
        repo = Repo(Database(self.path / db_name))
        if repo.pair("p1") is None:
            repo.add_pair("p1", "p1", {})
        return Engine(repo, clock=lambda: at), repo

    def spec(self, rules: PairRules | None = None) -> PairSpec:
        return PairSpec(
            "p1", "p1", rules or self.rules, SideSpec(self.a, "work"), SideSpec(self.b, "home")
        )

    def sync(self, db_name: str = "state.db", at: dt.datetime = NOW, **kw: Any) -> RunResult:
        engine, _ = self.engine(db_name, at)
        return engine.run(self.spec(kw.pop("rules", None)), **kw)

    def titles(self, side: Side) -> list[str]:
        p, cal = (self.a, "work") if side is Side.A else (self.b, "home")
        return sorted(e.title for e in p.all_events(cal))

    def quiet(self, runs: int = 2) -> None:
        """Sync until nothing moves (at most ``runs`` times) and check it then stays quiet."""
        for _ in range(runs):
            r = self.sync()
            if not any(r.counts[k] for k in ("created", "updated", "deleted")):
                return
        raise AssertionError(f"still writing after {runs} runs: {dict(r.counts)}")


def new_world(tmp_path: Path) -> World:
    return World(MemoryProvider(["work"]), MemoryProvider(["home"]), tmp_path, PairRules())
