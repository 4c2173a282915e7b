"""Validation (every kind of error), the user-level file (tighten only), locks and accounts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from policykit import doc, kinds, linux, policy_with, write

from app.errors import PolicyForbidden, PolicyLocked
from app.policy import BY_NAME, KEYS, load_policy, merge
from app.policy.sources import parse_document

# --- every validation error: reported with file, key and reason; the safest value applies ------


@pytest.mark.parametrize(
    ("locked", "key", "kind", "applies"),
    [
        ({"disabled": "yes"}, "disabled", "wrong_type", True),
        ({"window_past_days_max": 99999}, "window_past_days_max", "invalid_value", 30),
        ({"window_past_days_max": 12.5}, "window_past_days_max", "wrong_type", 30),
        ({"window_past_days_max": True}, "window_past_days_max", "wrong_type", 30),
        ({"privacy_mode": "loud"}, "privacy_mode", "invalid_value", "busy"),
        ({"privacy_mode": None}, "privacy_mode", "wrong_type", "busy"),
        ({"google_domains_allowed": "contoso.com"}, "google_domains_allowed", "wrong_type", []),
        ({"google_domains_busy_only": {"a": 1}}, "google_domains_busy_only", "wrong_type", ["*"]),
        ({"directions_allowed": 3}, "directions_allowed", "wrong_type", []),
        ({"fields_outlook_to_google": "all"}, "fields_outlook_to_google", "wrong_type", ["time"]),
        ({"microsoft_client_id": "not-a-guid"}, "microsoft_client_id", "invalid_value", None),
        ({"metrics_endpoint": "http://x.example"}, "metrics_endpoint", "invalid_value", None),
        ({"metrics_folder": "relative/dir"}, "metrics_folder", "invalid_value", None),
        ({"file_secret_store_allowed": 1}, "file_secret_store_allowed", "wrong_type", False),
        ({"mass_delete_max_percent": -1}, "mass_delete_max_percent", "invalid_value", 10),
    ],
)
def test_invalid_values_take_the_safest_value(
    tmp_path: Path, locked: dict[str, Any], key: str, kind: str, applies: Any
) -> None:
    policy = policy_with(tmp_path, locked=locked)
    problem = next(p for p in policy.errors if p.key == key)
    assert problem.kind == kind
    assert problem.source.endswith("policy.json")
    assert "safest value" in problem.reason
    assert policy.value(key) == applies
    assert "invalid" in policy.source(key)


def test_problems_go_to_the_log(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    policy = policy_with(tmp_path, locked={"disabled": "yes"})
    policy.log_problems()
    text = caplog.text
    assert "policy.json: disabled: must be true or false" in text
    assert "turned off by policy" in text


def test_valid_parts_apply_beside_invalid_ones(tmp_path: Path) -> None:
    policy = policy_with(
        tmp_path,
        locked={"privacy_mode": 7, "window_past_days_max": 40, "nonsense": 1},
        defaults={"notifications": "all"},
    )
    assert policy.value("privacy_mode") == "busy"
    assert policy.value("window_past_days_max") == 40
    assert policy.value("notifications") == "all"
    assert sorted(kinds(policy)) == ["unknown_key", "wrong_type"]
    assert not policy.disabled


def test_bad_list_items_are_dropped_one_by_one(tmp_path: Path) -> None:
    policy = policy_with(
        tmp_path,
        locked={
            "google_domains_allowed": ["Contoso.COM", "@fabrikam.com", 5, "not a domain", "x"],
            "fields_outlook_to_google": ["time", "title", "colour"],
            "directions_allowed": ["both", "sideways"],
        },
    )
    assert policy.value("google_domains_allowed") == ["contoso.com", "fabrikam.com"]
    assert policy.value("fields_outlook_to_google") == ["time", "title"]
    assert policy.value("directions_allowed") == ["both"]
    bad = [(p.key, p.kind) for p in policy.errors]
    assert bad.count(("google_domains_allowed", "bad_item")) == 3
    assert ("fields_outlook_to_google", "bad_item") in bad
    assert ("directions_allowed", "bad_item") in bad


def test_syntax_error_turns_meridian_off_and_says_where(tmp_path: Path) -> None:
    write(tmp_path / "etc/meridian/policy.json", '{"schema_version": 1, "locked": {"a": 1,}}')
    write(tmp_path / "etc/meridian/policy.d/10.json", doc(defaults={"notifications": "all"}))
    policy = load_policy(linux(tmp_path))
    assert policy.disabled and policy.locked("disabled")
    (problem,) = policy.errors
    assert problem.kind == "syntax" and "line 1" in problem.reason
    assert "turned off" in problem.reason
    assert policy.value("notifications") == "all"  # the readable files still apply


def test_unreadable_file_turns_meridian_off(tmp_path: Path) -> None:
    (tmp_path / "etc/meridian/policy.json").mkdir(parents=True)  # unreadable even as root
    policy = load_policy(linux(tmp_path))
    assert policy.disabled and kinds(policy) == ["unreadable"]


def test_not_utf8_is_a_syntax_error(tmp_path: Path) -> None:
    path = tmp_path / "etc/meridian/policy.json"
    path.parent.mkdir(parents=True)
    path.write_bytes(b'{"locked": {"x": "\xff"}}')
    assert kinds(load_policy(linux(tmp_path))) == ["syntax"]


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ([1, 2], ["structure"]),
        ({"schema_version": 1, "locked": ["disabled"]}, ["structure"]),
        ({"locked": {}}, ["version"]),
        ({"schema_version": "1"}, ["version"]),
        ({"schema_version": 99, "locked": {"future_key": 1}}, ["version", "unknown_key"]),
        ({"schema_version": 1, "privacy_mode": "busy"}, ["misplaced"]),
        ({"schema_version": 1, "defaults": {"disabled": True}}, ["misplaced"]),
        ({"schema_version": 1, "colour": "red"}, ["unknown_key"]),
        (
            {
                "schema_version": 1,
                "locked": {"privacy_mode": "busy"},
                "defaults": {"privacy_mode": "full"},
            },
            ["contradiction"],
        ),
    ],
)
def test_structure_errors(tmp_path: Path, document: Any, expected: list[str]) -> None:
    write(tmp_path / "etc/meridian/policy.json", document)
    policy = load_policy(linux(tmp_path))
    assert kinds(policy) == expected
    assert all(p.source.endswith("policy.json") for p in policy.errors)


def test_misplaced_keys_still_apply_as_locked(tmp_path: Path) -> None:
    write(
        tmp_path / "etc/meridian/policy.json",
        {"schema_version": 1, "privacy_mode": "busy", "defaults": {"disabled": True}},
    )
    policy = load_policy(linux(tmp_path))
    assert policy.value("privacy_mode") == "busy" and policy.locked("privacy_mode")
    assert policy.disabled and policy.locked("disabled")


def test_a_top_level_that_is_not_an_object_turns_meridian_off(tmp_path: Path) -> None:
    write(tmp_path / "etc/meridian/policy.json", "[]")
    assert load_policy(linux(tmp_path)).disabled


def test_duplicate_keys_are_reported(tmp_path: Path) -> None:
    write(
        tmp_path / "etc/meridian/policy.json",
        '{"schema_version": 1, "locked": {"privacy_mode": "busy", "privacy_mode": "full"}}',
    )
    assert "structure" in kinds(load_policy(linux(tmp_path)))


@pytest.mark.parametrize(
    ("locked", "defaults", "key", "applies"),
    [
        # A default beyond its bound: the bound applies.
        ({"window_past_days_max": 20}, {"window_past_days": 90}, "window_past_days", 20),
        # Minimum above maximum: the maximum is raised to the minimum.
        (
            {"sync_interval_min_minutes": 30, "sync_interval_max_minutes": 10},
            {},
            "sync_interval_max_minutes",
            30,
        ),
        (
            {"sync_interval_min_minutes": 30},
            {"sync_interval_minutes": 5},
            "sync_interval_minutes",
            30,
        ),
        # A direction the allowed directions exclude: narrowed to what is allowed.
        (
            {"directions_allowed": ["google_to_outlook"]},
            {"direction": "both"},
            "direction",
            "google_to_outlook",
        ),
        # A pinned tenant that is not allowed: reported (every sign-in would be refused).
        (
            {"microsoft_tenant": "contoso.com", "microsoft_tenants_allowed": ["fabrikam.com"]},
            {},
            "microsoft_tenant",
            "contoso.com",
        ),
    ],
)
def test_contradictions_are_reported_and_resolved_tighter(
    tmp_path: Path, locked: dict[str, Any], defaults: dict[str, Any], key: str, applies: Any
) -> None:
    policy = policy_with(tmp_path, locked=locked, defaults=defaults)
    assert kinds(policy) == ["contradiction"]
    assert policy.errors[0].key == key
    assert policy.value(key) == applies


def test_built_in_defaults_follow_a_bound_silently(tmp_path: Path) -> None:
    policy = policy_with(tmp_path, locked={"window_future_days_max": 60})
    assert policy.errors == []
    assert policy.value("window_future_days") == 60


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=12) | st.floats(),
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.dictionaries(
                st.sampled_from([k.name for k in KEYS] + ["x", "locked"]), inner, max_size=5
            )
        ),
        max_leaves=20,
    )
)
def test_no_document_crashes_the_merge(raw: Any) -> None:
    for document in (raw, {"schema_version": 1, "locked": raw, "defaults": raw}):
        policy = merge([parse_document(document, "fuzz.json", "machine")])
        for key in KEYS:
            policy.value(key.name)
        # Whatever was written, restrictions never end up looser than their safest value
        # when they were invalid (an invalid entry always says so in its source).
        for key in KEYS:
            if "invalid" in policy.source(key.name):
                assert policy.value(key.name) == BY_NAME[key.name].safest


# --- the user-level file only tightens ---------------------------------------------------------


def test_user_file_tightens(tmp_path: Path) -> None:
    policy = policy_with(
        tmp_path,
        locked={
            "privacy_mode": "title",
            "window_past_days_max": 60,
            "google_domains_allowed": ["contoso.com", "fabrikam.com"],
            "directions_allowed": ["both"],
        },
        user=doc(
            {
                "privacy_mode": "busy",
                "window_past_days_max": 14,
                "google_domains_allowed": ["contoso.com"],
                "google_domains_busy_only": ["fabrikam.com"],
                "directions_allowed": ["outlook_to_google"],
                "disabled": False,
                "file_secret_store_allowed": False,
            }
        ),
    )
    assert policy.errors == []
    assert policy.value("privacy_mode") == "busy"
    assert policy.value("window_past_days_max") == 14
    assert policy.value("google_domains_allowed") == ["contoso.com"]
    assert policy.value("google_domains_busy_only") == ["fabrikam.com"]
    assert policy.flows_allowed() == {"outlook_to_google"}
    assert policy.value("file_secret_store_allowed") is False
    assert policy.source("privacy_mode").endswith("profile/policy.json")


@pytest.mark.parametrize(
    ("machine", "user", "key", "stays", "kind"),
    [
        ({"privacy_mode": "title"}, {"privacy_mode": "full"}, "privacy_mode", "title", "loosen"),
        (
            {"window_past_days_max": 30},
            {"window_past_days_max": 300},
            "window_past_days_max",
            30,
            "loosen",
        ),
        ({"disabled": True}, {"disabled": False}, "disabled", True, "loosen"),
        (
            {"file_secret_store_allowed": False},
            {"file_secret_store_allowed": True},
            "file_secret_store_allowed",
            False,
            "loosen",
        ),
        (
            {"google_domains_allowed": ["contoso.com"]},
            {"google_domains_allowed": ["gmail.com"]},
            "google_domains_allowed",
            [],
            "loosen",
        ),
        (
            {"google_domains_allowed": ["contoso.com"]},
            {"google_domains_busy_only": ["gmail.com"]},
            "google_domains_busy_only",
            [],
            "loosen",
        ),
        (
            {"directions_allowed": ["google_to_outlook"]},
            {"directions_allowed": ["both"]},
            "directions_allowed",
            ["google_to_outlook"],
            "loosen",
        ),
        (
            {"sync_interval_min_minutes": 30},
            {"sync_interval_min_minutes": 1},
            "sync_interval_min_minutes",
            30,
            "loosen",
        ),
        (
            {"conflict_policy": "ask"},
            {"conflict_policy": "newest"},
            "conflict_policy",
            "ask",
            "loosen",
        ),
        (
            {},
            {"microsoft_client_id": "6f0e3a52-8f1c-4c4e-9d1b-5a0c4e7d2b10"},
            "microsoft_client_id",
            None,
            "machine_only",
        ),
        (
            {},
            {"metrics_endpoint": "https://evil.example"},
            "metrics_endpoint",
            None,
            "machine_only",
        ),
    ],
)
def test_user_file_cannot_loosen(
    tmp_path: Path, machine: dict[str, Any], user: dict[str, Any], key: str, stays: Any, kind: str
) -> None:
    policy = policy_with(tmp_path, locked=machine, user=doc(user))
    assert policy.value(key) == stays
    problem = next(p for p in policy.errors if p.key == key)
    assert problem.kind == kind
    assert problem.source.endswith("profile/policy.json")


def test_user_file_chooses_unlocked_settings_freely(tmp_path: Path) -> None:
    policy = policy_with(
        tmp_path,
        defaults={"conflict_policy": "ask", "window_past_days": 30},
        user=doc(defaults={"conflict_policy": "newest", "window_past_days": 60}),
    )
    assert policy.errors == []
    assert policy.value("conflict_policy") == "newest"
    assert policy.value("window_past_days") == 60


def test_broken_user_file_is_ignored_not_fatal(tmp_path: Path) -> None:
    policy = policy_with(tmp_path, locked={"privacy_mode": "title"}, user="{nope")
    assert not policy.disabled
    assert kinds(policy) == ["syntax"] and "ignored" in policy.errors[0].reason
    bad_value = policy_with(tmp_path, user=doc({"privacy_mode": "loud"}))
    assert bad_value.value("privacy_mode") == "full"  # nothing to tighten with: ignored
    assert kinds(bad_value) == ["invalid_value"] and "ignored" in bad_value.errors[0].reason


# --- locks: what the CLI and the UI refuse ------------------------------------------------------


def test_guard_change_refuses_locked_settings(tmp_path: Path) -> None:
    policy = policy_with(
        tmp_path,
        locked={"privacy_mode": "title", "conflict_policy": "ask", "window_past_days": 14},
        defaults={"notifications": "all"},
    )
    with pytest.raises(PolicyLocked) as err:
        policy.guard_change("privacy_mode", "full")
    assert err.value.title == "Set by your organization" and err.value.key == "privacy_mode"
    policy.guard_change("privacy_mode", "busy")  # more private than the lock: fine
    policy.guard_change("privacy_mode", "title")
    with pytest.raises(PolicyLocked):
        policy.guard_change("conflict_policy", "newest")
    policy.guard_change("window_past_days", 7)  # a smaller window is tighter
    with pytest.raises(PolicyLocked):
        policy.guard_change("window_past_days", 30)
    policy.guard_change("notifications", "none")  # a default: the person may change it


def test_guard_change_refuses_restrictions_and_out_of_bounds(tmp_path: Path) -> None:
    policy = policy_with(
        tmp_path,
        locked={
            "sync_interval_min_minutes": 10,
            "window_future_days_max": 90,
            "directions_allowed": ["google_to_outlook"],
        },
    )
    with pytest.raises(PolicyLocked):
        policy.guard_change("window_future_days_max", 365)
    policy.guard_change("file_secret_store_allowed", True)  # not set by the organization
    with pytest.raises(PolicyForbidden):
        policy.guard_change("sync_interval_minutes", 5)
    policy.guard_change("sync_interval_minutes", 15)
    with pytest.raises(PolicyForbidden):
        policy.guard_change("window_future_days", 120)
    with pytest.raises(PolicyForbidden):
        policy.guard_change("direction", "both")
    policy.guard_change("direction", "google_to_outlook")
    with pytest.raises(PolicyForbidden):
        policy.guard_change("privacy_mode", "sideways")


# --- accounts ------------------------------------------------------------------------------------


def test_accounts_allowed_by_tenant_and_domain(tmp_path: Path) -> None:
    policy = policy_with(
        tmp_path,
        locked={
            "microsoft_tenants_allowed": ["contoso.com", "8f6a3c12-4d0b-4c1e-9b7a-2e5f1d3c4b6a"],
            "google_domains_allowed": ["contoso.com"],
            "google_domains_busy_only": ["gmail.com"],
        },
    )
    assert policy.account_allowed("microsoft", "a@contoso.com").allowed
    assert policy.account_allowed(
        "microsoft", "a@contoso.onmicrosoft.com", "8F6A3C12-4d0b-4c1e-9b7a-2e5f1d3c4b6a".lower()
    ).allowed
    assert not policy.account_allowed("microsoft", "a@fabrikam.com").allowed
    work = policy.account_allowed("google", "a@contoso.com")
    assert work.allowed and not work.busy_only
    home = policy.account_allowed("google", "alex@Gmail.com")
    assert home.allowed and home.busy_only
    assert not policy.account_allowed("google", "a@yahoo.com").allowed
    off = policy_with(tmp_path, locked={"disabled": True})
    assert not off.account_allowed("google", "a@contoso.com").allowed


def test_auth_overrides_and_file_store(tmp_path: Path) -> None:
    policy = policy_with(
        tmp_path,
        locked={
            "microsoft_client_id": "6F0E3A52-8f1c-4c4e-9d1b-5a0c4e7d2b10",
            "microsoft_tenant": "contoso.com",
            "google_client_secret": "GOCSPX-abcdefghijklmnop",
            "file_secret_store_allowed": False,
        },
    )
    assert policy.auth_overrides() == {
        "microsoft_client_id": "6f0e3a52-8f1c-4c4e-9d1b-5a0c4e7d2b10",
        "microsoft_tenant": "contoso.com",
        "google_client_secret": "GOCSPX-abcdefghijklmnop",
    }
    assert not policy.allow_file_store(person_chose=True)
    shown = json.dumps(policy.as_dict())
    assert "GOCSPX-abcdefghijklmnop" not in shown and "(set, hidden)" in shown
