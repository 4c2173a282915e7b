"""The real `meridian` command against a standalone seeded sandbox, as a person or IT would run it.

Sign in to both demo accounts headless, pair them, sync, sync again: the demo's meeting that is
on both calendars is linked (never copied), nobody is e-mailed, and the second sync is quiet.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.sandbox.admin import SandboxAdmin
from app.sandbox.seed import HOME_EMAIL, WORK_EMAIL


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    state = tmp_path_factory.mktemp("sandbox")
    proc = subprocess.Popen(
        [sys.executable, "-m", "app", "sandbox", "serve", "--seed", "demo", "--state", str(state)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    info = json.loads(proc.stdout.readline())
    info["root"] = info["admin"].removesuffix("/_sandbox/")
    yield info
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=15)


def meridian(served: dict[str, Any], profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "app", "--profile-dir", str(profile), "--sandbox", served["root"]]
    env = dict(os.environ, MERIDIAN_SANDBOX_CA=served["ca_cert"])
    return subprocess.run(
        [*cmd, *args], capture_output=True, text=True, timeout=120, env=env, check=False
    )


def ok(r: subprocess.CompletedProcess[str]) -> str:
    assert r.returncode == 0, f"exit {r.returncode}\nstdout: {r.stdout}\nstderr: {r.stderr}"
    return r.stdout


def test_first_launch_to_a_quiet_two_way_pair(served: dict[str, Any], tmp_path: Path) -> None:
    admin = SandboxAdmin(served["root"], served["ca_cert"])
    users = {u["email"]: u for u in admin.users()}
    admin.auto_approve("microsoft", users[WORK_EMAIL]["id"])
    admin.auto_approve("google", users[HOME_EMAIL]["id"])
    profile = tmp_path / "profile"
    ok(meridian(served, profile, "accounts", "add", "microsoft"))
    ok(meridian(served, profile, "accounts", "add", "google"))
    listed = json.loads(ok(meridian(served, profile, "accounts", "list", "--json")))
    assert sorted(a["email"] for a in listed["accounts"]) == sorted([WORK_EMAIL, HOME_EMAIL])

    ok(
        meridian(
            served,
            profile,
            "pairs",
            "add",
            "work-home",
            "--outlook",
            WORK_EMAIL,
            "--google",
            HOME_EMAIL,
        )
    )
    plan = json.loads(ok(meridian(served, profile, "sync", "--once", "--dry-run", "--json")))
    assert plan["plan"], "a dry run prints what the first sync would do"
    assert admin.outbox() == []

    first = json.loads(ok(meridian(served, profile, "sync", "--once", "--json")))
    assert first["errors"] == 0, first
    assert first["created"] >= 8
    assert first["linked"] >= 1  # the partner meeting is on both calendars: linked, not copied
    # Copies never invite or e-mail anyone.
    assert admin.outbox() == []

    second = json.loads(ok(meridian(served, profile, "sync", "--once", "--json")))
    assert (second["created"], second["updated"], second["deleted"]) == (0, 0, 0), second
    # A series copy's changeKey moved when its moved occurrence was written after it: the
    # second poll reads that one series again (a few $batch requests), and writes nothing.
    assert second["requests"]["outlook"] <= 4 and second["requests"]["google"] <= 2, second
    third = json.loads(ok(meridian(served, profile, "sync", "--once", "--json")))
    # A poll with no changes costs one request per calendar.
    assert third["requests"] == {"outlook": 1, "google": 1}, third

    status = json.loads(ok(meridian(served, profile, "status", "--json")))
    assert status["pairs"][0]["last_run"]["status"] == "ok"


def test_a_policy_forbidding_descriptions_keeps_them_out_of_copies(
    served: dict[str, Any], tmp_path: Path
) -> None:
    """IT says: never copy descriptions from work to personal. The copies carry none."""
    from app.sandbox.admin import trusting_session

    admin = SandboxAdmin(served["root"], served["ca_cert"])
    work = admin.create_user("microsoft", "pat@contoso.com", "Pat")
    home = admin.create_user("google", "pat.home@gmail.com", "Pat")
    http = trusting_session(served["ca_cert"])
    start = "2026-11-24T15:00:00"
    r = http.post(
        served["microsoft"]["graph"] + "/me/events",
        headers={**work.auth(), "Content-Type": "application/json"},
        json={
            "subject": "Salary review",
            "body": {"contentType": "text", "content": "Confidential: the numbers."},
            "start": {"dateTime": start, "timeZone": "UTC"},
            "end": {"dateTime": "2026-11-24T16:00:00", "timeZone": "UTC"},
        },
        timeout=10,
    )
    assert r.status_code == 201
    admin.auto_approve("microsoft", work.id)
    admin.auto_approve("google", home.id)
    profile = tmp_path / "profile"
    profile.mkdir()
    # A user-level policy file may only tighten; the machine has none, so this one applies.
    (profile / "policy.json").write_text(
        json.dumps(
            {
                "schema_version": 1,
                "locked": {"fields_outlook_to_google": ["time", "title", "show_as", "privacy"]},
            }
        )
    )
    ok(meridian(served, profile, "accounts", "add", "microsoft"))
    ok(meridian(served, profile, "accounts", "add", "google"))
    added = ok(
        meridian(
            served,
            profile,
            "pairs",
            "add",
            "no-notes",
            "--outlook",
            work.email,
            "--google",
            home.email,
            "--direction",
            "a_to_b",
        )
    )
    assert "Set by your organization" in added
    first = json.loads(ok(meridian(served, profile, "sync", "--once", "--json")))
    assert first["errors"] == 0 and first["created"] == 1, first
    items = http.get(
        f"{served['google']['api_endpoint']}calendars/{home.email}/events",
        headers=home.auth(),
        timeout=10,
    ).json()["items"]
    assert [i["summary"] for i in items] == ["Salary review"]
    assert "Confidential" not in json.dumps(items)  # nowhere in the copy


def test_the_tray_app_starts_on_a_profile_and_quits_on_sigterm(
    served: dict[str, Any], tmp_path: Path
) -> None:
    """`meridian --profile-dir P --sandbox URL` (the app a person runs) starts and stops cleanly."""
    import queue
    import threading

    env = dict(os.environ, MERIDIAN_SANDBOX_CA=served["ca_cert"], QT_QPA_PLATFORM="offscreen")
    cmd = [sys.executable, "-m", "app", "--profile-dir", str(tmp_path / "p")]
    proc = subprocess.Popen(
        [*cmd, "--sandbox", served["root"]],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stderr is not None
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in proc.stderr], daemon=True).start()
    seen: list[str] = []
    try:
        while not any("is running" in x for x in seen):
            seen.append(lines.get(timeout=60))  # the app says so once its window/tray is up
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    assert "Traceback" not in "".join(seen)
