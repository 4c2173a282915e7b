"""`meridian sandbox serve`: the standalone sandbox a person or an IT evaluator runs."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import google_auth_httplib2
import httplib2
import requests
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build

from app.sandbox.admin import SandboxAdmin, trusting_session


def _start(state: Path) -> tuple[subprocess.Popen[str], dict]:  # type: ignore[type-arg]
    proc = subprocess.Popen(
        [sys.executable, "-m", "app", "sandbox", "serve", "--seed", "demo", "--state", str(state)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()  # blocks until the ready line (or EOF if it died)
    if not line:
        proc.wait(timeout=10)
        raise AssertionError(f"sandbox did not start: {proc.stderr.read() if proc.stderr else ''}")
    return proc, json.loads(line)


def _stop(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=15) == 0


def test_serve_demo_answers_real_clients_and_keeps_its_data(tmp_path: Path) -> None:
    proc, info = _start(tmp_path)
    try:
        assert info["ready"] is True
        assert info["seed"]["seeded"] is True
        ca = info["ca_cert"]
        root = info["admin"].removesuffix("/_sandbox/")
        admin = SandboxAdmin(root, ca)
        users = {u["service"]: u for u in admin.users()}
        g_token = admin.new_tokens(users["google"]["id"])["access_token"]
        m_token = admin.new_tokens(users["microsoft"]["id"])["access_token"]

        http = google_auth_httplib2.AuthorizedHttp(
            Credentials(token=g_token), http=httplib2.Http(ca_certs=ca)
        )
        svc = build(
            "calendar",
            "v3",
            http=http,
            static_discovery=True,
            client_options={"api_endpoint": info["google"]["api_endpoint"]},
        )
        events = svc.events().list(calendarId="primary").execute()
        titles = {e.get("summary") for e in events["items"]}
        assert {"Climbing", "Sam's birthday", "Therapy"} <= titles
        assert "nextSyncToken" in events

        s = trusting_session(ca)
        r = s.get(
            info["microsoft"]["graph"] + "/me/calendarView/delta",
            params={"startDateTime": "2000-01-01T00:00:00Z", "endDateTime": "2100-01-01T00:00:00Z"},
            headers={"Authorization": f"Bearer {m_token}", "Prefer": "odata.maxpagesize=200"},
            timeout=10,
        )
        assert r.status_code == 200
        body = r.json()
        assert "@odata.deltaLink" in body or "@odata.nextLink" in body
        subjects = {v.get("subject") for v in body["value"]}
        assert "Team standup" in subjects or "Ops review" in subjects
    finally:
        _stop(proc)

    # Restart on the same folder: same users, no second seed, same CA.
    proc, again = _start(tmp_path)
    try:
        assert again["seed"]["seeded"] is False
        assert again["ca_cert"] == info["ca_cert"]
        admin = SandboxAdmin(again["admin"].removesuffix("/_sandbox/"), again["ca_cert"])
        assert sorted(u["email"] for u in admin.users()) == sorted(
            u["email"] for u in users.values()
        )
    finally:
        _stop(proc)


def test_serve_refuses_a_bad_port() -> None:
    r = subprocess.run(
        [sys.executable, "-m", "app", "sandbox", "serve", "--port", "70000"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert r.returncode == 2
    assert "--port" in r.stderr
    assert "Traceback" not in r.stderr


def test_version() -> None:
    r = subprocess.run(
        [sys.executable, "-m", "app", "--version"], capture_output=True, text=True, timeout=30
    )
    assert r.returncode == 0
    from app import __version__

    assert r.stdout.startswith(f"meridian {__version__}")
    assert requests  # the CLI test module imports requests for the Graph call above
