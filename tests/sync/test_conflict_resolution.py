"""A conflict the person resolves reaches both calendars on the next sync (sandbox)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from machine import NOW
from test_machine_sandbox import SandboxWorld

from app.core.model import Event, TimeSpan
from app.core.rules import PairRules, Side
from app.sandbox.server import Sandbox
from app.services.sync_service import SyncService
from app.store.db import Database
from app.store.repo import Repo
from app.sync.engine import Engine, PairSpec, SideSpec


@pytest.mark.parametrize("keep", [Side.A, Side.B], ids=["keep-outlook", "keep-google"])
def test_the_persons_choice_is_written_to_both_sides(
    sandbox: Sandbox, tmp_path: Path, keep: Side
) -> None:
    SandboxWorld.sandbox = sandbox
    world = SandboxWorld(tmp_path)
    repo = Repo(Database(tmp_path / "state.db"))
    repo.add_pair("p", "p", {"rules": {}})
    spec = PairSpec(
        "p", "p", PairRules(), SideSpec(world.a, world.a_cal), SideSpec(world.b, world.b_cal)
    )

    def sync() -> None:
        r = Engine(repo, clock=lambda: NOW).run(spec)
        assert r.status == "ok", r

    import datetime as dt

    start = NOW.replace(hour=14) + dt.timedelta(days=2)
    world.person_put(
        Side.A,
        Event(
            ref=None,
            when=TimeSpan(start, start + dt.timedelta(hours=1), "UTC", "UTC"),
            title="Review",
        ),
    )
    sync()
    for side, title in ((Side.A, "Review (Outlook)"), (Side.B, "Review (Google)")):
        current = next(e for e in world.events(side) if e.title == "Review")
        world.person_put(side, replace(current, title=title))
    sync()
    conflicts = repo.conflicts("p")
    assert len(conflicts) == 1 and conflicts[0]["fields"] == ["title"]

    svc = SyncService.__new__(SyncService)  # the conflict API only needs the repository
    svc.repo, svc.policy = repo, None
    svc.rules = lambda row: PairRules()  # type: ignore[method-assign]
    svc.pair = lambda id_or_name: repo.pair(id_or_name)  # type: ignore[method-assign, assignment]
    svc.resolve_conflict(conflicts[0]["id"], keep)
    sync()
    want = "Review (Outlook)" if keep is Side.A else "Review (Google)"
    assert [e.title for e in world.events(Side.A)] == [want]
    assert [e.title for e in world.events(Side.B)] == [want]
    assert repo.conflicts("p") == []
