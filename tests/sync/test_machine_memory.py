"""The sync state machine on memory providers: fast enough for thousands of steps per run."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from hypothesis import settings
from machine import SyncMachine, World

from app.core.model import Event
from app.core.rules import Side
from app.errors import NotFound, ProviderError, Rejected
from app.providers.base import WriteOp
from app.providers.memory import MemoryProvider


class MemoryWorld(World):
    def __init__(self, folder: Path) -> None:
        self.a, self.b = MemoryProvider(["work"]), MemoryProvider(["home"])
        self.a_cal, self.b_cal = "work", "home"

    def _mem(self, side: Side) -> MemoryProvider:
        p = self.provider(side)
        assert isinstance(p, MemoryProvider)
        return p

    def person_put(self, side: Side, event: Event) -> Event:
        return self._mem(side).put(self.calendar(side), replace(event, etag=None))

    def person_delete(self, side: Side, event_id: str) -> None:
        self._mem(side).remove(self.calendar(side), event_id)

    def events(self, side: Side) -> list[Event]:
        return self._mem(side).all_events(self.calendar(side))

    def expire_cursors(self, side: Side) -> None:
        self._mem(side).expire_cursors(self.calendar(side))

    def inject_fault(self, side: Side, kind: int) -> None:
        mem = self._mem(side)
        left = [1]

        def once(cal: str, op: WriteOp) -> ProviderError | None:
            if not left[0]:
                return None
            left[0] = 0
            mem.before_op = None
            return Rejected("refused once") if kind == 0 else NotFound("gone for a moment")

        mem.before_op = once

    def clear_faults(self) -> None:
        for side in Side:
            self._mem(side).before_op = None


class MemorySyncMachine(SyncMachine):
    world_factory = MemoryWorld


TestMemorySync = MemorySyncMachine.TestCase
TestMemorySync.settings = settings(settings.default, stateful_step_count=40)
