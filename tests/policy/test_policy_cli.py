"""``meridian policy show|check|allows`` on a fake machine (never the real /etc or registry)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from policykit import doc, write

from app.cli import run
from app.policy import Locations


@pytest.fixture
def machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This machine's / is tmp_path/root; returns /etc/meridian."""
    root = tmp_path / "root"

    def fake(cls: type[Locations], user_file: Path | None = None) -> Locations:
        return Locations("linux", root=root, user_file=user_file)

    monkeypatch.setattr(Locations, "for_this_machine", classmethod(fake))
    return root / "etc" / "meridian"


def cli(tmp_path: Path, *argv: str) -> int:
    return run(["--profile-dir", str(tmp_path / "profile"), *argv])


def test_show_prints_values_with_their_sources(
    tmp_path: Path, machine: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(
        machine / "policy.json",
        doc({"privacy_mode": "busy", "colour": 1}, {"sync_interval_minutes": 9}),
    )
    write(tmp_path / "profile" / "policy.json", doc({"window_past_days_max": 7}))
    assert cli(tmp_path, "policy", "show") == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith("privacy_mode"))
    assert "locked" in line and '"busy"' in line and str(path) in line
    interval = next(x for x in out.splitlines() if x.startswith("sync_interval_minutes "))
    assert "default" in interval and "9" in interval
    window = next(x for x in out.splitlines() if x.startswith("window_past_days_max"))
    assert "profile" in window and "7" in window
    assert "colour: is not a Meridian policy key" in out

    assert cli(tmp_path, "policy", "show", "--json") == 0
    data = json.loads(capsys.readouterr().out)
    assert data["settings"]["privacy_mode"] == {
        "value": "busy",
        "source": str(path),
        "locked": True,
    }
    assert data["errors"][0]["key"] == "colour"


def test_show_without_policy(tmp_path: Path, machine: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert cli(tmp_path, "policy", "show") == 0
    assert "No organization policy" in capsys.readouterr().out


def test_check_valid_and_invalid_files(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    good = write(tmp_path / "good.json", doc({"privacy_mode": "busy"}))
    assert run(["policy", "check", str(good)]) == 0
    assert capsys.readouterr().out.strip() == f"{good}: OK"
    bad = write(
        tmp_path / "bad.json",
        doc({"privacy_mode": "loud", "window_past_days_max": 10}, {"window_past_days": 30}),
    )
    broken = write(tmp_path / "broken.json", "{")
    assert run(["policy", "check", str(good), str(bad), str(broken)]) == 1
    out = capsys.readouterr().out
    assert f"{bad}: privacy_mode: 'loud' is not one of full, title, busy" in out
    assert f"{bad}: window_past_days: beyond window_past_days_max" in out
    assert f"{broken}: is not valid JSON" in out
    assert run(["policy", "check", "--json", str(bad)]) == 1
    report = json.loads(capsys.readouterr().out)
    assert not report["ok"]
    assert {p["kind"] for p in report["files"][str(bad)]} == {"invalid_value", "contradiction"}
    assert run(["policy", "check", str(tmp_path / "missing.json")]) == 1


def test_allows_refuses_locked_settings(
    tmp_path: Path, machine: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(
        machine / "policy.json",
        doc({"privacy_mode": "title", "sync_interval_min_minutes": 10}, {"notifications": "all"}),
    )
    assert cli(tmp_path, "policy", "allows", "privacy_mode", "full") == 1
    err = capsys.readouterr().err
    assert "Set by your organization" in err and "title" in err
    assert cli(tmp_path, "policy", "allows", "privacy_mode", "busy") == 0
    assert cli(tmp_path, "policy", "allows", "notifications", "none") == 0
    assert cli(tmp_path, "policy", "allows", "sync_interval_minutes", "5") == 1
    assert "Not allowed by your organization" in capsys.readouterr().err
    assert cli(tmp_path, "policy", "allows", "sync_interval_minutes", "soon") == 1
    assert cli(tmp_path, "policy", "allows", "no_such_key", "1") == 1
    assert "no policy key" in capsys.readouterr().err
