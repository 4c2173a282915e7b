"""The diagnostic bundle (after a real sandbox sync; on a broken profile), the audit log's upkeep
and the ``diagnostics`` and ``audit`` commands."""

from __future__ import annotations

import datetime as dt
import json
import logging
import sqlite3
import urllib.parse
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import google.oauth2.credentials
import keyring
import keyring.backend
import keyring.errors
import pytest
import requests
from keyring.backends import fail

from app.cli import run
from app.core.rules import PairRules
from app.core.serialize import event_to_json
from app.paths import Profile
from app.policy import merge
from app.policy.sources import Locations, parse_document
from app.providers.google import GoogleProvider
from app.providers.microsoft import MicrosoftProvider
from app.sandbox.admin import SandboxAdmin, SandboxUser, trusting_session
from app.sandbox.server import Sandbox
from app.services import logs
from app.services.diagnostics import (
    Scrubber,
    export_bundle,
    literal_regex,
    prune_audit,
    record_policy_change,
)
from app.store.db import Database
from app.store.repo import Repo
from app.sync.engine import Engine, PairSpec, SideSpec


class MemoryKeyring(keyring.backend.KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.entries.pop((service, username), None)


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """A memory keyring, no real policy, and the log handlers removed afterwards."""
    previous = keyring.get_keyring()
    keyring.set_keyring(MemoryKeyring())
    monkeypatch.setattr(
        Locations,
        "for_this_machine",
        classmethod(lambda cls, user_file=None: Locations("linux", tmp_path / "no-root", None)),
    )
    root = logging.getLogger()
    level = root.level
    yield
    keyring.set_keyring(previous)
    for h in [h for h in root.handlers if getattr(h, "_meridian_handler", False)]:
        root.removeHandler(h)
        h.close()
    root.setLevel(level)
    logging.captureWarnings(False)
    logs.forget_secrets()


def unzip(path: Path) -> dict[str, str]:
    with zipfile.ZipFile(path) as zf:
        return {n: zf.read(n).decode("utf-8", errors="replace") for n in zf.namelist()}


def sandbox_secrets(sandbox: Sandbox) -> set[str]:
    """Every token, code and device code the sandbox issued (as tests/auth/authkit.py)."""
    data = sandbox.state.data
    out: set[str] = set()
    for table in ("access_tokens", "refresh_tokens", "oauth_codes", "device_codes"):
        out |= set(data.get(table, {}))
    return out


def policy_of(**locked: Any):  # type: ignore[no-untyped-def]
    return merge([parse_document({"schema_version": 1, "locked": locked}, "p.json", "machine")])


# --- scrubbing ----------------------------------------------------------------------------------


def test_scrubber_hashes_structured_fields_and_known_text() -> None:
    scrub = Scrubber(b"k" * 32)
    event = {
        "title": "Gym",  # short: hashed where it is a title, not searched for in free text
        "description": "Quarterly numbers draft",
        "organizer": ["boss@contoso.com", "Pat Boss"],
        "attendees": [["a@contoso.com", "Ann Example", "accepted", False, False]],
        "categories": ["Project Falcon"],
        "show_as": "busy",
    }
    scrub.learn_event(event)
    out = scrub.event(event)
    assert out["title"].startswith("[content:") and out["show_as"] == "busy"
    assert out["organizer"][0].startswith("[address:") and out["organizer"][1].startswith(
        "[content:"
    )
    assert out["attendees"][0][2:] == ["accepted", False, False]
    line = scrub.text("copying 'Quarterly numbers draft' for a%40contoso.com at the Gym")
    assert "Quarterly" not in line and "contoso" not in line and "Gym" in line
    assert scrub.digest("x", "content") == Scrubber(b"k" * 32).digest("x", "content")
    assert scrub.digest("x", "content") != Scrubber(b"j" * 32).digest("x", "content")


def test_literal_regex_prefers_the_longest_match() -> None:
    rx = literal_regex({"Lunch", "Lunch with Bob", "Board (Q4)"})
    assert rx.sub("#", "Lunch with Bob; Lunch; Board (Q4).") == "#; #; #."


# --- after a real sandbox sync ------------------------------------------------------------------


def _post(session: requests.Session, url: str, token: str, body: dict[str, Any]) -> None:
    r = session.post(url, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert r.status_code in (200, 201), r.text


@pytest.fixture
def synced(
    sandbox: Sandbox,
    admin: SandboxAdmin,
    google_user: SandboxUser,
    ms_user: SandboxUser,
    tmp_path: Path,
) -> Iterator[dict[str, Any]]:
    """A profile after a real sync between the sandbox's Outlook and Google calendars."""
    prof = Profile(tmp_path / "profile").ensure()
    logs.setup_logging(prof, level=logging.DEBUG)
    mark = uuid.uuid4().hex[:8]
    secret_text = {
        "work_title": f"Project Nightjar acquisition {mark}",
        "work_body": f"Confidential: the price is {mark} per share",
        "work_place": f"Boardroom Zeta {mark}",
        "attendee": f"Dana Quillfeather {mark}",
        "home_title": f"Oncology appointment {mark}",
        "home_body": f"Bring the biopsy results {mark}",
    }
    http = trusting_session(sandbox.ca_cert)
    start = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=2)
    end = start + dt.timedelta(hours=1)
    _post(
        http,
        f"{sandbox.urls.graph}/me/events",
        ms_user.access_token,
        {
            "subject": secret_text["work_title"],
            "body": {"contentType": "text", "content": secret_text["work_body"]},
            "location": {"displayName": secret_text["work_place"]},
            "attendees": [
                {
                    "emailAddress": {
                        "address": f"dana-{mark}@contoso.com",
                        "name": secret_text["attendee"],
                    },
                    "type": "required",
                }
            ],
            "start": {"dateTime": start.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
            "end": {"dateTime": end.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
        },
    )
    _post(
        http,
        f"{sandbox.urls.google_api}calendars/{urllib.parse.quote(google_user.email)}/events",
        google_user.access_token,
        {
            "summary": secret_text["home_title"],
            "description": secret_text["home_body"],
            "start": {"dateTime": (start + dt.timedelta(hours=3)).isoformat()},
            "end": {"dateTime": (end + dt.timedelta(hours=3)).isoformat()},
        },
    )
    ms = MicrosoftProvider(
        sandbox.urls.graph,
        lambda force: ms_user.access_token,
        ca_cert=str(sandbox.ca_cert),
        sleep=lambda s: None,
    )
    ms_cal = next(c.id for c in ms.list_calendars() if c.primary)
    g = GoogleProvider(
        google.oauth2.credentials.Credentials(token=google_user.access_token),  # type: ignore[no-untyped-call]
        api_endpoint=sandbox.urls.google_api,
        batch_uri=sandbox.urls.google_batch,
        ca_cert=str(sandbox.ca_cert),
        sleep=lambda s: None,
    )
    repo = Repo(Database(prof.database))
    with repo.db.tx() as c:
        for acct, provider, user in (("m-1", "microsoft", ms_user), ("g-1", "google", google_user)):
            c.execute(
                "INSERT INTO accounts (id, provider, email, display_name, added_at) "
                "VALUES (?,?,?,?,?)",
                (acct, provider, user.email, f"Alexandra Pemberton-{mark}", "2026-01-01"),
            )
            repo.audit("person", "account.sign_in", details={"account": acct, "email": user.email})
    config = {
        "a": {"account": "m-1", "calendar": ms_cal},
        "b": {"account": "g-1", "calendar": google_user.email},
    }
    repo.add_pair("p1", "Work and home", config)
    spec = PairSpec(
        "p1",
        "Work and home",
        PairRules(),
        SideSpec(ms, ms_cal, ms_user.email),
        SideSpec(g, google_user.email, google_user.email),
    )
    result = Engine(repo).run(spec)
    assert result.counts["created"] == 2, result.as_dict()
    # What the bundle has to hide beyond the copies: a conflict and an overlap naming events.
    link = repo.links("p1")[0]
    assert link.a_event is not None and link.b_event is not None
    repo.add_conflict(
        "p1", link.id or 0, ["title"], event_to_json(link.a_event), event_to_json(link.b_event)
    )
    with repo.db.tx() as c:
        c.execute(
            "INSERT INTO overlaps (pair_id, a_id, b_id, a_summary, b_summary, start, found_at) "
            "VALUES ('p1', 'x', 'y', ?, ?, ?, ?)",
            (
                secret_text["work_title"],
                secret_text["home_title"],
                start.isoformat(),
                start.isoformat(),
            ),
        )
    # Mistakes a bundle must survive: a token logged through the filter, and an old log file
    # written without it (by an older version, or a crash handler) with tokens, text, addresses.
    logs.register_secret(google_user.access_token)
    logging.getLogger("app.test").warning(
        "leaked %s and Bearer %s", google_user.access_token, ms_user.access_token
    )
    (prof.logs / "meridian.log.1").write_text(
        "\n".join(
            [
                f"old: Authorization: Bearer {ms_user.access_token}",
                f"old: bare tokens {ms_user.access_token} {ms_user.refresh_token}",
                f"old: refresh_token={google_user.refresh_token}&client_id=x",
                f'old: {{"access_token": "{google_user.access_token}"}}',
                f"old: GET /calendars/{urllib.parse.quote(google_user.email)}/events",
                f"old: syncing '{secret_text['work_title']}' for {ms_user.email}",
                f"old: account Alexandra Pemberton-{mark}",
            ]
        ),
        encoding="utf-8",
    )
    yield {
        "profile": prof,
        "repo": repo,
        "text": secret_text,
        "emails": [ms_user.email, google_user.email, f"dana-{mark}@contoso.com"],
        "name": f"Alexandra Pemberton-{mark}",
    }
    repo.db.close()
    ms.close()


def _assert_clean(files: dict[str, str], secrets: set[str], hidden: list[str]) -> None:
    for name, text in files.items():
        for s in secrets:
            assert s not in text, f"a sandbox secret is in {name}"
        lowered = text.lower()
        for h in hidden:
            assert h.lower() not in lowered, f"{h!r} is in {name}"
            assert urllib.parse.quote(h).lower() not in lowered, f"{h!r} (url-encoded) in {name}"


def test_bundle_after_a_sandbox_sync_has_no_secret_title_or_address(
    synced: dict[str, Any], sandbox: Sandbox, tmp_path: Path
) -> None:
    prof: Profile = synced["profile"]
    out = export_bundle(prof, synced["repo"], policy_of(privacy_mode="title"), tmp_path / "b.zip")
    files = unzip(out)
    expected = {
        "README.txt", "manifest.json", "problems.txt", "app.json", "policy.json",
        "settings.json", "accounts.json", "pairs.json", "runs.json", "issues.json",
        "conflicts.json", "overlaps.json", "audit.json", "metrics.json", "database.txt",
        "logs/meridian.log", "logs/meridian.log.1",
    }  # fmt: skip
    assert set(files) == expected
    assert files["problems.txt"] == "none\n"
    hidden = [*synced["text"].values(), *synced["emails"], synced["name"]]
    _assert_clean(files, sandbox_secrets(sandbox), hidden)
    # What support needs is still there.
    runs = json.loads(files["runs.json"])["runs"]
    assert runs[0]["counts"]["created"] == 2 and runs[0]["requests"]["a"] > 0
    assert "[content:" in files["conflicts.json"] and "[content:" in files["overlaps.json"]
    assert "[address:" in files["accounts.json"] and "[address:" in files["logs/meridian.log.1"]
    assert "[REDACTED]" in files["logs/meridian.log"]
    assert json.loads(files["policy.json"])["settings"]["privacy_mode"]["locked"] is True
    assert "integrity check: ok" in files["database.txt"]
    assert json.loads(files["metrics.json"])["overall"]["runs"] == 1
    assert json.loads(files["app.json"])["tzdata"]
    # Hashes are stable from bundle to bundle of one profile (support can match them up).
    again = unzip(export_bundle(prof, synced["repo"], None, tmp_path / "again.zip"))
    assert json.loads(again["overlaps.json"]) == json.loads(files["overlaps.json"])


def test_opting_in_keeps_content_and_addresses_but_never_secrets(
    synced: dict[str, Any], sandbox: Sandbox, tmp_path: Path
) -> None:
    out = export_bundle(
        synced["profile"],
        None,  # as the CLI does: the database opened read-only
        None,
        tmp_path / "full.zip",
        include_content=True,
        include_addresses=True,
    )
    with zipfile.ZipFile(out) as zf:
        assert "state.db" in zf.namelist()
        files = {n: zf.read(n).decode("utf-8", "replace") for n in zf.namelist() if n != "state.db"}
    _assert_clean(files, sandbox_secrets(sandbox), [])
    everything = "\n".join(files.values())
    assert synced["text"]["work_title"] in everything
    assert synced["emails"][0] in everything
    assert json.loads(files["manifest.json"])["include_content"] is True


def test_only_content_opt_in_still_hashes_addresses_and_leaves_the_database_out(
    synced: dict[str, Any], tmp_path: Path
) -> None:
    files = unzip(
        export_bundle(
            synced["profile"], synced["repo"], None, tmp_path / "c.zip", include_content=True
        )
    )
    assert "state.db" not in files
    everything = "\n".join(files.values())
    assert synced["text"]["home_title"] in everything
    assert all(e.lower() not in everything.lower() for e in synced["emails"])


# --- a broken profile ----------------------------------------------------------------------------


def test_bundle_on_a_broken_profile_lists_what_failed(tmp_path: Path) -> None:
    prof = Profile(tmp_path / "profile")
    prof.root.mkdir()
    prof.database.write_bytes(b"this is not a database" * 100)
    keyring.set_keyring(fail.Keyring())
    out = export_bundle(prof, None, None, tmp_path / "broken.zip")
    files = unzip(out)
    problems = files["problems.txt"]
    assert "password store: no keyring backend is available" in problems
    assert "logs: no log files" in problems
    assert "pairs.json: DatabaseError" in problems and "runs.json: DatabaseError" in problems
    assert "database: the integrity check could not run" in problems
    assert "integrity check: FAILED (file is not a database)" in files["database.txt"]
    for always in ("README.txt", "manifest.json", "app.json", "policy.json", "settings.json"):
        assert always in files
    assert json.loads(files["accounts.json"])["password_store"]["ok"] is False
    assert prof.database.read_bytes().startswith(b"this is not")  # examined, not repaired


def test_bundle_without_any_profile(tmp_path: Path) -> None:
    prof = Profile(tmp_path / "never-used")
    files = unzip(export_bundle(prof, None, None))
    assert "database: there is no state database" in files["problems.txt"]
    assert (prof.root / "diagnostics").is_dir()


def test_a_policy_problem_is_in_the_bundle(tmp_path: Path) -> None:
    policy = merge([parse_document({"locked": {"privacy_mode": 5}}, "/etc/x.json", "machine")])
    files = unzip(export_bundle(Profile(tmp_path / "p"), None, policy, tmp_path / "x.zip"))
    errors = json.loads(files["policy.json"])["errors"]
    assert {(e["source"], e["key"], e["kind"]) for e in errors} >= {
        ("/etc/x.json", "privacy_mode", "wrong_type")
    }


# --- the audit log's upkeep -----------------------------------------------------------------------


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[Repo]:
    r = Repo(Database(tmp_path / "profile" / "state.db"))
    yield r
    r.db.close()


def test_policy_changes_are_audited_once(repo: Repo) -> None:
    assert record_policy_change(repo, merge([])) == {}  # no policy at first start: silent
    changed = record_policy_change(
        repo, policy_of(privacy_mode="busy", google_client_secret="GOCSPX-abcdefghijkl")
    )
    assert set(changed) == {"privacy_mode", "google_client_secret"}
    assert (
        record_policy_change(
            repo, policy_of(privacy_mode="busy", google_client_secret="GOCSPX-abcdefghijkl")
        )
        == {}
    )
    rows = [r for r in repo.audit_rows() if r["action"] == "policy.changed"]
    assert len(rows) == 1 and rows[0]["actor"] == "policy"
    assert rows[0]["details"]["changed"]["privacy_mode"]["from"] == "full"
    assert "GOCSPX" not in json.dumps(rows[0])


def test_prune_audit_keeps_the_retention(repo: Repo) -> None:
    with repo.db.tx() as c:
        for day in (1, 100, 400):
            at = (dt.datetime(2026, 11, 21, tzinfo=dt.UTC) - dt.timedelta(days=day)).isoformat()
            c.execute("INSERT INTO audit (at, actor, action) VALUES (?, 'sync', 'created')", (at,))
    assert prune_audit(repo, 180, dt.datetime(2026, 11, 21, tzinfo=dt.UTC)) == 1
    assert len(list(repo.audit_rows())) == 2


# --- the commands --------------------------------------------------------------------------------


def test_audit_export_csv_and_json(
    repo: Repo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo.audit("sync", "created", pair_id="p1", side="b", item_id="e1", why="new event")
    repo.audit("person", "account.sign_in", why="=HYPERLINK(1)", details={"email": "a@x.com"})
    profile_dir = str(tmp_path / "profile")
    assert run(["--profile-dir", profile_dir, "audit", "export", "--csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "id,at,actor,action,pair_id,side,item_id,why,details"
    assert len(lines) == 3 and ",'=HYPERLINK(1)," in lines[2]  # no formula for spreadsheets
    out = tmp_path / "audit.json"
    assert run(["--profile-dir", profile_dir, "audit", "export", "--json", "-o", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert [e["action"] for e in doc["entries"]] == ["created", "account.sign_in"]
    assert doc["entries"][1]["details"] == {"email": "a@x.com"}
    tomorrow = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).date().isoformat()
    assert (
        run(["--profile-dir", profile_dir, "audit", "export", "--json", "--since", tomorrow]) == 0
    )
    assert json.loads(capsys.readouterr().out)["entries"] == []
    assert run(["--profile-dir", profile_dir, "audit", "export", "--json", "--since", "soon"]) == 1
    assert run(["--profile-dir", str(tmp_path / "empty"), "audit", "export", "--csv"]) == 0


def test_diagnostics_export_command(
    repo: Repo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "bundle.zip"
    argv = ["--profile-dir", str(tmp_path / "profile"), "diagnostics", "export", "-o", str(target)]
    assert run(argv) == 0
    assert capsys.readouterr().out.strip() == str(target)
    assert "README.txt" in zipfile.ZipFile(target).namelist()


def test_corrupt_database_is_not_moved_by_the_audit_export(tmp_path: Path) -> None:
    prof = Profile(tmp_path / "profile")
    prof.root.mkdir()
    prof.database.write_bytes(b"garbage" * 1000)
    assert run(["--profile-dir", str(prof.root), "audit", "export", "--csv"]) == 1
    assert prof.database.exists()
    with pytest.raises(sqlite3.DatabaseError):
        sqlite3.connect(prof.database).execute("SELECT 1 FROM audit").fetchall()
