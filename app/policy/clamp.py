"""Policy applied to one pair's rules: ``clamp`` only ever tightens a PairRules.

The sync facade calls ``blockers`` (may this pair run at all?) and then ``clamp`` before every
run, so a policy that arrives or changes while Meridian runs applies to the next run, whatever
the pair's stored settings say. Side a is Outlook, side b Google (app/core/rules.py).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from app.core.rules import (
    ALL_GROUPS,
    ConflictPolicy,
    Direction,
    PairRules,
    PrivacyMode,
)
from app.policy.schema import flows

if TYPE_CHECKING:
    from app.policy.effective import EffectivePolicy

_FLOW_OF = {Direction.A_TO_B: "outlook_to_google", Direction.B_TO_A: "google_to_outlook"}
_DIRECTION_OF_FLOWS = {
    frozenset({"outlook_to_google", "google_to_outlook"}): Direction.BOTH,
    frozenset({"outlook_to_google"}): Direction.A_TO_B,
    frozenset({"google_to_outlook"}): Direction.B_TO_A,
}
_PRIVACY_ORDER = (PrivacyMode.FULL, PrivacyMode.TITLE_ONLY, PrivacyMode.BUSY)
_CONFLICT = {
    "ask": ConflictPolicy.ASK,
    "newest": ConflictPolicy.NEWEST,
    "outlook_wins": ConflictPolicy.A_WINS,
    "google_wins": ConflictPolicy.B_WINS,
}
_DIRECTION = {
    "both": Direction.BOTH,
    "outlook_to_google": Direction.A_TO_B,
    "google_to_outlook": Direction.B_TO_A,
}


@dataclass(frozen=True)
class PairContext:
    """Who the pair's two sides belong to (what policy decides by)."""

    outlook_email: str | None = None
    outlook_tenant: str | None = None
    google_email: str | None = None


def rule_flows(direction: Direction) -> frozenset[str]:
    if direction is Direction.BOTH:
        return frozenset(_FLOW_OF.values())
    return frozenset({_FLOW_OF[direction]})


def allowed_flows(policy: EffectivePolicy) -> frozenset[str]:
    """The allowed directions, and with a locked direction only that one's flows."""
    allowed = policy.flows_allowed()
    if policy.locked("direction"):
        allowed &= flows([policy.value("direction")])
    return allowed


def blockers(policy: EffectivePolicy, rules: PairRules, ctx: PairContext) -> list[str]:
    """Why this pair may not run at all under the policy (empty: it may, after ``clamp``)."""
    out: list[str] = []
    if policy.disabled:
        out.append("Meridian is turned off on this computer by your organization.")
        return out
    if ctx.outlook_email:
        verdict = policy.account_allowed("microsoft", ctx.outlook_email, ctx.outlook_tenant)
        if not verdict.allowed:
            out.append(verdict.reason)
    if ctx.google_email:
        verdict = policy.account_allowed("google", ctx.google_email)
        if not verdict.allowed:
            out.append(verdict.reason)
    if not rule_flows(rules.direction) & allowed_flows(policy):
        out.append(f"Your organization does not allow copying {_words(rules.direction)}.")
    return out


def clamp(
    rules: PairRules, policy: EffectivePolicy, ctx: PairContext | None = None
) -> tuple[PairRules, list[str]]:
    """``rules`` tightened to what the policy allows, and a sentence for each change.

    Never loosens: every step keeps the stricter of the pair's choice and the policy's.
    """
    ctx = ctx or PairContext()
    reasons: list[str] = []
    r = rules

    # Direction: copy only the flows the policy allows (a pair with none left is a blocker).
    kept = rule_flows(r.direction) & allowed_flows(policy)
    if kept and kept != rule_flows(r.direction):
        r = replace(r, direction=_DIRECTION_OF_FLOWS[frozenset(kept)])
        reasons.append(f"Copies only {_words(r.direction)}, as your organization requires.")

    # Fields: a two-way pair compares one view, so it copies what both directions allow.
    fields = set(r.fields)
    for flow in rule_flows(r.direction):
        allowed = policy.value(f"fields_{flow}")
        if allowed is not None:
            fields &= set(allowed) | {"time"}
    if fields != set(r.fields):
        dropped = ", ".join(sorted(set(r.fields) - fields))
        r = replace(r, fields=frozenset(fields) & ALL_GROUPS)
        reasons.append(f"Does not copy {dropped}: your organization does not allow it.")

    # Privacy: at least the locked mode, and busy blocks only for busy-only Google domains.
    floor = PrivacyMode.FULL
    if policy.locked("privacy_mode"):
        floor = PrivacyMode(policy.value("privacy_mode"))
    if ctx.google_email:
        verdict = policy.account_allowed("google", ctx.google_email)
        if verdict.busy_only:
            floor = PrivacyMode.BUSY
    if _PRIVACY_ORDER.index(r.privacy) < _PRIVACY_ORDER.index(floor):
        r = replace(r, privacy=floor)
        reasons.append(f"Copies are {_privacy_words(floor)}, as your organization requires.")

    # Window: within the bounds (and within the locked window, if any).
    past = min(r.window_past_days, policy.value("window_past_days_max"))
    future = min(r.window_future_days, policy.value("window_future_days_max"))
    if policy.locked("window_past_days"):
        past = min(past, policy.value("window_past_days"))
    if policy.locked("window_future_days"):
        future = min(future, policy.value("window_future_days"))
    if (past, future) != (r.window_past_days, r.window_future_days):
        r = replace(r, window_past_days=past, window_future_days=max(future, 1))
        reasons.append(
            f"Syncs at most {past} days back and {future} days ahead, as your organization "
            "requires."
        )

    if policy.locked("conflict_policy"):
        forced = _CONFLICT[policy.value("conflict_policy")]
        if r.conflict_policy is not forced:
            r = replace(r, conflict_policy=forced)
            reasons.append("Conflicts are settled as your organization requires.")

    # Mass-delete guard: locked thresholds are the most a pair may allow.
    if policy.locked("mass_delete_max_count") or policy.locked("mass_delete_max_percent"):
        count, share = r.max_deletes, r.max_delete_share
        if policy.locked("mass_delete_max_count"):
            count = min(count, policy.value("mass_delete_max_count"))
        if policy.locked("mass_delete_max_percent"):
            share = min(share, policy.value("mass_delete_max_percent") / 100)
        if (count, share) != (r.max_deletes, r.max_delete_share):
            r = replace(r, max_deletes=count, max_delete_share=share)
            reasons.append("Asks before deleting many events, as your organization requires.")
    return r, reasons


def new_pair_rules(policy: EffectivePolicy, ctx: PairContext | None = None) -> PairRules:
    """The rules a new pair starts with: the policy's defaults, then clamped."""
    rules = PairRules(
        direction=_DIRECTION[policy.value("direction")],
        window_past_days=policy.value("window_past_days"),
        window_future_days=policy.value("window_future_days"),
        privacy=PrivacyMode(policy.value("privacy_mode")),
        conflict_policy=_CONFLICT[policy.value("conflict_policy")],
        max_deletes=policy.value("mass_delete_max_count"),
        max_delete_share=policy.value("mass_delete_max_percent") / 100,
    )
    return clamp(rules, policy, ctx)[0]


def _words(direction: Direction) -> str:
    return {
        Direction.BOTH: "both ways",
        Direction.A_TO_B: "from Outlook to Google",
        Direction.B_TO_A: "from Google to Outlook",
    }[direction]


def _privacy_words(mode: PrivacyMode) -> str:
    return {
        PrivacyMode.FULL: "full copies",
        PrivacyMode.TITLE_ONLY: "time and title only",
        PrivacyMode.BUSY: "Busy blocks",
    }[mode]
