"""Zero items from locale (peer-failures): a regional date format must not change a query.

Qt sets the process locale from the environment when the app starts, so a Thai laptop writes
years in the Buddhist era (2569) through ``strftime`` and a Turkish one has a dotless i. Every
query Meridian builds comes from ISO formatting in UTC, never from the locale; this runs a real
sync through the sandbox under such locales to prove it. The locales are compiled here with
glibc's localedef into a temporary LOCPATH, so the machine needs no locale package installed.
"""

from __future__ import annotations

import datetime as dt
import locale
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from machine import NOW
from test_machine_sandbox import SandboxWorld

from app.core.model import Event, Recurrence, TimeSpan
from app.core.rules import PairRules, Side
from app.providers.base import Window
from app.sandbox.server import Sandbox
from app.store.db import Database
from app.store.repo import Repo
from app.sync.engine import Engine, PairSpec, SideSpec


@pytest.fixture
def regional(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[list[str]]:
    folder = tmp_path_factory.mktemp("locales")
    names = ["th_TH.UTF-8", "tr_TR.UTF-8"]
    for name in names:
        subprocess.run(
            ["localedef", "-i", name.split(".")[0], "-f", "UTF-8", str(folder / name)],
            check=True,
            capture_output=True,
        )
    monkeypatch.setenv("LOCPATH", str(folder))
    before = locale.setlocale(locale.LC_ALL)
    try:
        yield names
    finally:
        locale.setlocale(locale.LC_ALL, before)


def test_a_sync_under_thai_and_turkish_locales_finds_and_copies_everything(
    sandbox: Sandbox, tmp_path: Path, regional: list[str]
) -> None:
    SandboxWorld.sandbox = sandbox
    world = SandboxWorld(tmp_path)
    start = dt.datetime(2026, 11, 24, 15, tzinfo=dt.UTC)
    span = TimeSpan(start, start + dt.timedelta(hours=1), "Europe/Istanbul", "Europe/Istanbul")
    world.person_put(Side.A, Event(ref=None, when=span, title="Istanbul İnceleme"))
    world.person_put(
        Side.B,
        Event(
            ref=None,
            when=TimeSpan(start, start + dt.timedelta(hours=1), "Asia/Bangkok", "Asia/Bangkok"),
            title="Bangkok weekly",
            recurrence=Recurrence("FREQ=WEEKLY;COUNT=6"),
        ),
    )
    repo = Repo(Database(tmp_path / "state.db"))
    repo.add_pair("p", "p", {})
    spec = PairSpec(
        "p", "p", PairRules(), SideSpec(world.a, world.a_cal), SideSpec(world.b, world.b_cal)
    )
    for name in regional:
        locale.setlocale(locale.LC_ALL, name)
        # The locale really is in force: strftime speaks it (Thai years are Buddhist).
        assert time.strftime("%c", time.gmtime(0)) != "Thu Jan  1 00:00:00 1970"
        Engine(repo, clock=lambda: NOW).run(spec)
    window = Window(*spec.rules.window(NOW))
    for side in Side:
        read = world.person[side].read_changes(world.calendar(side), None, window)
        assert sorted(e.title for e in read.events) == ["Bangkok weekly", "Istanbul İnceleme"]
    quiet = Engine(repo, clock=lambda: NOW).run(spec)
    assert (quiet.counts["created"], quiet.counts["updated"], quiet.counts["deleted"]) == (0, 0, 0)
