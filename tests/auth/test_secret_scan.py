"""The secret scan: sign in, sync, fail on purpose, export diagnostics, then look for every secret.

Secrets are every access token, refresh token, authorization code and device code the sandbox
ever issued, the client secret, the PKCE verifiers and the vault keys. They must not appear in
any file under the profile (state database and its WAL, encrypted blobs, logs, the diagnostic
export), in any log record (every logger at DEBUG), or in any exception raised on the way.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import google_auth_httplib2
import httplib2
import msal
import pytest
from authkit import api_get, sandbox_secrets
from conftest import MemoryKeyring
from google_auth_oauthlib.flow import Flow
from googleapiclient.discovery import build

from app.auth.google_oauth import SourceCredentials
from app.errors import MeridianError
from app.paths import Profile
from app.sandbox.admin import SandboxAdmin
from app.sandbox.server import Sandbox
from app.services.accounts import AccountService
from app.store.repo import Repo


@pytest.fixture
def verifiers(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The PKCE verifiers both libraries generate (secrets of the sign-in)."""
    seen: list[str] = []
    real_url = Flow.authorization_url
    real_flow = msal.PublicClientApplication.initiate_auth_code_flow

    def google_url(self: Flow, **kw: Any) -> Any:
        out = real_url(self, **kw)
        seen.append(str(self.code_verifier))
        return out

    def ms_flow(self: Any, *a: Any, **kw: Any) -> Any:
        flow = real_flow(self, *a, **kw)
        seen.append(str(flow["code_verifier"]))
        return flow

    monkeypatch.setattr(Flow, "authorization_url", google_url)
    monkeypatch.setattr(msal.PublicClientApplication, "initiate_auth_code_flow", ms_flow)
    return seen


@pytest.fixture
def log_file(profile: Profile) -> Iterator[Path]:
    """What the app's log file would get: every logger, DEBUG and up."""
    path = profile.logs / "meridian.log"
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield path
    root.removeHandler(handler)
    root.setLevel(old_level)
    handler.close()


def _export_diagnostics(repo: Repo, service: AccountService, profile: Profile) -> Path:
    """A stand-in for the diagnostic bundle: database copy, audit log, accounts, settings."""
    folder = profile.root / "diagnostics"
    folder.mkdir()
    repo.db.copy_to(folder / "state.db")
    (folder / "audit.json").write_text(json.dumps(list(repo.audit_rows()), default=str))
    accounts = [a.as_dict() for a in service.accounts()]
    (folder / "accounts.json").write_text(json.dumps(accounts))
    (folder / "vault.txt").write_text(service.vault.label)
    return folder


def _find(haystack: bytes, secrets: set[str]) -> list[str]:
    return sorted(s[:12] + "..." for s in secrets if s.encode() in haystack)


def test_no_secret_anywhere_after_sign_in_sync_failure_and_diagnostics(
    sandbox: Sandbox,
    admin: SandboxAdmin,
    service: AccountService,
    repo: Repo,
    profile: Profile,
    memory_keyring: MemoryKeyring,
    verifiers: list[str],
    log_file: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    errors: list[BaseException] = []
    g1 = admin.create_user("google", "scan-g1@example.com")
    m1 = admin.create_user("microsoft", "scan-m1@example.com")
    m2 = admin.create_user("microsoft", "scan-m2@example.com")

    # Sign in: Google in the browser, Microsoft in the browser and by device code.
    admin.auto_approve("google", g1.id)
    google = service.add("google", timeout=10)
    admin.auto_approve("microsoft", m1.id)
    ms = service.add("microsoft", timeout=10)
    admin.auto_approve("microsoft", m2.id)
    ms2 = service.add("microsoft", device_code=True, timeout=10)

    # Sync: API calls through the token sources, with an access token expiring mid-way.
    # How services wire the Google provider: library credentials over the guarded source.
    g_source = service.token_source(google.id)
    api = build(
        "calendar",
        "v3",
        http=google_auth_httplib2.AuthorizedHttp(
            SourceCredentials(g_source),
            http=httplib2.Http(ca_certs=str(sandbox.ca_cert)),
        ),
        static_discovery=True,
        client_options={"api_endpoint": sandbox.urls.google_api},
    )
    api.calendarList().list().execute()
    admin.expire_access(g1.id)
    api.calendarList().list().execute()
    graph = f"{sandbox.urls.graph}/me/calendars"
    for account in (ms, ms2):
        assert api_get(sandbox, graph, service.token_source(account.id).access_token()).ok
    admin.expire_access(m1.id)
    source = service.token_source(ms.id)
    if api_get(sandbox, graph, source.access_token()).status_code == 401:
        assert api_get(sandbox, graph, source.access_token(force_refresh=True)).ok

    # Fail on purpose: revoked grants, a refused sign-in, a forged state.
    admin.revoke(g1.id)
    admin.revoke(m1.id)
    for account in (google, ms):
        try:
            service.token_source(account.id).access_token(force_refresh=True)
        except MeridianError as err:
            errors.append(err)
    try:
        api.calendarList().list().execute()
    except Exception as err:  # what a provider would see from the library
        errors.append(err)
    admin.auto_approve("google", None)
    other = admin.create_user("google", "scan-other@example.com")
    service.opener = _forging_opener(sandbox)
    try:
        service.add("google", login_hint=other.email, timeout=10)
    except MeridianError as err:
        errors.append(err)
    assert len(errors) == 4
    service.take_notices()

    # Sign out of one, export diagnostics.
    service.remove(ms2.id)
    bundle = _export_diagnostics(repo, service, profile)

    secrets = sandbox_secrets(sandbox) | set(verifiers)
    secrets.add(service.config.google.client_secret)
    secrets |= set(memory_keyring.entries.values())  # the vault keys of the live accounts
    assert len(verifiers) == 3 and len(secrets) > 20
    files = [p for p in profile.root.rglob("*") if p.is_file()]
    assert log_file in files and bundle / "state.db" in files
    assert any(p.name.endswith("-wal") for p in files) or (profile.root / "state.db") in files
    leaks = {str(p.relative_to(profile.root)): _find(p.read_bytes(), secrets) for p in files}
    assert {k: v for k, v in leaks.items() if v} == {}
    assert _find(caplog.text.encode(), secrets) == []
    assert _find(log_file.read_bytes(), secrets) == []
    for err in errors:
        text = f"{err} {err!r} {err.args} {err.__cause__!r} {err.__context__!r}"
        assert _find(text.encode(), secrets) == [], type(err).__name__
    # And the scan itself works: a planted token is found.
    planted = next(iter(sandbox_secrets(sandbox)))
    assert _find(f"x{planted}x".encode(), secrets)


def _forging_opener(sandbox: Sandbox) -> Any:
    """A browser that brings the code back with a forged state (and gets refused)."""
    import requests

    def open_(url: str) -> bool:
        def run() -> None:
            http = requests.Session()
            http.verify, http.trust_env = str(sandbox.ca_cert), False
            page = http.get(url, allow_redirects=False)
            request_id = page.text.split('name="request_id" value="')[1].split('"')[0]
            users = sandbox.state.users("google")
            answer = http.post(
                f"{sandbox.urls.root}/o/oauth2/approve",
                data={"request_id": request_id, "user": users[-1]["id"], "decision": "allow"},
                allow_redirects=False,
            )
            plain = requests.Session()
            plain.trust_env = False
            plain.get(answer.headers["Location"].replace("state=", "state=x"), timeout=5)

        threading.Thread(target=run, daemon=True).start()
        return True

    return open_
