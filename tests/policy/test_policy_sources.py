"""Each location's parsing: JSON files and drop-ins, macOS managed preferences, the registry."""

from __future__ import annotations

import plistlib
from pathlib import Path

from policykit import doc, linux, windows, write

from app.policy import Locations, load_policy
from app.policy.sources import (
    MACOS_BUNDLE_ID,
    DictRegistry,
    RegistryTree,
    read_json_file,
    read_registry,
)


def test_no_policy_anywhere_means_built_in_defaults(tmp_path: Path) -> None:
    policy = load_policy(linux(tmp_path))
    assert policy.sources == [] and policy.errors == [] and not policy.managed
    assert policy.value("privacy_mode") == "full" and not policy.locked("privacy_mode")
    assert policy.source("privacy_mode") == "built-in default"


def test_linux_policy_json_locked_and_defaults(tmp_path: Path) -> None:
    path = write(
        tmp_path / "etc/meridian/policy.json",
        doc({"privacy_mode": "busy", "window_past_days_max": 60}, {"sync_interval_minutes": 9}),
    )
    policy = load_policy(linux(tmp_path))
    assert policy.errors == []
    assert policy.sources == [str(path)]
    assert (policy.value("privacy_mode"), policy.locked("privacy_mode")) == ("busy", True)
    assert (policy.value("sync_interval_minutes"), policy.locked("sync_interval_minutes")) == (
        9,
        False,
    )
    assert policy.source("window_past_days_max") == str(path)
    # A restriction is enforced (locked) wherever it comes from.
    assert policy.locked("window_past_days_max")


def test_json_with_byte_order_mark_and_comments(tmp_path: Path) -> None:
    path = tmp_path / "etc/meridian/policy.json"
    path.parent.mkdir(parents=True)
    text = '{"_comment": "pushed by Intune", "$schema": "x", "schema_version": 1,'
    text += ' "locked": {"_note": "ok", "disabled": true}}'
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    policy = load_policy(linux(tmp_path))
    assert policy.errors == [] and policy.disabled


def test_policy_d_later_name_wins_and_policy_json_beats_drop_ins(tmp_path: Path) -> None:
    etc = tmp_path / "etc/meridian"
    write(etc / "policy.d/10-base.json", doc(defaults={"sync_interval_minutes": 10}))
    write(etc / "policy.d/90-site.json", doc(defaults={"sync_interval_minutes": 20}))
    write(etc / "policy.d/50-mid.json", doc(defaults={"notifications": "all"}))
    write(etc / "policy.d/README.txt", "not json, not read")
    policy = load_policy(linux(tmp_path))
    assert policy.errors == []
    assert policy.value("sync_interval_minutes") == 20
    assert policy.source("sync_interval_minutes").endswith("90-site.json")
    assert policy.value("notifications") == "all"
    assert [Path(s).name for s in policy.sources] == ["90-site.json", "50-mid.json", "10-base.json"]
    write(etc / "policy.json", doc(defaults={"sync_interval_minutes": 30}))
    policy = load_policy(linux(tmp_path))
    assert policy.value("sync_interval_minutes") == 30
    assert Path(policy.sources[0]).name == "policy.json"


def test_locked_beats_default_whatever_the_precedence(tmp_path: Path) -> None:
    etc = tmp_path / "etc/meridian"
    write(etc / "policy.json", doc(defaults={"privacy_mode": "full"}))
    write(etc / "policy.d/10-lock.json", doc(locked={"privacy_mode": "title"}))
    policy = load_policy(linux(tmp_path))
    assert (policy.value("privacy_mode"), policy.locked("privacy_mode")) == ("title", True)
    assert policy.source("privacy_mode").endswith("10-lock.json")


def test_macos_managed_preferences_plist(tmp_path: Path) -> None:
    path = tmp_path / "Library/Managed Preferences" / f"{MACOS_BUNDLE_ID}.plist"
    path.parent.mkdir(parents=True)
    content = {
        "schema_version": 1,
        "PayloadUUID": "added by the MDM; ignored",
        "locked": {"google_domains_busy_only": ["gmail.com"], "file_secret_store_allowed": False},
        "defaults": {"conflict_policy": "newest", "window_future_days": 60},
    }
    path.write_bytes(plistlib.dumps(content))
    policy = load_policy(Locations("macos", root=tmp_path))
    assert policy.errors == []
    assert policy.value("google_domains_busy_only") == ["gmail.com"]
    assert policy.value("file_secret_store_allowed") is False
    assert (policy.value("conflict_policy"), policy.locked("conflict_policy")) == ("newest", False)
    assert policy.value("window_future_days") == 60
    # Linux paths mean nothing on a Mac.
    write(tmp_path / "etc/meridian/policy.json", doc({"disabled": True}))
    assert not load_policy(Locations("macos", root=tmp_path)).disabled


def test_macos_binary_and_broken_plists(tmp_path: Path) -> None:
    path = tmp_path / "Library/Managed Preferences" / f"{MACOS_BUNDLE_ID}.plist"
    path.parent.mkdir(parents=True)
    path.write_bytes(plistlib.dumps(doc({"privacy_mode": "busy"}), fmt=plistlib.FMT_BINARY))
    assert load_policy(Locations("macos", root=tmp_path)).value("privacy_mode") == "busy"
    path.write_bytes(b"<?xml version='1.0'?><plist><dict><key>x</key>")
    policy = load_policy(Locations("macos", root=tmp_path))
    assert policy.disabled and [p.kind for p in policy.errors] == ["syntax"]


def test_registry_as_group_policy_writes_it(tmp_path: Path) -> None:
    policy = load_policy(
        windows(
            tmp_path,
            {
                "disabled": 0,  # REG_DWORD
                "Privacy_Mode": "busy",  # value names are case-insensitive
                "window_past_days_max": 45,
                # <list> elements: a subkey of values named 1, 2, ... (10 sorts after 2)
                "google_domains_allowed": {"1": "contoso.com", "2": "fabrikam.com", "10": "x.org"},
                "microsoft_tenants_allowed": ["contoso.com"],  # REG_MULTI_SZ works too
                "Recommended": {"sync_interval_minutes": 12, "directions_allowed_x": 1},
            },
        )
    )
    assert [p.kind for p in policy.errors] == ["unknown_key"]
    assert policy.value("disabled") is False and policy.locked("disabled")
    assert policy.value("privacy_mode") == "busy" and policy.locked("privacy_mode")
    assert policy.value("google_domains_allowed") == ["contoso.com", "fabrikam.com", "x.org"]
    assert policy.value("microsoft_tenants_allowed") == ["contoso.com"]
    assert (policy.value("sync_interval_minutes"), policy.locked("sync_interval_minutes")) == (
        12,
        False,
    )
    assert policy.source("privacy_mode") == r"HKLM\SOFTWARE\Policies\Meridian"


def test_registry_beats_programdata_file(tmp_path: Path) -> None:
    write(
        tmp_path / "ProgramData/Meridian/policy.json",
        doc({"privacy_mode": "title", "window_past_days_max": 10}),
    )
    policy = load_policy(windows(tmp_path, {"privacy_mode": "busy"}))
    assert policy.value("privacy_mode") == "busy"
    assert policy.value("window_past_days_max") == 10  # only the file sets it
    assert policy.source("window_past_days_max").endswith("policy.json")
    # Without a registry key the file alone applies.
    assert load_policy(windows(tmp_path)).value("privacy_mode") == "title"


def test_registry_booleans_are_dwords_only(tmp_path: Path) -> None:
    policy = load_policy(windows(tmp_path, {"disabled": 2, "file_secret_store_allowed": 1}))
    assert policy.disabled  # 2 is no boolean: the safest value (true) applies
    assert [(p.key, p.kind) for p in policy.errors] == [("disabled", "wrong_type")]
    assert policy.value("file_secret_store_allowed") is True


def test_unreadable_registry_key_turns_meridian_off(tmp_path: Path) -> None:
    class Denied(DictRegistry):
        def read_key(self, path: str) -> RegistryTree | None:
            raise PermissionError(13, "Access is denied")

    loc = Locations("windows", program_data=tmp_path, registry=Denied())
    policy = load_policy(loc)
    assert policy.disabled and policy.errors[0].kind == "unreadable"
    assert "Access is denied" in policy.errors[0].reason


def test_missing_registry_key_is_no_source(tmp_path: Path) -> None:
    assert read_registry(DictRegistry()) is None
    assert read_json_file(tmp_path / "nope.json") is None


def test_this_machine_default_locations_are_the_documented_ones() -> None:
    loc = Locations("linux")
    assert loc.files()[0] == Path("/etc/meridian/policy.json")
    mac = Locations("macos")
    assert mac.files() == [Path(f"/Library/Managed Preferences/{MACOS_BUNDLE_ID}.plist")]
    win = Locations("windows", program_data=Path("C:/ProgramData"))
    assert win.files() == [Path("C:/ProgramData/Meridian/policy.json")]
