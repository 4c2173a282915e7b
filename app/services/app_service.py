"""What the tray app talks to: accounts, pairs, runs on a schedule, conflicts, notices, settings.

A thin layer over SyncService and AccountService that adds what only a long-running app needs:
the scheduler, "tell once" notices, the overall state shown by the tray icon, the person's
settings (``settings.json`` in the profile, apart from sync state) and the policy lock hook
``locked(key)``: the managed-policy module plugs in there. Keys the UI asks about: ``interval``,
``start_at_login``, ``notify.<kind>``, ``accounts.add``, ``pairs.add``, ``pair.direction``,
``pair.privacy``, ``pair.window``, ``pair.fields``, ``pair.exclusions``, ``pair.conflict_policy``.

No Qt here. The ``on_*`` callbacks are called on the scheduler's worker threads; the UI connects
them to its signal bridge, which carries them to the GUI thread.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from app.auth.common import Opener
from app.auth.vault import Vault
from app.core.rules import PairRules, Side
from app.errors import UsageError
from app.paths import Profile
from app.providers.base import Calendar
from app.services.accounts import Account, AccountService, AuthConfig
from app.services.autostart import Autostart, default_command
from app.services.overlap_service import OverlapActions, OverlapEvent, OverlapView
from app.services.scheduler import SyncScheduler
from app.services.sync_service import CALENDAR_GONE, Endpoints, SyncService
from app.store.db import Database
from app.store.repo import PairRow, Repo
from app.sync.engine import RunResult

log = logging.getLogger(__name__)

__all__ = [
    "NOTICE_KINDS",
    "Account",
    "AppService",
    "Calendar",
    "Notice",
    "OverlapEvent",
    "OverlapView",
    "PairRow",
    "Settings",
    "TrayState",
    "build",
    "overall_state",
]

NOTICE_KINDS: dict[str, str] = {
    "conflicts": "New conflicts waiting for you",
    "overlaps": "Meetings at the same time in both calendars",
    "sign-in": "An account needs you to sign in again",
    "held": "A pair is held by the deletion guard",
    "failing": "Sync has been failing for over an hour",
}
FAILING_AFTER = dt.timedelta(hours=1)
OFF_REASON = "turned off"  # a pause the person chose: never lifted by anything else
SETUP_REASON = "being set up"
_FAILED = frozenset({"offline", "error", "failed"})


class TrayState(StrEnum):
    IDLE = "idle"
    SYNCING = "syncing"
    PAUSED = "paused"
    ATTENTION = "attention"
    ERROR = "error"
    OFFLINE = "offline"


@dataclass(frozen=True)
class Notice:
    kind: str
    title: str
    message: str
    pair_id: str | None = None


@dataclass
class Settings:
    start_at_login: bool = False
    setup_done: bool = False
    interval_minutes: int = 5
    notify: dict[str, bool] = field(default_factory=lambda: dict.fromkeys(NOTICE_KINDS, True))

    @classmethod
    def load(cls, path: Path) -> Settings:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError):
            log.warning("settings file %s unreadable: using defaults", path)
            return cls()
        s = cls(
            start_at_login=bool(data.get("start_at_login")), setup_done=bool(data.get("setup_done"))
        )
        if isinstance(data.get("interval_minutes"), int):
            s.interval_minutes = data["interval_minutes"]
        s.notify.update(
            {k: bool(v) for k, v in dict(data.get("notify") or {}).items() if k in s.notify}
        )
        return s

    def save(self, path: Path) -> None:
        # Write then rename: a crash mid-write never leaves a half file.
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2, sort_keys=True), encoding="utf-8")
        os.replace(tmp, path)


def overall_state(pairs: list[dict[str, Any]], *, syncing: bool, paused: bool) -> TrayState:
    """The one state the tray shows: what most needs the person, then what is going on."""
    if syncing:
        return TrayState.SYNCING
    if any(
        p["conflicts"] or p["held"] or p["needs_sign_in"] or p.get("overlaps") or p.get("problem")
        for p in pairs
    ):
        return TrayState.ATTENTION
    active = [p for p in pairs if not p["paused"]]
    if paused or (pairs and not active):
        return TrayState.PAUSED
    states = {p["last_status"] for p in active}
    if states & {"error", "failed"}:
        return TrayState.ERROR
    if "offline" in states:
        return TrayState.OFFLINE
    return TrayState.IDLE


def _nop(*_args: Any) -> None:
    pass


class AppService(OverlapActions):
    def __init__(
        self,
        sync: SyncService,
        settings_path: Path,
        *,
        autostart: Autostart | None = None,
        locked: Callable[[str], str | None] | None = None,
        clock: Callable[[], dt.datetime] | None = None,
        demo: bool = False,
    ) -> None:
        self.sync = sync
        self.repo = sync.repo
        self.accounts_svc = sync.accounts
        self.settings_path = settings_path
        self.settings = Settings.load(settings_path)
        self.autostart = autostart
        self._locked = locked or (
            policy_lock(sync.policy) if sync.policy is not None else (lambda key: None)
        )
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self.demo = demo
        # Set by the UI (its bridge's emit); called on worker threads.
        self.on_run_started: Callable[[str], None] = _nop
        self.on_run_finished: Callable[[dict[str, Any]], None] = _nop
        self.on_changed: Callable[[], None] = _nop
        self.on_notice: Callable[[Notice], None] = _nop
        # Providers are not shared across threads: one run, preview or listing at a time.
        self._io = threading.RLock()
        self._last: dict[str, dict[str, Any]] = {}
        self._failing_since: dict[str, dt.datetime] = {}
        self._told: set[str] = set()
        self._snoozed: dict[int, dt.datetime] = {}
        self._snoozed_overlaps: dict[int, dt.datetime] = {}
        self.scheduler = SyncScheduler(
            self._run,
            interval=dt.timedelta(minutes=self.settings.interval_minutes),
            on_started=lambda pid: self.on_run_started(pid),
            on_finished=self._finished,
            on_changed=lambda: self.on_changed(),
        )
        self.last_sync: dt.datetime | None = None

    # --- life cycle ----------------------------------------------------------------------------

    def start(self) -> None:
        self.scheduler.start()
        self.scheduler.set_pairs(self._scheduled_ids(), first_run_now=True)

    def stop(self) -> None:
        self.scheduler.shutdown(wait=False)

    def close(self) -> None:
        """Stop and release the database (tests; the app process just exits)."""
        self.scheduler.shutdown(wait=True)
        self.repo.db.close()

    def _scheduled_ids(self) -> list[str]:
        return [p.id for p in self.sync.pairs() if p.paused_reason != SETUP_REASON]

    def _reschedule(self, *, now: bool = False) -> None:
        self.scheduler.set_pairs(self._scheduled_ids(), first_run_now=now)
        self.on_changed()

    # --- policy ---------------------------------------------------------------------------------

    def health_summary(self, days: int = 7) -> str:
        """One line for the main window: how syncing went lately (the same figures IT gets)."""
        from app.services.metrics import compute

        since = (self.clock() - dt.timedelta(days=days)).isoformat(timespec="seconds")
        m = compute(self.repo.db.conn, since=since).overall
        lat = m.latency
        latency = (
            f"changes arrived in {lat.median_s:.0f} s (median), {lat.p95_s:.0f} s (95%)"
            if lat.median_s is not None and lat.p95_s is not None
            else "no changes copied yet"
        )
        by_person = f"{m.conflicts_by_person} by you"
        return (
            f"Last {days} days: {m.runs} syncs, {m.failures} failed; {latency}; conflicts: "
            f"{m.conflicts_merged} merged, {m.conflicts_by_policy} by rule, {by_person}, "
            f"{m.conflicts_open} waiting; overlaps: {m.overlaps_found} found, "
            f"{m.overlaps_acted} handled."
        )

    def housekeeping(self, now: dt.datetime | None = None) -> None:
        """At most hourly, after runs: the daily health summary where IT's policy asks for it,
        and the audit log's retention. Failures are logged, never raised into a sync."""
        now = now or self.clock()
        last = getattr(self, "_housekept", None)
        if last is not None and now - last < dt.timedelta(hours=1):
            return
        self._housekept = now
        from app.services.diagnostics import prune_audit
        from app.services.metrics import publish_daily

        policy = self.sync.policy
        try:
            if policy is not None:
                publish_daily(self.repo, policy, now)
            days = int(policy.value("audit_retention_days")) if policy is not None else 365
            prune_audit(self.repo, days, now)
        except Exception:
            log.exception("housekeeping failed")

    def export_diagnostics(self) -> Path:
        """A diagnostic bundle for support (no secrets, titles hashed); returns the zip."""
        from app.paths import Profile
        from app.services.diagnostics import export_bundle

        return export_bundle(Profile(self.settings_path.parent), self.repo, self.sync.policy)

    def locked(self, key: str) -> str | None:
        """Why a setting is set by the organization (None: the person may change it)."""
        return self._locked(key)

    # --- accounts -------------------------------------------------------------------------------

    def accounts(self) -> list[Account]:
        return self.accounts_svc.accounts()

    def add_account(self, provider: str, cancel: threading.Event | None = None) -> Account:
        """Blocking sign-in (browser or sandbox): call from a worker thread."""
        account = self.accounts_svc.add(provider, cancel=cancel)
        self.on_changed()
        return account

    def reconnect(self, account_id: str, cancel: threading.Event | None = None) -> Account:
        account = self.accounts_svc.reauthenticate(account_id, cancel=cancel)
        self._reschedule()
        # Its pairs were resumed by the sign-in: catch up on what they missed at once.
        for pair in self.accounts_svc.pairs_using(account_id):
            self.scheduler.sync_now(pair.id)
        return account

    def sign_out(self, account_id: str) -> None:
        self.accounts_svc.remove(account_id)
        self.on_changed()

    def calendars(self, account_id: str) -> list[Calendar]:
        with self._io:
            return self.sync.calendars(account_id)

    # --- pairs --------------------------------------------------------------------------------

    def pairs(self) -> list[PairRow]:
        return [p for p in self.sync.pairs() if p.paused_reason != SETUP_REASON]

    def rules(self, pair_id: str) -> PairRules:
        return self.sync.rules(self.sync.pair(pair_id))

    def add_pair(
        self, a_account: str, a_cal: str, b_account: str, b_cal: str, rules: PairRules, **kw: Any
    ) -> PairRow:
        """A new pair, scheduled at once; ``draft=True`` keeps it aside for a preview."""
        draft = bool(kw.get("draft"))
        with self._io:
            name = kw.get("name") or self._free_name(
                self._cal_name(a_account, a_cal), self._cal_name(b_account, b_cal)
            )
            row = self.sync.add_pair(name, a_account, a_cal, b_account, b_cal, rules)
        if draft:
            self.repo.set_paused(row.id, SETUP_REASON)
        else:
            self._reschedule(now=True)
        return self.sync.pair(row.id)

    def _free_name(self, a_cal: str, b_cal: str) -> str:
        base = " \u2194 ".join(c if len(c) <= 30 else c[:29] + "\u2026" for c in (a_cal, b_cal))
        taken = {p.name for p in self.sync.pairs()}
        name, n = base, 2
        while name in taken:
            name, n = f"{base} ({n})", n + 1
        return name

    def _cal_name(self, account_id: str, wanted: str) -> str:
        for c in self.sync.calendars(account_id):
            if wanted in (c.id, c.name) or (wanted in ("", "primary") and c.primary):
                return c.name
        return wanted  # add_pair explains what is wrong

    def preview(self, pair_id: str) -> RunResult:
        """A dry run (writes nothing), also of a draft pair."""
        row = replace(self.sync.pair(pair_id), paused_reason=None)
        with self._io:
            return self.sync.run_pair(row, dry_run=True)

    def start_pair(self, pair_id: str) -> None:
        """A draft becomes a real pair and syncs now."""
        self.repo.set_paused(pair_id, None)
        self.repo.audit("person", "pair started", pair_id=pair_id)
        self._reschedule(now=True)

    def change_calendars(self, pair_id: str, a_calendar: str, b_calendar: str) -> PairRow:
        """Other calendars of the same accounts (blocking: both clouds are asked); syncs now."""
        with self._io:
            row = self.sync.set_calendars(pair_id, a_calendar, b_calendar)
        self._last.pop(pair_id, None)
        self.scheduler.sync_now(pair_id)
        self.on_changed()
        return row

    def update_pair(self, pair_id: str, rules: PairRules) -> None:
        self.sync.set_rules(pair_id, rules)
        self.on_changed()

    def set_pair_on(self, pair_id: str, on: bool) -> None:
        row = self.sync.pair(pair_id)
        if on and row.paused_reason == OFF_REASON:
            self.repo.set_paused(pair_id, None)
            self.scheduler.sync_now(pair_id)
        elif not on and row.paused_reason is None:
            self.repo.set_paused(pair_id, OFF_REASON)
        self.repo.audit("person", "pair turned " + ("on" if on else "off"), pair_id=pair_id)
        self.on_changed()

    def remove_pair(self, pair_id: str) -> None:
        self.sync.remove_pair(pair_id)
        self._last.pop(pair_id, None)
        self._reschedule()

    # --- running ------------------------------------------------------------------------------

    def sync_now(self, pair_id: str | None = None) -> None:
        self.scheduler.sync_now(pair_id)

    def pause(self, hours: float | None) -> None:
        until = self.clock() + dt.timedelta(hours=hours) if hours else None
        self.scheduler.pause(until)

    def resume(self) -> None:
        self.scheduler.resume()

    def _run(self, pair_id: str) -> RunResult | None:
        row = self.repo.pair(pair_id)
        if row is None:
            return None
        with self._io:
            return self.sync.run_pair(row)

    def _finished(self, pair_id: str, result: RunResult | None) -> None:
        if result is None:
            return
        self.housekeeping()
        now = self.clock()
        row = self.repo.pair(pair_id)
        info = {**result.as_dict(), "name": row.name if row else pair_id, "at": now.isoformat()}
        self._last[pair_id] = info
        if result.status not in ("paused",):
            self.last_sync = now
        # Notices first: whoever hears "finished" finds them delivered.
        for notice in self.collect_notices(result):
            self.on_notice(notice)
        self.on_run_finished(info)

    # --- notices ------------------------------------------------------------------------------

    def collect_notices(self, result: RunResult) -> list[Notice]:
        """What to tell after a run: each thing once, only kinds the person wants; no routine."""
        out: list[Notice] = []
        for acct in self.accounts_svc.take_notices():  # the database remembers who was told
            out.append(
                Notice(
                    "sign-in",
                    "Sign in again",
                    f"{acct.label} needs you to sign in again. Its pairs wait until you do.",
                )
            )
        new = [c for c in self.sync.conflicts() if f"c{c['id']}" not in self._told]
        if new:
            self._told.update(f"c{c['id']}" for c in new)
            n = len(new)
            out.append(
                Notice(
                    "conflicts",
                    f"{n} conflict{'s' if n > 1 else ''} to look at",
                    "An event was changed in both Outlook and Google: choose the version to keep.",
                )
            )
        n = self.new_overlaps()
        if n:
            out.append(
                Notice(
                    "overlaps",
                    f"{n} meeting{'s' if n > 1 else ''} at the same time as another",
                    "Outlook and Google have meetings at the same time: keep both or decline one.",
                )
            )
        pid = result.pair_id
        if result.status == "held":
            hold = self.repo.open_hold(pid)
            key = f"h{hold['id']}" if hold else f"h{pid}"
            if key not in self._told:
                self._told.add(key)
                out.append(Notice("held", "Sync held: nothing was deleted", result.message, pid))
        if result.status in _FAILED:
            since = self._failing_since.setdefault(pid, self.clock())
            if self.clock() - since >= FAILING_AFTER and f"f{pid}" not in self._told:
                self._told.add(f"f{pid}")
                out.append(
                    Notice(
                        "failing",
                        "Sync is not working",
                        f"It has failed for over an hour: {result.message}",
                        pid,
                    )
                )
        else:
            self._failing_since.pop(pid, None)
            self._told.discard(f"f{pid}")
        return [n for n in out if self.settings.notify.get(n.kind, True)]

    # --- conflicts and holds --------------------------------------------------------------------

    def conflicts(self) -> list[dict[str, Any]]:
        """Open conflicts, without the snoozed ones, oldest first."""
        now = self.clock()
        return [c for c in self.sync.conflicts() if self._snoozed.get(c["id"], now) <= now]

    def conflict_open(self, conflict_id: int) -> bool:
        return any(c["id"] == conflict_id for c in self.sync.conflicts())

    def snooze(self, conflict_id: int, minutes: int = 60) -> None:
        self._snoozed[conflict_id] = self.clock() + dt.timedelta(minutes=minutes)

    def resolve_conflict(
        self, conflict_id: int, keep: Side | dict[str, Side], *, remember: bool = False
    ) -> None:
        """Apply the person's choice; with ``remember`` the pair's other open conflicts too."""
        found = [c for c in self.sync.conflicts() if c["id"] == conflict_id]
        if not found:
            raise UsageError("This conflict was already resolved.")
        pair_id = found[0]["pair_id"]
        with self._io:
            self.sync.resolve_conflict(conflict_id, keep, remember=remember)
            if remember and isinstance(keep, Side):
                # "Always do this" answers the ones already waiting as well: never ask again.
                for other in self.sync.conflicts():
                    if other["pair_id"] == pair_id:
                        self.sync.resolve_conflict(other["id"], keep)
        self.sync_now(pair_id)
        self.on_changed()

    def decide_hold(self, pair_id: str, approve: bool) -> None:
        self.sync.decide_hold(pair_id, approve)
        self.sync_now(pair_id)
        self.on_changed()

    # --- what the windows show ------------------------------------------------------------------

    def pair_views(self) -> list[dict[str, Any]]:
        status = self.sync.status()
        bad = {a["id"] for a in status["accounts"] if a["status"] != "ok"}
        waiting = [str(o["pair_id"]) for o in self.overlaps()]
        problems = {i.pair_id: i.message for i in self.repo.issues(kind=CALENDAR_GONE)}
        out = []
        for p in status["pairs"]:
            if p["paused"] and SETUP_REASON in p["paused"]:
                continue
            row = self.sync.pair(p["id"])
            last = self._last.get(p["id"])
            run = p["last_run"] or {}
            out.append(
                {
                    **p,
                    "a_calendar": row.config.get("a", {}).get("calendar_name", ""),
                    "b_calendar": row.config.get("b", {}).get("calendar_name", ""),
                    "a_account": row.config.get("a", {}).get("account", ""),
                    "b_account": row.config.get("b", {}).get("account", ""),
                    "needs_sign_in": bool(
                        {row.config.get(s, {}).get("account") for s in "ab"} & bad
                    ),
                    "last_status": last["status"] if last else run.get("status"),
                    "last_message": last["message"] if last else (run.get("error") or ""),
                    "last_counts": run.get("counts", {}),
                    "last_sync": run.get("finished_at"),
                    "next_run": self.scheduler.next_run(p["id"]),
                    "off": row.paused_reason == OFF_REASON,
                    "overlaps": waiting.count(p["id"]),
                    # A calendar the pair needs is gone: the person has to choose another.
                    "problem": problems.get(p["id"]),
                    "issues": p["issues"] - (p["id"] in problems),
                }
            )
        return out

    def last_synced(self) -> dt.datetime | str | None:
        """When a pair last synced: this session's runs, else the newest run on record."""
        if self.last_sync is not None:
            return self.last_sync
        runs = self.repo.runs(limit=1)
        return runs[0]["finished_at"] if runs else None

    def state(self) -> TrayState:
        return overall_state(
            self.pair_views(), syncing=self.scheduler.is_running(), paused=self.scheduler.paused
        )

    def activity(self, limit: int = 200) -> list[dict[str, Any]]:
        """Recent audit rows, newest first (the last week)."""
        since = (self.clock() - dt.timedelta(days=7)).isoformat(timespec="seconds")
        rows = list(self.repo.audit_rows(since))
        return rows[::-1][:limit]

    # --- settings -------------------------------------------------------------------------------

    def save_settings(self) -> None:
        self.settings.save(self.settings_path)

    def set_interval(self, minutes: int) -> None:
        self.settings.interval_minutes = minutes
        self.scheduler.set_interval(dt.timedelta(minutes=minutes))
        self.save_settings()

    def set_notify(self, kind: str, on: bool) -> None:
        self.settings.notify[kind] = on
        self.save_settings()

    def set_start_at_login(self, on: bool, command: list[str] | None = None) -> None:
        if self.autostart is not None:
            if on:
                self.autostart.enable(command or default_command())
            else:
                self.autostart.disable()
        self.settings.start_at_login = on
        self.save_settings()

    def finish_setup(self) -> None:
        self.settings.setup_done = True
        self.save_settings()


def build(
    profile: Profile,
    vault: Vault,
    auth: AuthConfig,
    endpoints: Endpoints,
    *,
    opener: Opener | None = None,
    autostart: Autostart | None = None,
    demo: bool = False,
) -> AppService:
    """Wire the services for one profile (the CLI's launch and the tests use this)."""
    profile.ensure()
    repo = Repo(Database(profile.database))
    kwargs: dict[str, Any] = {"opener": opener} if opener else {}
    accounts = AccountService(repo, vault, auth, **kwargs)
    return AppService(
        SyncService(repo, accounts, endpoints), profile.settings, autostart=autostart, demo=demo
    )


# The UI's setting names -> the policy keys that decide them (app/policy/schema.py).
_POLICY_KEYS: dict[str, tuple[str, ...]] = {
    "interval": ("sync_interval_minutes",),
    "pair.direction": ("direction", "directions_allowed"),
    "pair.privacy": ("privacy_mode",),
    "pair.window": ("window_past_days", "window_future_days"),
    "pair.conflict_policy": ("conflict_policy",),
    "pair.fields": ("fields_outlook_to_google", "fields_google_to_outlook"),
}


def policy_lock(policy: Any) -> Callable[[str], str | None]:
    """``locked(key)`` for the UI from the effective policy: why a setting is not the person's."""

    def locked(key: str) -> str | None:
        if key.startswith("notify."):
            names: tuple[str, ...] = ("notifications",)
        else:
            names = _POLICY_KEYS.get(key, ())
        for name in names:
            try:
                is_locked = policy.locked(name)
            except KeyError:
                continue
            restricted = name.endswith("_allowed") or name.startswith("fields_")
            if is_locked or (restricted and policy.value(name) is not None):
                return "Set by your organization"
        return None

    return locked
