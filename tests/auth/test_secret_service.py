"""The vault against a real Secret Service (gnome-keyring on a private D-Bus session).

Opt-in: needs Debian's ``gnome-keyring`` and ``dbus-x11`` (``dbus-run-session``), so the default
run deselects it (pyproject addopts) and CI runs it with ``-m secret_service`` after installing
them (.ci/run). Selected without those programs, it fails with the install hint. Everything
runs in a child process with its own HOME and runtime folder: the machine's own keyring is
never touched.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.secret_service

_CHILD = textwrap.dedent(
    """
    import secrets, sys
    from pathlib import Path
    import keyring
    from app.auth.vault import SERVICE, KeyringVault, keyring_problem, open_vault
    from app.paths import Profile

    backend = keyring.get_keyring()  # what a person's session would pick: no override
    assert keyring_problem(backend) is None, backend
    profile = Profile(Path(sys.argv[1])).ensure()
    vault = open_vault(profile)
    assert isinstance(vault, KeyringVault), vault.label
    big = secrets.token_urlsafe(15000)  # an msal cache is this large
    vault.put("m-1", "tokens", big, new_account=True)
    key = backend.get_password(SERVICE, "account-key:m-1")
    assert key and len(key) == 44
    assert KeyringVault(profile.secrets).get("m-1", "tokens") == big  # as after a restart
    backend.delete_password(SERVICE, "account-key:m-1")  # deleted behind our back
    assert vault.get("m-1", "tokens") is None
    vault.put("m-1", "tokens", "again", new_account=True)
    vault.delete_account("m-1")
    assert backend.get_password(SERVICE, "account-key:m-1") is None
    print("secret-service-ok:", vault.label)
    """
)


def test_vault_on_a_real_secret_service(tmp_path: Path) -> None:
    for tool in ("dbus-run-session", "gnome-keyring-daemon"):
        assert shutil.which(tool), f"{tool} missing: apt-get install gnome-keyring dbus-x11"
    home, runtime = tmp_path / "home", tmp_path / "run"
    for folder in (home / ".cache", home / ".local/share", runtime):
        folder.mkdir(parents=True)
    runtime.chmod(0o700)
    env = {
        **os.environ,
        "HOME": str(home),
        "XDG_RUNTIME_DIR": str(runtime),
        "PYTHON_KEYRING_BACKEND": "",
        # The throwaway keyring's unlock password goes by environment, not on a command line.
        "KEYRING_UNLOCK": "meridian-test",
        "CHILD_SCRIPT": _CHILD,
        "PY": sys.executable,
    }
    env.pop("PYTHON_KEYRING_BACKEND")
    shell = (
        'eval "$(printf %s "$KEYRING_UNLOCK" | gnome-keyring-daemon --unlock '
        '--components=secrets)" && export GNOME_KEYRING_CONTROL && '
        'exec "$PY" -c "$CHILD_SCRIPT" "$1"'
    )
    run = subprocess.run(
        ["dbus-run-session", "--", "sh", "-c", shell, "sh", str(tmp_path / "profile")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert "secret-service-ok: OS keyring (SecretService Keyring)" in run.stdout
