"""clamp(rules, policy, context) only tightens, and what it keeps out stays out of real copies."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from policykit import policy_with

from app.core.model import Attendee, Event, Person, TimeSpan
from app.core.rules import (
    ALL_GROUPS,
    FIELD_GROUPS,
    ConflictPolicy,
    Direction,
    PairRules,
    PrivacyMode,
)
from app.policy import EffectivePolicy, PairContext, blockers, clamp, merge, new_pair_rules
from app.policy.clamp import rule_flows
from app.policy.schema import FIELD_GROUP_NAMES
from app.policy.sources import parse_document
from app.providers.memory import MemoryProvider
from app.store.db import Database
from app.store.repo import Repo
from app.sync.engine import Engine, PairSpec, SideSpec

NOW = dt.datetime(2026, 11, 21, 9, tzinfo=dt.UTC)
WORK = PairContext(outlook_email="alex@contoso.com", google_email="alex@contoso.com")
HOME = PairContext(outlook_email="alex@contoso.com", google_email="alex.home@gmail.com")
NO_DETAILS = {"fields_outlook_to_google": ["time", "title", "show_as", "privacy"]}


def test_schema_field_groups_are_the_engines() -> None:
    assert set(FIELD_GROUP_NAMES) == set(FIELD_GROUPS)


def test_no_policy_changes_nothing(tmp_path: Path) -> None:
    policy = policy_with(tmp_path)
    rules = PairRules(direction=Direction.A_TO_B, window_past_days=400)
    assert clamp(rules, policy, WORK) == (rules, [])
    assert blockers(policy, rules, WORK) == []


def test_fields_are_what_every_copied_direction_allows(tmp_path: Path) -> None:
    policy = policy_with(tmp_path, locked=NO_DETAILS)
    both, reasons = clamp(PairRules(), policy, WORK)
    assert both.fields == {"time", "title", "show_as", "privacy"}
    assert "description" in reasons[0]
    # Copying only from Google, the Outlook-to-Google limit does not apply.
    inbound, reasons = clamp(PairRules(direction=Direction.B_TO_A), policy, WORK)
    assert inbound.fields == ALL_GROUPS and reasons == []


def test_direction_is_narrowed_or_blocked(tmp_path: Path) -> None:
    policy = policy_with(tmp_path, locked={"directions_allowed": ["google_to_outlook"]})
    narrowed, reasons = clamp(PairRules(), policy, WORK)
    assert narrowed.direction is Direction.B_TO_A and reasons
    out = PairRules(direction=Direction.A_TO_B)
    assert clamp(out, policy, WORK)[0].direction is Direction.A_TO_B  # cannot narrow: blocked
    assert blockers(policy, out, WORK) == [
        "Your organization does not allow copying from Outlook to Google."
    ]
    locked = policy_with(tmp_path, locked={"direction": "outlook_to_google"})
    assert clamp(PairRules(), locked, WORK)[0].direction is Direction.A_TO_B


def test_busy_only_domain_forces_busy_blocks(tmp_path: Path) -> None:
    policy = policy_with(tmp_path, locked={"google_domains_busy_only": ["gmail.com"]})
    home, reasons = clamp(PairRules(), policy, HOME)
    assert home.privacy is PrivacyMode.BUSY and "Busy blocks" in reasons[0]
    assert clamp(PairRules(), policy, WORK)[0].privacy is PrivacyMode.FULL


def test_disallowed_accounts_and_disabled_block_the_pair(tmp_path: Path) -> None:
    policy = policy_with(
        tmp_path,
        locked={"google_domains_allowed": ["contoso.com"], "microsoft_tenants_allowed": []},
    )
    assert len(blockers(policy, PairRules(), HOME)) == 2
    off = policy_with(tmp_path, locked={"disabled": True})
    assert "turned off" in blockers(off, PairRules(), WORK)[0]


def test_locked_settings_and_bounds(tmp_path: Path) -> None:
    policy = policy_with(
        tmp_path,
        locked={
            "privacy_mode": "title",
            "conflict_policy": "outlook_wins",
            "window_past_days_max": 14,
            "window_future_days": 60,
            "mass_delete_max_count": 3,
            "mass_delete_max_percent": 5,
        },
    )
    rules, reasons = clamp(PairRules(), policy, WORK)
    assert rules.privacy is PrivacyMode.TITLE_ONLY
    assert rules.conflict_policy is ConflictPolicy.A_WINS
    assert (rules.window_past_days, rules.window_future_days) == (14, 60)
    assert (rules.max_deletes, rules.max_delete_share) == (3, 0.05)
    assert len(reasons) == 4
    # Already stricter than the policy: kept.
    strict = PairRules(privacy=PrivacyMode.BUSY, window_past_days=3, max_deletes=1)
    kept = clamp(strict, policy, WORK)[0]
    assert kept.privacy is PrivacyMode.BUSY and kept.window_past_days == 3 and kept.max_deletes == 1


def test_new_pair_rules_start_from_the_policy_defaults(tmp_path: Path) -> None:
    policy = policy_with(
        tmp_path,
        locked={"google_domains_busy_only": ["gmail.com"]},
        defaults={"direction": "outlook_to_google", "window_future_days": 30},
    )
    rules = new_pair_rules(policy, HOME)
    assert rules.direction is Direction.A_TO_B and rules.window_future_days == 30
    assert rules.privacy is PrivacyMode.BUSY


_ORDER = [PrivacyMode.FULL, PrivacyMode.TITLE_ONLY, PrivacyMode.BUSY]


@given(
    direction=st.sampled_from(list(Direction)),
    fields=st.frozensets(st.sampled_from(sorted(ALL_GROUPS))),
    privacy=st.sampled_from(_ORDER),
    past=st.integers(0, 3650),
    future=st.integers(1, 3650),
    locked=st.fixed_dictionaries(
        {},
        optional={
            "directions_allowed": st.lists(
                st.sampled_from(["both", "outlook_to_google", "google_to_outlook"])
            ),
            "fields_outlook_to_google": st.lists(st.sampled_from(sorted(ALL_GROUPS))),
            "fields_google_to_outlook": st.lists(st.sampled_from(sorted(ALL_GROUPS))),
            "privacy_mode": st.sampled_from(["full", "title", "busy"]),
            "window_past_days_max": st.integers(0, 3650),
            "window_future_days_max": st.integers(1, 3650),
            "google_domains_busy_only": st.sampled_from([[], ["gmail.com"], ["*"]]),
        },
    ),
)
def test_clamp_never_loosens(direction, fields, privacy, past, future, locked) -> None:  # type: ignore[no-untyped-def]
    policy: EffectivePolicy = merge(
        [parse_document({"schema_version": 1, "locked": locked}, "p.json", "machine")]
    )
    rules = PairRules(direction, past, future, fields, privacy)
    out, _ = clamp(rules, policy, HOME)
    assert rule_flows(out.direction) <= rule_flows(rules.direction)
    assert out.fields <= rules.fields
    assert out.synced_groups <= rules.synced_groups
    assert _ORDER.index(out.privacy) >= _ORDER.index(rules.privacy)
    assert out.window_past_days <= past and out.window_future_days <= future
    if not blockers(policy, rules, HOME):
        for flow in rule_flows(out.direction):
            allowed = policy.value(f"fields_{flow}")
            if allowed is not None:
                assert out.synced_groups <= set(allowed) | {"time"}


# --- through the real engine ---------------------------------------------------------------------


def _event(**kw: object) -> Event:
    start = NOW + dt.timedelta(days=2)
    return Event(ref=None, when=TimeSpan(start, start + dt.timedelta(hours=1), "UTC", "UTC"), **kw)  # type: ignore[arg-type]


def _sync(tmp_path: Path, a: MemoryProvider, b: MemoryProvider, rules: PairRules) -> None:
    repo = Repo(Database(tmp_path / "state.db"))
    if repo.pair("p1") is None:
        repo.add_pair("p1", "work-home", {})
    spec = PairSpec("p1", "work-home", rules, SideSpec(a, "work"), SideSpec(b, "home"))
    Engine(repo, clock=lambda: NOW).run(spec)
    repo.db.close()


def test_forbidden_fields_stay_out_of_copies_through_the_engine(tmp_path: Path) -> None:
    policy = policy_with(tmp_path, locked=NO_DETAILS)
    a, b = MemoryProvider(["work"]), MemoryProvider(["home"])
    original = a.put(
        "work",
        _event(
            title="Acquisition talks",
            description="Confidential: price and terms",
            location="Board room 7",
            organizer=Person("ceo@contoso.com", "The CEO"),
            attendees=(Attendee("cfo@contoso.com", "The CFO"),),
        ),
    )
    rules, _ = clamp(PairRules(), policy, WORK)
    _sync(tmp_path, a, b, rules)
    (copy,) = b.all_events("home")
    assert copy.title == "Acquisition talks"
    assert copy.description == "" and copy.description_html is None
    assert copy.location == "" and copy.attendees == () and copy.organizer is None
    # A later edit of the description still does not travel.
    a.put("work", replace(original, description="Now with the bank's name"))
    _sync(tmp_path, a, b, rules)
    (copy,) = b.all_events("home")
    assert copy.description == ""
    # And the unclamped rules would have copied it (the test would catch a no-op clamp).
    a2, b2 = MemoryProvider(["work"]), MemoryProvider(["home"])
    a2.put("work", _event(title="x", description="travels"))
    _sync(tmp_path / "unclamped", a2, b2, PairRules())
    assert b2.all_events("home")[0].description == "travels"


def test_busy_only_gmail_gets_busy_blocks_through_the_engine(tmp_path: Path) -> None:
    policy = policy_with(tmp_path, locked={"google_domains_busy_only": ["gmail.com"]})
    a, b = MemoryProvider(["work"]), MemoryProvider(["home"])
    a.put("work", _event(title="Layoff planning", description="names"))
    rules, _ = clamp(PairRules(), policy, HOME)
    _sync(tmp_path, a, b, rules)
    (copy,) = b.all_events("home")
    assert copy.title == "Busy" and copy.description == ""
