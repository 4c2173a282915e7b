"""The one facade the CLI and the tray app use: pairs, runs, status, conflicts, holds.

Errors are sorted here, at one boundary (as Maestral does): a sign-in problem marks the account
and pauses its pairs, connectivity and throttling are "try later", a broken pair setting is a
visible problem of that pair; nothing else in the run is affected.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from app.core.model import Event
from app.core.planner import Link
from app.core.rules import ConflictPolicy, PairRules, Side, rules_from_dict, rules_to_dict
from app.core.serialize import event_from_json
from app.errors import (
    AuthRequired,
    ConfigError,
    MeridianError,
    NotFound,
    Offline,
    PolicyForbidden,
    ServiceUnavailable,
    UsageError,
)
from app.policy import EffectivePolicy
from app.policy.clamp import PairContext
from app.providers.base import Calendar, CalendarProvider
from app.services.accounts import Account, AccountService
from app.store.repo import PairRow, Repo
from app.sync.engine import RETRY, Engine, PairSpec, RunResult, SideSpec
from app.sync.occurrences import NOTICE, SERIES_PROBLEM

log = logging.getLogger(__name__)

SIDE_PROVIDER = {Side.A: "microsoft", Side.B: "google"}
CALENDAR_GONE = "calendar"  # the issue kind of a pair whose calendar no longer exists
# Issues that are not failures: a marker to read again, and notes on what was copied inexactly.
_NOTES = frozenset({"loss", NOTICE, SERIES_PROBLEM})
_NOT_FAILURES = _NOTES | {RETRY}


@dataclass(frozen=True)
class Endpoints:
    """Where the two clouds are (the real ones, or a sandbox) and which CA to trust."""

    google_api: str = "https://www.googleapis.com/calendar/v3/"
    google_batch: str = "https://www.googleapis.com/batch/calendar/v3"
    graph: str = "https://graph.microsoft.com/v1.0"
    ca_cert: str | None = None

    @classmethod
    def sandbox(cls, urls: Any, ca_cert: str) -> Endpoints:
        return cls(urls.google_api, urls.google_batch, urls.graph, str(ca_cert))


ProviderFactory = Callable[[Account], CalendarProvider]


class SyncService:
    def __init__(
        self,
        repo: Repo,
        accounts: AccountService,
        endpoints: Endpoints | None = None,
        *,
        clock: Callable[[], dt.datetime] | None = None,
        provider_factory: ProviderFactory | None = None,
        policy: EffectivePolicy | None = None,
    ) -> None:
        self.repo = repo
        self.policy = policy
        self.accounts = accounts
        self.endpoints = endpoints or Endpoints()
        self.clock = clock
        self._factory = provider_factory or self._make_provider
        # Per account: the sign-in generation it was made for, and the provider.
        self._providers: dict[str, tuple[int, CalendarProvider]] = {}

    # --- providers -------------------------------------------------------------------------

    def _make_provider(self, account: Account) -> CalendarProvider:
        from app.auth.google_oauth import SourceCredentials
        from app.providers.google import GoogleProvider
        from app.providers.microsoft import MicrosoftProvider

        source = self.accounts.token_source(account.id)
        e = self.endpoints
        if account.provider == "google":
            return GoogleProvider(
                SourceCredentials(source),
                api_endpoint=e.google_api,
                batch_uri=e.google_batch,
                ca_cert=e.ca_cert,
            )
        return MicrosoftProvider(
            e.graph,
            lambda force: source.access_token(force_refresh=force),
            ca_cert=e.ca_cert,
        )

    def provider(self, account_id: str) -> CalendarProvider:
        generation = self.accounts.generation(account_id)
        cached = self._providers.get(account_id)
        if cached is None or cached[0] != generation:
            # A new sign-in (or a sign-out) since: the old provider's tokens are not the ones.
            cached = (generation, self._factory(self.accounts.get(account_id)))
            self._providers[account_id] = cached
        return cached[1]

    def calendars(self, account_id: str) -> list[Calendar]:
        return self.provider(account_id).list_calendars()

    # --- pairs -----------------------------------------------------------------------------

    def add_pair(
        self,
        name: str,
        a_account: str,
        a_calendar: str,
        b_account: str,
        b_calendar: str,
        rules: PairRules | None = None,
    ) -> PairRow:
        if not name.strip():
            raise UsageError("A pair needs a name.")
        if self.repo.pair(name) is not None:
            raise UsageError(f"A pair named {name!r} exists already.")
        accounts = {
            Side.A: self.accounts.find(a_account, "microsoft"),
            Side.B: self.accounts.find(b_account, "google"),
        }
        wanted = {Side.A: a_calendar, Side.B: b_calendar}
        resolved = {side: self._calendar(acct, wanted[side]) for side, acct in accounts.items()}
        config = {
            side.value: {
                "account": accounts[side].id,
                "calendar": resolved[side].id,
                "calendar_name": resolved[side].name,
            }
            for side in Side
        }
        rules = rules or PairRules()
        self.notes: list[str] = []
        if self.policy is not None:
            ctx = self._context(accounts[Side.A], accounts[Side.B])
            # A new pair starts from what the policy allows (the person chose no fields);
            # what they did choose and the policy forbids (a direction...) is refused.
            rules, self.notes = self.policy.clamp_rules(rules, ctx)
            self.policy.check_rules(rules, ctx)
        config["rules"] = rules_to_dict(rules)
        pair_id = uuid.uuid4().hex[:12]
        self.repo.add_pair(pair_id, name, config)
        self.repo.audit("person", "pair added", pair_id=pair_id, why=name)
        row = self.repo.pair(pair_id)
        assert row is not None
        return row

    def _calendar(self, account: Account, wanted: str) -> Calendar:
        """The account's writable calendar with this id or name ("" or "primary": the main one)."""
        cals = self.calendars(account.id)
        match = [c for c in cals if wanted in (c.id, c.name)] or (
            [c for c in cals if c.primary] if wanted in ("", "primary") else []
        )
        if not match:
            names = ", ".join(c.name for c in cals) or "none"
            raise UsageError(f"{account.label} has no calendar {wanted!r}. Its calendars: {names}.")
        if not match[0].writable:
            raise UsageError(f"{account.label}: the calendar {match[0].name!r} is read-only.")
        return match[0]

    def set_calendars(self, id_or_name: str, a_calendar: str, b_calendar: str) -> PairRow:
        """Point a pair at other calendars of its accounts (one was deleted in the cloud, say).

        What the pair knew of the old calendars is forgotten, not acted on: the copies made so
        far stay where they are (as when a pair is removed), and the next run reads both
        calendars in full, so nothing is deleted because a calendar changed.
        """
        row = self.pair(id_or_name)
        wanted = {Side.A: a_calendar, Side.B: b_calendar}
        config = dict(row.config)
        before = {side: (config.get(side.value) or {}).get("calendar") for side in Side}
        for side in Side:
            conf = dict(config.get(side.value) or {})
            cal = self._calendar(self.accounts.get(conf.get("account", "")), wanted[side])
            config[side.value] = {**conf, "calendar": cal.id, "calendar_name": cal.name}
        if all(config[side.value]["calendar"] == before[side] for side in Side):
            return row
        self.repo.repoint_pair(row.id, config, "calendar changed")
        names = " and ".join(config[side.value]["calendar_name"] for side in Side)
        self.repo.audit("person", "pair calendars changed", pair_id=row.id, why=names)
        return self.pair(row.id)

    def pairs(self) -> list[PairRow]:
        return self.repo.pairs()

    def pair(self, id_or_name: str) -> PairRow:
        row = self.repo.pair(id_or_name)
        if row is None:
            raise UsageError(f"No pair {id_or_name!r}. `meridian pairs list` shows them.")
        return row

    def remove_pair(self, id_or_name: str) -> None:
        row = self.pair(id_or_name)
        self.repo.remove_pair(row.id)
        self.repo.audit("person", "pair removed", pair_id=row.id, why=row.name)

    def rules(self, row: PairRow) -> PairRules:
        try:
            return rules_from_dict(row.config.get("rules") or {})
        except ValueError as exc:
            raise ConfigError(f"Pair {row.name!r}: {exc}") from None

    def set_rules(self, id_or_name: str, rules: PairRules) -> None:
        row = self.pair(id_or_name)
        config = dict(row.config, rules=rules_to_dict(rules))
        with self.repo.db.tx() as c:
            c.execute("UPDATE pairs SET config = ? WHERE id = ?", (_dumps(config), row.id))
        self.repo.audit("person", "pair settings changed", pair_id=row.id, why=row.name)

    @staticmethod
    def _context(outlook: Account, google: Account) -> PairContext:
        return PairContext(outlook.email, outlook.tenant, google.email)

    def spec(self, row: PairRow) -> PairSpec:
        sides: dict[Side, SideSpec] = {}
        owners: dict[Side, Account] = {}
        for side in Side:
            conf = row.config.get(side.value) or {}
            owners[side] = account = self.accounts.get(conf.get("account", ""))
            sides[side] = SideSpec(self.provider(account.id), conf["calendar"], account.email)
        rules = self.rules(row)
        if self.policy is not None:
            # IT's policy is applied on every run, so a pushed change takes effect at once and
            # a pair stored before it can never run looser than it allows.
            ctx = self._context(owners[Side.A], owners[Side.B])
            blockers = self.policy.pair_blockers(rules, ctx)
            if blockers:
                raise PolicyForbidden("; ".join(blockers))
            rules, _ = self.policy.clamp_rules(rules, ctx)
        return PairSpec(row.id, row.name, rules, sides[Side.A], sides[Side.B])

    # --- running ---------------------------------------------------------------------------

    def run(self, id_or_name: str | None = None, *, dry_run: bool = False) -> list[RunResult]:
        rows = [self.pair(id_or_name)] if id_or_name else self.pairs()
        return [self.run_pair(row, dry_run=dry_run) for row in rows if row.enabled]

    def run_pair(self, row: PairRow, *, dry_run: bool = False) -> RunResult:
        if row.paused_reason:
            return RunResult(row.id, status="paused", message=_paused_text(row.paused_reason))
        try:
            spec = self.spec(row)
            result = Engine(self.repo, self.clock).run(spec, dry_run=dry_run)
        except AuthRequired as err:
            return RunResult(row.id, status="needs-sign-in", message=err.message)
        except NotFound as err:
            # Items that are gone are the engine's business: what reaches here is a calendar.
            gone = None if dry_run else self._calendar_gone(row)
            return gone or RunResult(row.id, status="error", message=f"{err.title}: {err.message}")
        except (Offline, ServiceUnavailable) as err:
            return RunResult(row.id, status="offline", message=err.message)
        except MeridianError as err:
            return RunResult(row.id, status="error", message=f"{err.title}: {err.message}")
        except Exception as err:  # the report goes to the log; the person gets a short line
            log.exception("pair %s failed", row.name)
            return RunResult(row.id, status="error", message=f"Unexpected error: {err}")
        if result.status == "ok":
            for issue in self.repo.issues(row.id, kind=CALENDAR_GONE):
                self.repo.resolve_issue(issue.id)
        return result

    def _calendar_gone(self, row: PairRow) -> RunResult | None:
        """A calendar of the pair that its account no longer lists, recorded as the pair's
        issue; None when both are there (or the account cannot be asked now)."""
        for side in Side:
            conf = row.config.get(side.value) or {}
            try:
                listed = {c.id for c in self.calendars(conf.get("account", ""))}
            except MeridianError:
                return None
            if conf.get("calendar") in listed:
                continue
            cloud = "Outlook" if side is Side.A else "Google"
            name = conf.get("calendar_name") or conf.get("calendar")
            message = (
                f"The {cloud} calendar \u201c{name}\u201d was deleted or is no longer shared "
                "with you. Nothing was copied or deleted. Choose another calendar for this pair "
                "(in Meridian's window: Pairs, Calendars, Change)."
            )
            self.repo.record_issue(
                row.id, side.value, str(conf.get("calendar")), CALENDAR_GONE,
                f"{cloud} calendar not found", message,
            )  # fmt: skip
            return RunResult(row.id, status="error", message=message)
        return None

    # --- status ----------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        pairs = []
        for row in self.pairs():
            runs = self.repo.runs(row.id, limit=1)
            hold = self.repo.open_hold(row.id)
            issues = self.repo.issues(row.id)
            pairs.append(
                {
                    "id": row.id,
                    "name": row.name,
                    "enabled": row.enabled,
                    "paused": _paused_text(row.paused_reason) if row.paused_reason else None,
                    "last_run": runs[0] if runs else None,
                    "links": self.repo.link_count(row.id),
                    "issues": len([i for i in issues if i.kind not in _NOT_FAILURES]),
                    # Written, but not exactly: what the other calendar could not hold.
                    "notes": [
                        {"title": i.title, "message": i.message} for i in issues if i.kind in _NOTES
                    ],
                    "conflicts": len(self.repo.conflicts(row.id)),
                    "overlaps": len(self.repo.overlaps(row.id)),
                    "held": hold["reason"] if hold and hold["decision"] is None else None,
                }
            )
        return {
            "accounts": [a.as_dict() for a in self.accounts.accounts()],
            "pairs": pairs,
        }

    # --- conflicts and holds ---------------------------------------------------------------

    def conflicts(self) -> list[dict[str, Any]]:
        return self.repo.conflicts()

    def resolve_conflict(
        self, conflict_id: int, keep: Side | dict[str, Side], *, remember: bool = False
    ) -> None:
        """Apply the person's choice: the snapshot is set so the chosen values win next run.

        For each conflicting field the snapshot takes the *other* side's value, so the chosen
        side is the only one that "changed" it and the next run copies it over.
        """
        found = [c for c in self.repo.conflicts() if c["id"] == conflict_id]
        if not found:
            raise UsageError(f"No open conflict {conflict_id}.")
        c = found[0]
        link = next((lk for lk in self.repo.links(c["pair_id"]) if lk.id == c["link_id"]), None)
        choice = {f: keep for f in c["fields"]} if isinstance(keep, Side) else dict(keep)
        if link is not None:
            self.repo.save_link(c["pair_id"], _prefer(self, c, link, choice))
            # The conflicting edits are behind both cursors: have the next run read both
            # events again (by id), so the choice is compared and written with current etags.
            for side in Side:
                self.repo.record_issue(
                    c["pair_id"],
                    side.value,
                    link.id_on(side),
                    RETRY,
                    "Will be synced",
                    "choice",
                    due_now=True,
                )
        self.repo.resolve_conflict(conflict_id, _describe(choice), remember)
        self.repo.audit(
            "person",
            "conflict resolved",
            pair_id=c["pair_id"],
            item_id=str(c["link_id"]),
            why=_describe(choice),
        )
        if remember and isinstance(keep, Side):
            row = self.pair(c["pair_id"])
            policy = ConflictPolicy.A_WINS if keep is Side.A else ConflictPolicy.B_WINS
            if self.policy is not None:
                self.policy.guard_change("conflict_policy", policy.value)
            self.set_rules(row.id, replace(self.rules(row), conflict_policy=policy))

    def decide_hold(self, id_or_name: str, approve: bool) -> None:
        row = self.pair(id_or_name)
        hold = self.repo.open_hold(row.id)
        if hold is None or hold["decision"] is not None:
            raise UsageError(f"Pair {row.name!r} is not waiting for a decision.")
        self.repo.decide_hold(hold["id"], "approve" if approve else "refuse")
        self.repo.audit(
            "person", "deletions " + ("approved" if approve else "refused"), pair_id=row.id
        )


def _prefer(svc: SyncService, c: dict[str, Any], link: Link, choice: dict[str, Side]) -> Link:
    versions = {Side.A: c["a_version"], Side.B: c["b_version"]}
    events: dict[Side, Event | None] = {
        s: event_from_json(v) if v else None for s, v in versions.items()
    }
    rules = svc.rules(svc.pair(c["pair_id"]))
    view = dict(link.view)
    for f, side in choice.items():
        loser = events[side.other]
        if loser is not None:
            view[f] = rules.view(loser).get(f)
    # The chosen side gets no etag, so the next run compares it by content; the other side
    # gets the etag it had when the conflict was found, so it counts as unchanged unless it
    # was edited again since (then that newer edit is compared as usual).
    etags: dict[Side, str | None] = {}
    for s in Side:
        ev = events[s]
        etags[s] = ev.etag if ev is not None else None
    chosen = set(choice.values())
    return replace(
        link,
        view=view,
        a_etag=None if Side.A in chosen else etags[Side.A],
        b_etag=None if Side.B in chosen else etags[Side.B],
        a_event=events[Side.A] or link.a_event,
        b_event=events[Side.B] or link.b_event,
    )


def _describe(choice: dict[str, Side]) -> str:
    sides = set(choice.values())
    if len(sides) == 1:
        return "kept Outlook's version" if Side.A in sides else "kept Google's version"
    return "; ".join(
        f"{f} from {'Outlook' if s is Side.A else 'Google'}" for f, s in choice.items()
    )


def _paused_text(reason: str) -> str:
    if reason.startswith("account-"):
        return "Paused: an account needs you to sign in again."
    return f"Paused: {reason}"


def _dumps(config: dict[str, Any]) -> str:
    import json

    return json.dumps(config, sort_keys=True)
