"""Google sign-in and token sources, driving google-auth-oauthlib and google-auth for real."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import google_auth_httplib2
import httplib2
import pytest
import requests
from authkit import api_get, oauth_log, token_calls
from google_auth_oauthlib.flow import Flow
from googleapiclient.discovery import build

from app.auth import google_oauth
from app.auth.common import SignInOptions
from app.auth.google_oauth import (
    CALENDAR_LIST,
    EMAIL,
    EVENTS,
    EVENTS_READONLY,
    GoogleConfig,
    GoogleTokenSource,
)
from app.auth.vault import KeyringVault
from app.errors import AuthRequired, SignInFailed
from app.sandbox.admin import SandboxAdmin, SandboxUser
from app.sandbox.browser import SandboxBrowser
from app.sandbox.server import Sandbox


@pytest.fixture
def approve_as(admin: SandboxAdmin, google_user: SandboxUser) -> Iterator[SandboxUser]:
    admin.auto_approve("google", google_user.id)
    yield google_user


def _sign_in(
    config: GoogleConfig, browser: SandboxBrowser, *, read_only: bool = False
) -> google_oauth.SignIn:
    result = google_oauth.sign_in(
        config, SignInOptions(opener=browser.open, timeout=10), read_only=read_only
    )
    browser.wait(5)
    return result


def _stored(vault: KeyringVault, config: GoogleConfig, browser: SandboxBrowser) -> str:
    signed = _sign_in(config, browser)
    vault.put("g-1", google_oauth.ENTRY, signed.secret, new_account=True)
    return signed.secret


def test_first_sign_in_uses_pkce_least_scopes_and_a_loopback_redirect(
    sandbox: Sandbox,
    approve_as: SandboxUser,
    google_config: GoogleConfig,
    browser: SandboxBrowser,
) -> None:
    signed = _sign_in(google_config, browser)

    assert (signed.provider, signed.email) == ("google", approve_as.email)
    assert set(signed.scopes) == {EVENTS, CALENDAR_LIST, EMAIL, "openid"}
    assert signed.secret not in repr(signed)
    data = json.loads(signed.secret)
    assert sandbox.state.resolve_access("google", data["access_token"]) == (approve_as.id, "")
    assert sandbox.state.refresh_record("google", data["refresh_token"]) is not None
    [auth] = [e for e in oauth_log(sandbox, google_config.client_id) if e["kind"] == "authorize"]
    assert auth["pkce"] is True and auth["code_challenge_method"] == "S256"
    assert auth["redirect_uri"].startswith("http://127.0.0.1:")
    assert auth["prompt"] == "consent" and auth["access_type"] == "offline"
    assert set(auth["scopes"]) == {EVENTS, CALENDAR_LIST, EMAIL, "openid"}
    [token] = [e for e in oauth_log(sandbox, google_config.client_id) if e["kind"] == "token"]
    assert token["pkce_verified"] is True and token["refresh_token_issued"] is True
    # What a desktop browser would get on its command line: no secret, no verifier.
    assert browser.history[0].url == sandbox.urls.google_auth


def test_the_authorization_url_carries_no_secret(
    approve_as: SandboxUser, google_config: GoogleConfig, browser: SandboxBrowser
) -> None:
    seen: list[str] = []

    def opener(url: str) -> bool:
        seen.append(url)
        return browser.open(url)

    google_oauth.sign_in(google_config, SignInOptions(opener=opener, timeout=10))
    browser.wait(5)
    [url] = seen
    query = parse_qs(urlsplit(url).query)
    assert google_config.client_secret not in url
    assert "code_verifier" not in query and query["code_challenge_method"] == ["S256"]
    assert query["state"][0] and len(query["code_challenge"][0]) == 43


def test_read_only_asks_for_read_only_scopes(
    sandbox: Sandbox,
    approve_as: SandboxUser,
    google_config: GoogleConfig,
    browser: SandboxBrowser,
) -> None:
    signed = _sign_in(google_config, browser, read_only=True)
    assert EVENTS_READONLY in signed.scopes and EVENTS not in signed.scopes


def test_scope_changed_is_handled_without_relaxing_oauthlib_globally(
    sandbox: Sandbox,
    approve_as: SandboxUser,
    google_config: GoogleConfig,
    browser: SandboxBrowser,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Asking "email" gets "userinfo.email openid" back: oauthlib's "Scope has changed".
    monkeypatch.delenv("OAUTHLIB_RELAX_TOKEN_SCOPE", raising=False)
    monkeypatch.setattr(
        google_oauth, "scopes_for", lambda read_only: [EVENTS, CALENDAR_LIST, "email"]
    )
    warned: list[str] = []
    real_fetch = Flow.fetch_token

    def spy(self: Flow, **kwargs: object) -> object:
        try:
            return real_fetch(self, **kwargs)
        except Warning as w:
            warned.append(str(w))
            raise

    monkeypatch.setattr(Flow, "fetch_token", spy)
    signed = _sign_in(google_config, browser)
    assert warned and "Scope has changed" in warned[0]
    assert signed.email == approve_as.email and EMAIL in signed.scopes
    assert "OAUTHLIB_RELAX_TOKEN_SCOPE" not in os.environ


def test_a_missing_permission_fails_and_the_grant_is_revoked(
    sandbox: Sandbox,
    approve_as: SandboxUser,
    google_config: GoogleConfig,
    browser: SandboxBrowser,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # As if the person unticked "See the list of calendars" on Google's consent screen.
    monkeypatch.setattr(google_oauth, "scopes_for", lambda read_only: [EVENTS, "openid", EMAIL])
    with pytest.raises(SignInFailed, match=r"calendar\.calendarlist\.readonly"):
        _sign_in(google_config, browser)
    kinds = [e["kind"] for e in oauth_log(sandbox, google_config.client_id)]
    assert kinds[-1] == "revoke"


def test_a_forged_state_is_refused_before_any_token_request(
    sandbox: Sandbox, approve_as: SandboxUser, google_config: GoogleConfig
) -> None:
    def forge(url: str) -> bool:
        def run() -> None:
            http = requests.Session()
            http.verify, http.trust_env = str(sandbox.ca_cert), False
            location = http.get(url, allow_redirects=False).headers["Location"]
            plain = requests.Session()
            plain.trust_env = False
            plain.get(location.replace("state=", "state=forged"), timeout=5)

        threading.Thread(target=run, daemon=True).start()
        return True

    with pytest.raises(SignInFailed, match="did not match"):
        google_oauth.sign_in(google_config, SignInOptions(opener=forge, timeout=10))
    assert not [e for e in oauth_log(sandbox, google_config.client_id) if e["kind"] == "token"]


def test_no_browser_without_a_fallback_is_a_clear_failure(google_config: GoogleConfig) -> None:
    with pytest.raises(SignInFailed, match="No web browser"):
        google_oauth.sign_in(google_config, SignInOptions(opener=lambda url: False, timeout=1))
    shown: list[str] = []
    with pytest.raises(SignInFailed, match="in time"):
        google_oauth.sign_in(
            google_config,
            SignInOptions(opener=lambda url: False, on_url=shown.append, timeout=0.3),
        )
    assert shown and shown[0].startswith(google_config.auth_uri)


# --- the token source ---------------------------------------------------------------------


def test_silent_refresh_only_when_needed_and_the_result_is_persisted(
    sandbox: Sandbox,
    admin: SandboxAdmin,
    approve_as: SandboxUser,
    google_config: GoogleConfig,
    browser: SandboxBrowser,
    vault: KeyringVault,
) -> None:
    first = json.loads(_stored(vault, google_config, browser))
    source = GoogleTokenSource(google_config, vault, "g-1")

    since = admin.requests()["last"]
    assert source.access_token() == first["access_token"]
    assert source.access_token() == first["access_token"]
    assert token_calls(admin, since) == 0

    # Time passes: the stored token is past its expiry.
    stale = {**first, "expiry": "2000-01-01T00:00:00+00:00"}
    vault.put("g-1", google_oauth.ENTRY, json.dumps(stale))
    source = GoogleTokenSource(google_config, vault, "g-1")
    since = admin.requests()["last"]
    fresh = source.access_token()
    assert fresh != first["access_token"] and token_calls(admin, since) == 1
    assert sandbox.state.resolve_access("google", fresh) == (approve_as.id, "")
    stored = json.loads(vault.get("g-1", google_oauth.ENTRY) or "{}")
    assert stored["access_token"] == fresh and stored["refresh_token"] == first["refresh_token"]
    assert source.access_token() == fresh and token_calls(admin, since) == 1


def test_access_expiring_mid_sync_is_renewed_by_the_api_client(
    sandbox: Sandbox,
    admin: SandboxAdmin,
    approve_as: SandboxUser,
    google_config: GoogleConfig,
    browser: SandboxBrowser,
    vault: KeyringVault,
) -> None:
    _stored(vault, google_config, browser)
    source = GoogleTokenSource(google_config, vault, "g-1")
    http = google_auth_httplib2.AuthorizedHttp(
        source.credentials(), http=httplib2.Http(ca_certs=str(sandbox.ca_cert))
    )
    api = build(
        "calendar",
        "v3",
        http=http,
        static_discovery=True,
        client_options={"api_endpoint": sandbox.urls.google_api},
    )
    assert api.calendarList().list().execute()["items"]
    admin.expire_access(approve_as.id)  # Google ends the access token early

    since = admin.requests()["last"]
    items = api.calendarList().list().execute()["items"]  # 401, refresh, retry

    assert items and token_calls(admin, since) == 1
    assert admin.requests(since=since)["counts"].get("google calendarList.list") == 2


def test_revoked_grant_raises_auth_required_without_the_token(
    sandbox: Sandbox,
    admin: SandboxAdmin,
    approve_as: SandboxUser,
    google_config: GoogleConfig,
    browser: SandboxBrowser,
    vault: KeyringVault,
) -> None:
    secret = json.loads(_stored(vault, google_config, browser))
    admin.revoke(approve_as.id)
    source = GoogleTokenSource(google_config, vault, "g-1")

    with pytest.raises(AuthRequired) as err:
        source.access_token(force_refresh=True)
    text = f"{err.value} {err.value!r} {err.value.args}"
    assert "Sign in again" in err.value.message
    assert secret["refresh_token"] not in text and secret["access_token"] not in text
    assert err.value.__cause__ is None and err.value.__suppress_context__


def test_revoke_ends_the_grant_at_google(
    sandbox: Sandbox,
    approve_as: SandboxUser,
    google_config: GoogleConfig,
    browser: SandboxBrowser,
) -> None:
    signed = _sign_in(google_config, browser)
    data = json.loads(signed.secret)
    assert google_oauth.revoke_stored(google_config, signed.secret) is True
    assert sandbox.state.refresh_record("google", data["refresh_token"]) is None
    assert (
        api_get(
            sandbox, sandbox.urls.google_api + "users/me/calendarList", data["access_token"]
        ).status_code
        == 401
    )
    assert google_oauth.revoke_stored(google_config, signed.secret) is True  # already gone
    assert "revoke" in [e["kind"] for e in oauth_log(sandbox, google_config.client_id)]
