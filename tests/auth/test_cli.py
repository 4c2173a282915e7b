"""``meridian accounts`` in a child process, headless against the sandbox, then a secret scan."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from authkit import sandbox_secrets

from app.sandbox.admin import SandboxAdmin
from app.sandbox.server import Sandbox

ROOT = Path(__file__).resolve().parents[2]


def _meridian(
    profile: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "app", "--profile-dir", str(profile), *args]
    proc = subprocess.run(
        argv,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )
    proc.args = argv
    return proc


def test_add_list_remove_headless_against_the_sandbox(
    sandbox: Sandbox, admin: SandboxAdmin, tmp_path: Path
) -> None:
    profile = tmp_path / "profile"
    g = admin.create_user("google", "cli-g@example.com")
    m = admin.create_user("microsoft", "cli-m@example.com")
    admin.auto_approve("google", g.id)
    admin.auto_approve("microsoft", m.id)
    sb = ["--sandbox", sandbox.urls.root]
    ca = ["--sandbox-ca", str(sandbox.ca_cert)]
    runs = [
        _meridian(profile, *sb, "accounts", "add", "google", *ca),
        _meridian(profile, *sb, "accounts", "add", "microsoft", "--device-code", *ca),
        _meridian(profile, *sb, "accounts", "list", "--json", *ca),
        _meridian(profile, *sb, "accounts", "remove", g.email, *ca),
    ]
    for run in runs:
        assert run.returncode == 0, run.stderr
    assert "Signed in: cli-g@example.com (Google)" in runs[0].stdout
    assert "sandbox throwaway store" in runs[0].stderr
    assert "Signed in: cli-m@example.com (Microsoft)" in runs[1].stdout
    assert "enter the code" in runs[1].stderr  # the device-code message, for the person
    listed = {a["email"]: a["status"] for a in json.loads(runs[2].stdout)["accounts"]}
    assert listed == {"cli-g@example.com": "ok", "cli-m@example.com": "ok"}
    assert "Signed out: cli-g@example.com (Google), access revoked" in runs[3].stdout
    after = _meridian(profile, *sb, "accounts", "list", *ca)
    assert "signed out" in after.stdout and "cli-m@example.com" in after.stdout

    secrets = sandbox_secrets(sandbox) | {"meridian-sandbox-secret"}
    for run in [*runs, after]:
        seen = " ".join(run.args) + run.stdout + run.stderr
        assert [s for s in secrets if s in seen] == []
    for path in (p for p in profile.rglob("*") if p.is_file()):
        data = path.read_bytes()
        assert [s for s in secrets if s.encode() in data] == [], path


def test_without_a_keyring_nothing_is_signed_in_or_written(tmp_path: Path) -> None:
    profile = tmp_path / "profile"
    run = _meridian(
        profile,
        "accounts",
        "add",
        "google",
        env={"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"},
    )
    assert run.returncode == 1
    assert "No safe place for passwords" in run.stderr and "--allow-file-store" in run.stderr
    assert not profile.exists()


def test_sandbox_needs_its_ca(sandbox: Sandbox, tmp_path: Path) -> None:
    run = _meridian(
        tmp_path / "p",
        "--sandbox",
        sandbox.urls.root,
        "accounts",
        "list",
        env={"MERIDIAN_SANDBOX_CA": ""},
    )
    assert run.returncode == 1 and "--sandbox-ca FILE" in run.stderr


def test_a_consent_page_nobody_answers_fails_fast(
    sandbox: Sandbox, admin: SandboxAdmin, tmp_path: Path
) -> None:
    admin.create_user("google", "cli-nobody@example.com")  # auto-approve is off
    run = _meridian(
        tmp_path / "p",
        "--sandbox",
        sandbox.urls.root,
        "accounts",
        "add",
        "google",
        "--sandbox-ca",
        str(sandbox.ca_cert),
        "--timeout",
        "30",
    )
    assert run.returncode == 1
    assert "cancelled" in run.stderr and "consent page" in run.stderr
