"""The engine reads both clouds at the same time (each waits on its own), through the sandbox."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from machine import NOW
from test_machine_sandbox import SandboxWorld
from test_series_sandbox import sync
from world import event

from app.core.rules import PairRules, Side
from app.errors import AuthRequired
from app.sandbox.server import Sandbox
from app.store.db import Database
from app.store.repo import Repo
from app.sync.engine import Engine, PairSpec, SideSpec


@pytest.fixture
def world(sandbox: Sandbox, tmp_path: Path) -> SandboxWorld:
    SandboxWorld.sandbox = sandbox
    return SandboxWorld(tmp_path)


def test_both_sides_are_read_at_the_same_time(
    world: SandboxWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.person_put(Side.A, event("Outlook's"))
    world.person_put(Side.B, event("Google's"))
    # Each read waits until the other has begun: read one after the other, this times out.
    together = threading.Barrier(2, timeout=20)
    for provider in (world.a, world.b):
        real = provider.read_changes

        def meet(*args: Any, real: Any = real) -> Any:
            together.wait()
            return real(*args)

        monkeypatch.setattr(provider, "read_changes", meet)
    sync(world, tmp_path)
    for side in Side:
        assert sorted(e.title for e in world.events(side)) == ["Google's", "Outlook's"]


def test_a_side_that_fails_to_read_stops_the_run_and_writes_nothing(
    world: SandboxWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.person_put(Side.A, event("Outlook's"))

    def signed_out(*args: Any) -> Any:
        raise AuthRequired("Sign in to Google again (test).")

    monkeypatch.setattr(world.b, "read_changes", signed_out)
    repo = Repo(Database(tmp_path / "state.db"))
    repo.add_pair("p", "p", {})
    spec = PairSpec(
        "p", "p", PairRules(), SideSpec(world.a, world.a_cal), SideSpec(world.b, world.b_cal)
    )
    with pytest.raises(AuthRequired):
        Engine(repo, clock=lambda: NOW).run(spec)
    assert world.events(Side.B) == []  # nothing copied
    assert repo.cursor("p", Side.A) is None  # Outlook's read is not taken as done: read again
