"""The effective policy: all sources merged by precedence, checked, each value with its source.

Rules of the merge:

1. Machine sources, highest precedence first. Per key, a locked entry beats a default one
   wherever it comes from (a default higher up must not unlock what a lower source locks); among
   equals the higher source wins. An invalid value takes its place as the key's safest value.
2. A machine source that cannot be read at all turns Meridian off (``disabled``): we cannot know
   what it meant to restrict, and a broken policy must never loosen anything.
3. Contradictions between keys (a default beyond a bound, a minimum above a maximum, ...) are
   reported and resolved towards the tighter value.
4. The user-level file may only tighten: each of its values applies only if it is at least as
   strict as what the machine decided (see ``Key.tighten``); anything else is reported, ignored.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from app.core.rules import PairRules
from app.errors import PolicyForbidden, PolicyLocked
from app.policy.schema import BY_NAME, DIRECTIONS, KEYS, Invalid, Key, Problem, check_value, flows
from app.policy.sources import Entry, Locations, Source, machine_sources, user_source

if TYPE_CHECKING:
    from app.policy.clamp import PairContext

BUILT_IN = "built-in default"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Setting:
    key: str
    value: Any
    source: str
    locked: bool


@dataclass(frozen=True)
class AccountVerdict:
    allowed: bool
    busy_only: bool = False
    reason: str = ""


@dataclass
class EffectivePolicy:
    settings: dict[str, Setting]
    errors: list[Problem] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)  # the sources found, highest first

    # --- reading -------------------------------------------------------------------------------

    def value(self, key: str) -> Any:
        return self.settings[key].value

    def source(self, key: str) -> str:
        return self.settings[key].source

    def locked(self, key: str) -> bool:
        """Locked keys are greyed out with "Set by your organization" and refused by the CLI."""
        return self.settings[key].locked

    @property
    def disabled(self) -> bool:
        return bool(self.value("disabled"))

    @property
    def managed(self) -> bool:
        """True when any policy source exists (the UI then shows "Managed by your organization")."""
        return bool(self.sources)

    def log_problems(self) -> None:
        """Write every problem to the log (file, key, reason); call when policy is (re)read."""
        for p in self.errors:
            log.warning("policy problem (%s): %s", p.kind, p)
        if self.disabled:
            log.warning("Meridian is turned off by policy (%s)", self.source("disabled"))

    def as_dict(self, *, reveal_secrets: bool = False) -> dict[str, Any]:
        return {
            "sources": list(self.sources),
            "settings": {
                s.key: {
                    "value": _shown(BY_NAME[s.key], s.value, reveal_secrets),
                    "source": s.source,
                    "locked": s.locked,
                }
                for s in self.settings.values()
            },
            "errors": [p.as_dict() for p in self.errors],
        }

    def auth_overrides(self) -> dict[str, str]:
        """Client ids, secret and tenant set by policy (for GoogleConfig / MicrosoftConfig)."""
        names = ("google_client_id", "google_client_secret", "microsoft_client_id")
        return {k: self.value(k) for k in (*names, "microsoft_tenant") if self.value(k)}

    def allow_file_store(self, person_chose: bool) -> bool:
        """Whether a file secret store may be used: the person's choice, if policy allows one."""
        return person_chose and bool(self.value("file_secret_store_allowed"))

    def flows_allowed(self) -> frozenset[str]:
        return flows(self.value("directions_allowed"))

    # --- accounts ------------------------------------------------------------------------------

    def account_allowed(
        self, provider: str, email: str, tenant: str | None = None
    ) -> AccountVerdict:
        """May this account be added and paired? (Google: busy-only domains say so too.)"""
        if self.disabled:
            return AccountVerdict(False, reason="Meridian is turned off by your organization.")
        domain = email.rpartition("@")[2].strip().lower()
        if provider == "microsoft":
            allowed = self.value("microsoft_tenants_allowed")
            if allowed is None or domain in allowed or (tenant or "").lower() in allowed:
                return AccountVerdict(True)
            return AccountVerdict(
                False, reason=f"Your organization does not allow Microsoft accounts of {domain}."
            )
        if provider == "google":
            busy = self.value("google_domains_busy_only")
            allowed = self.value("google_domains_allowed")
            listed_busy = domain in busy
            if allowed is not None and domain not in allowed and not listed_busy:
                return AccountVerdict(
                    False, reason=f"Your organization does not allow Google accounts of {domain}."
                )
            if listed_busy or "*" in busy:
                return AccountVerdict(
                    True,
                    busy_only=True,
                    reason=f"Your organization allows {domain} only for Busy blocks.",
                )
            return AccountVerdict(True)
        return AccountVerdict(True)  # memory and other test providers

    # --- pairs ---------------------------------------------------------------------------------

    def clamp_rules(
        self, rules: PairRules, ctx: PairContext | None = None
    ) -> tuple[PairRules, list[str]]:
        """``rules`` tightened to this policy, with a sentence per change (see clamp.py)."""
        from app.policy.clamp import clamp  # clamp.py imports this module

        return clamp(rules, self, ctx)

    def pair_blockers(self, rules: PairRules, ctx: PairContext) -> list[str]:
        """Why the pair may not run at all (empty: it may, clamped)."""
        from app.policy.clamp import blockers

        return blockers(self, rules, ctx)

    def check_rules(self, rules: PairRules, ctx: PairContext) -> None:
        """Refuse (PolicyForbidden) pair settings the policy would change or block: for the
        pairs CLI and the pair editor, so a person is told instead of silently clamped."""
        problems = self.pair_blockers(rules, ctx) + self.clamp_rules(rules, ctx)[1]
        if problems:
            raise PolicyForbidden(" ".join(problems))

    # --- changes the person asks for ---------------------------------------------------------

    def guard_change(self, key: str, value: Any) -> None:
        """Raise PolicyLocked / PolicyForbidden if the person may not set ``key`` to ``value``.

        The one check every place that changes a setting calls (CLI, settings window, pairs).
        Values in a key's direction of tightening stay allowed under a lock (a person may pick a
        more private mode than the locked one, or a smaller window).
        """
        spec = BY_NAME[key]
        try:
            checked, _ = check_value(spec, value)
        except Invalid as exc:
            raise PolicyForbidden(f"{spec.title}: {exc.reason}.", key=key) from None
        current = self.settings[key]
        if not spec.lockable:
            # A restriction is the organization's alone; unset, nothing forbids anything.
            if current.source != BUILT_IN:
                raise PolicyLocked(
                    f"{spec.title} is set by your organization ({current.source}).", key=key
                )
            return
        if current.locked and not _at_least_as_tight(spec, checked, current.value):
            raise PolicyLocked(
                f"{spec.title} is set by your organization to "
                f"{_shown(spec, current.value, False)} ({current.source}).",
                key=key,
            )
        problem = self._out_of_bounds(key, checked)
        if problem:
            raise PolicyForbidden(problem, key=key)

    def _out_of_bounds(self, key: str, value: Any) -> str | None:
        if key == "sync_interval_minutes":
            lo, hi = (
                self.value("sync_interval_min_minutes"),
                self.value("sync_interval_max_minutes"),
            )
            if not lo <= value <= hi:
                return f"Your organization allows syncing every {lo} to {hi} minutes."
        for name in ("window_past_days", "window_future_days"):
            if key == name and value > self.value(name + "_max"):
                return f"Your organization allows at most {self.value(name + '_max')} days here."
        if key == "direction" and not flows([value]) <= self.flows_allowed():
            allowed = ", ".join(sorted(self.flows_allowed())) or "nothing"
            return f"Your organization allows copying only: {allowed}."
        return None


# --- loading -----------------------------------------------------------------------------------


def load_policy(locations: Locations | None = None) -> EffectivePolicy:
    """The effective policy of this machine (and the person's own file, if given).

    Never raises for bad policy content: problems are in ``errors`` (log them, show them).
    """
    loc = locations or Locations.for_this_machine()
    return merge(machine_sources(loc), user_source(loc))


def merge(machine: list[Source], user: Source | None = None) -> EffectivePolicy:
    problems: list[Problem] = [p for s in machine for p in s.problems]
    settings = {k.name: Setting(k.name, k.default, BUILT_IN, False) for k in KEYS}
    for key in KEYS:
        chosen = _choose(key, machine)
        if chosen is not None:
            src, entry = chosen
            where = src.name + (" (invalid there: safest value)" if entry.invalid else "")
            settings[key.name] = Setting(
                key.name, entry.value, where, entry.locked or not key.lockable
            )
    failed = [s for s in machine if s.failed]
    if failed:
        settings["disabled"] = Setting("disabled", True, f"{failed[0].name} (unreadable)", True)
    _reconcile(settings, problems)
    if user is not None:
        problems += user.problems
        if not user.failed:
            _tighten_with(settings, user, problems)
            _reconcile(settings, problems)
    names = [s.name for s in machine] + ([user.name] if user is not None else [])
    return EffectivePolicy(settings, problems, names)


def _choose(key: Key, sources: list[Source]) -> tuple[Source, Entry] | None:
    found = [(s, e) for s in sources for e in s.entries if e.key == key.name]
    for pair in found:
        if pair[1].locked:
            return pair
    return found[0] if found else None


def _reconcile(settings: dict[str, Setting], problems: list[Problem]) -> None:
    """Contradictions between keys, resolved towards the tighter value."""

    def put(key: str, value: Any, why: str, report: bool) -> None:
        old = settings[key]
        settings[key] = Setting(key, value, f"{old.source}, {why}", old.locked)
        if report:
            problems.append(Problem(old.source, key, why, "contradiction"))

    lo, hi = settings["sync_interval_min_minutes"], settings["sync_interval_max_minutes"]
    if lo.value > hi.value:
        put(
            "sync_interval_max_minutes",
            lo.value,
            f"was below the shortest interval ({lo.value}); raised to it",
            True,
        )
    lo_v, hi_v = lo.value, settings["sync_interval_max_minutes"].value
    interval = settings["sync_interval_minutes"]
    if not lo_v <= interval.value <= hi_v:
        fixed = min(max(interval.value, lo_v), hi_v)
        put(
            "sync_interval_minutes",
            fixed,
            f"outside the allowed {lo_v}..{hi_v} minutes; {fixed} applies",
            interval.source != BUILT_IN,
        )
    for name in ("window_past_days", "window_future_days"):
        cur, bound = settings[name], settings[name + "_max"]
        if cur.value > bound.value:
            put(
                name,
                bound.value,
                f"beyond {name}_max ({bound.value}); {bound.value} applies",
                cur.source != BUILT_IN,
            )
    direction = settings["direction"]
    allowed = flows(settings["directions_allowed"].value)
    if not flows([direction.value]) <= allowed:
        narrowed = flows([direction.value]) & allowed
        new = next(iter(narrowed)) if len(narrowed) == 1 else _first_allowed(allowed)
        put(
            "direction",
            new,
            f"{direction.value} is not among the allowed directions; {new} applies",
            direction.source != BUILT_IN,
        )
    tenant, tenants = settings["microsoft_tenant"], settings["microsoft_tenants_allowed"]
    if (
        tenant.value
        and tenants.value is not None
        and tenant.value not in ("organizations", "common", "consumers")
        and tenant.value not in tenants.value
    ):
        problems.append(
            Problem(
                tenant.source,
                "microsoft_tenant",
                "is not among microsoft_tenants_allowed, so every sign-in will be refused",
                "contradiction",
            )
        )


def _first_allowed(allowed: frozenset[str]) -> str:
    # Nothing allowed at all: the direction stays the one that takes nothing out of work.
    for d in ("both", "google_to_outlook", "outlook_to_google"):
        if flows([d]) <= allowed:
            return d
    return "google_to_outlook"


# --- the user-level file: tighten only -----------------------------------------------------------


def _tighten_with(settings: dict[str, Setting], user: Source, problems: list[Problem]) -> None:
    machine = dict(settings)  # "tighter" is judged against the machine's decision
    for entry in user.entries:
        key = BY_NAME[entry.key]
        cur = settings[key.name]

        def refuse(why: str, key: Key = key) -> None:
            problems.append(Problem(user.name, key.name, why, "loosen"))

        if key.tighten == "machine":
            problems.append(
                Problem(user.name, key.name, "only machine policy may set this", "machine_only")
            )
            continue
        if key.lockable and not cur.locked:
            # Not locked by IT: the person's own file chooses freely (within restrictions).
            settings[key.name] = Setting(key.name, entry.value, user.name, entry.locked)
            continue
        value, refused = _tighter(key, cur.value, entry.value, machine)
        if refused:
            refuse(
                f"{refused}: a user-level policy can only tighten ({cur.source} has "
                f"{_shown(key, cur.value, False)})"
            )
        if value != cur.value:
            settings[key.name] = Setting(key.name, value, user.name, True)


def _tighter(key: Key, cur: Any, new: Any, machine: dict[str, Setting]) -> tuple[Any, str]:
    """The tighter of ``cur`` and ``new``, and what in ``new`` was looser (empty: nothing)."""
    t = key.tighten
    if t in ("min", "max", "true", "false", "order", "free"):
        if _at_least_as_tight(key, new, cur):
            return new, ""
        return cur, f"{_shown(key, new, False)} would loosen it"
    if t == "subset":
        if new is None:
            return cur, ""
        if cur is None:
            return new, ""
        extra: frozenset[str]
        if key.name == "directions_allowed":
            kept = flows(cur) & flows(new)
            extra = flows(new) - flows(cur)
            value = cur if kept == flows(cur) else [d for d in DIRECTIONS[1:] if d in kept]
        else:
            value = [x for x in cur if x in new]
            extra = frozenset(str(x) for x in new if x not in cur)
        return value, (f"{', '.join(sorted(extra))} would be allowed" if extra else "")
    if t == "superset":
        # Busy-only domains are allowed (for busy blocks): only domains the machine allows.
        allowed = machine["google_domains_allowed"].value
        ok = [x for x in new if x == "*" or x in cur or allowed is None or x in allowed]
        looser = [x for x in new if x not in ok]
        value = cur + [x for x in ok if x not in cur]
        return value, (f"{', '.join(looser)} would be allowed (busy only)" if looser else "")
    return cur, "cannot be changed"


def _at_least_as_tight(key: Key, new: Any, cur: Any) -> bool:
    t = key.tighten
    if t == "min":
        return bool(new <= cur)
    if t == "max":
        return bool(new >= cur)
    if t == "true":
        return bool(new or not cur)
    if t == "false":
        return bool(not new or cur)
    if t == "order":
        return key.choices.index(new) >= key.choices.index(cur)
    if t == "subset":
        return cur is None or (new is not None and set(new) <= set(cur))
    if t == "superset":
        return set(cur) <= set(new)
    return bool(new == cur)


def _shown(key: Key, value: Any, reveal: bool) -> Any:
    if key.secret and value and not reveal:
        return "(set, hidden)"
    return value


def describe(policy: EffectivePolicy) -> list[str]:
    """Lines for ``meridian policy show``: each key, its value, locked or default, and source."""
    lines = []
    width = max(len(k.name) for k in KEYS)
    for key in KEYS:
        s = policy.settings[key.name]
        mode = "locked " if s.locked else ("default" if s.source != BUILT_IN else "-      ")
        shown = json.dumps(_shown(key, s.value, False))
        lines.append(f"{key.name:<{width}}  {mode}  {shown:<28}  {s.source}")
    return lines


def problems_text(problems: Iterable[Problem]) -> list[str]:
    return [f"{p.kind}: {p}" for p in problems]
