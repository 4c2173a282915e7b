"""Links lost to a crash between a write and its commit, recovered through the sandbox's real APIs.

Found by the thorough state machine (tests/sync/test_machine_sandbox.py) and kept here as the
steps it took: a sync carried an edit from a Google copy to its Outlook original and crashed
before its commit; the copy was edited again; the next sync took the original's value for an
edit made in Outlook (Graph's delta leaves out the fingerprint that says otherwise), and the
person's newer edit was lost.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from test_machine_sandbox import SandboxSyncMachine, SandboxWorld

from app.core.rules import Side
from app.sandbox.server import Sandbox


class Draws:
    """What the machine's rules would draw, given in order."""

    def __init__(self, *values: Any) -> None:
        self.values = list(values)

    def draw(self, strategy: Any) -> Any:
        return self.values.pop(0)


@pytest.fixture
def machine(sandbox: Sandbox) -> Iterator[SandboxSyncMachine]:
    SandboxWorld.sandbox = sandbox
    m = SandboxSyncMachine()
    yield m
    m.teardown()


@pytest.mark.parametrize("second_device", [False, True])
def test_an_edit_carried_by_a_crashed_sync_then_edited_again_is_kept(
    machine: SandboxSyncMachine, second_device: bool
) -> None:
    m = machine
    m.create(day=1, hour=7, side=Side.A)
    m.create(day=1, hour=7, side=Side.A)
    m.crash_during_next_sync()  # both copied to Google; no link committed
    m.edit(data=Draws("E2", 0), side=Side.B, what="location")
    m.crash_during_next_sync()  # the Google edit reaches Outlook; again no link committed
    if second_device:
        m.switch_device()
    m.edit(data=Draws("E2", 1), side=Side.B, what="location")
    m.quiet_sync_agrees()  # on both devices: "location-b-1" everywhere
    assert m._find(Side.A, "E2").location == "location-b-1"  # type: ignore[union-attr]
