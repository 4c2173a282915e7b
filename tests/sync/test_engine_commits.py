"""How the engine commits many writes: one transaction per provider batch, as the provider's
results come in, and never losing what a batch committed."""

from __future__ import annotations

from pathlib import Path

import pytest
from world import World, event, new_world

from app.core import stored
from app.core.rules import Side
from app.errors import Offline
from app.providers.base import WriteOp


@pytest.fixture
def world(tmp_path: Path) -> World:
    return new_world(tmp_path)


def _fill(world: World, n: int) -> None:
    for i in range(n):
        world.a.put("work", event(f"E{i:04d}", day=1 + i % 150, hour=6 + i % 12))


def test_writes_of_many_batches_all_commit_and_the_pair_goes_quiet(world: World) -> None:
    n = 12 * world.b.max_batch + 17  # the last batch short
    _fill(world, n)
    r = world.sync()
    assert r.status == "ok" and r.counts["created"] == n and r.counts["errors"] == 0
    _, repo = world.engine()
    assert repo.link_count("p1") == n
    assert sum(1 for a in repo.audit_rows() if a["action"] == "created") == n
    assert world.titles(Side.B) == world.titles(Side.A)
    assert r.requests["b"] == 1 + -(-n // world.b.max_batch)  # the read, then full batches
    world.quiet()


def test_an_account_error_mid_run_keeps_what_was_committed_and_the_next_run_finishes(
    world: World,
) -> None:
    n = 12 * world.b.max_batch
    _fill(world, n)
    written = 0
    cut = 6 * world.b.max_batch + 30  # inside the seventh batch

    def offline_after_cut(cal: str, op: WriteOp) -> Offline | None:
        nonlocal written
        written += 1
        return Offline("Could not reach the calendar (test).") if written > cut else None

    world.b.before_op = offline_after_cut
    with pytest.raises(Offline):
        world.sync()
    _, repo = world.engine()
    # Everything written before the failure is linked: the batches before it, and its own
    # batch up to the failing item (the batch's transaction committed what came before it).
    assert repo.link_count("p1") == cut == len(world.b.all_events("home"))
    world.b.before_op = None
    r = world.sync()
    assert r.status == "ok" and r.counts["created"] == n - cut
    assert repo.link_count("p1") == n
    assert world.titles(Side.B) == world.titles(Side.A)  # nothing twice, nothing missing
    world.quiet()


def test_a_failed_store_write_rolls_back_only_its_batch(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    per_batch = world.b.max_batch
    _fill(world, 3 * per_batch)
    engine, repo = world.engine()
    real = repo.audit
    calls = 0

    def audit(*args: object, **kw: object) -> None:
        nonlocal calls
        calls += 1
        if calls == per_batch + 5:  # in the second batch's transaction
            raise OSError("disk full (test)")
        real(*args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(repo, "audit", audit)
    with pytest.raises(OSError):
        engine.run(world.spec())
    assert repo.link_count("p1") == per_batch  # the first batch stays; the second is whole-or-none
    monkeypatch.setattr(repo, "audit", real)
    world.quiet()
    assert repo.link_count("p1") == 3 * per_batch
    assert len(world.b.all_events("home")) == 3 * per_batch


def test_a_no_op_run_decodes_no_snapshot(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    _fill(world, 40)
    world.quiet()
    decoded: list[object] = []
    real = stored.event_from_json
    monkeypatch.setattr(stored, "event_from_json", lambda d: decoded.append(d) or real(d))
    r = world.sync()
    assert not any(r.counts.values()) and decoded == []
    # An edit decodes the snapshots of its own link only (the view is compared, then written).
    first = min(world.a.all_events("work"), key=lambda e: e.title)
    world.a.put("work", first.with_changes(title="Renamed"))
    r = world.sync()
    assert r.counts["updated"] == 1 and 1 <= len(decoded) <= 2
