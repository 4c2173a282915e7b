"""Microsoft sign-in and token sources, driving msal for real against the sandbox.

msal polls its device-code endpoint once a second; with auto-approve the first poll succeeds,
so these tests take no sleeping. Interactive sign-in uses our loopback receiver (no msal poll).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import msal
import pytest
from authkit import api_get, oauth_log, token_calls

from app.auth import microsoft_oauth
from app.auth.common import DeviceCodePrompt, SignInOptions
from app.auth.microsoft_oauth import MicrosoftConfig, MicrosoftTokenSource
from app.auth.vault import KeyringVault
from app.errors import AuthRequired, ConfigError, SignInFailed
from app.sandbox.admin import SandboxAdmin, SandboxUser
from app.sandbox.browser import SandboxBrowser
from app.sandbox.server import Sandbox


@pytest.fixture
def approve_as(admin: SandboxAdmin, ms_user: SandboxUser) -> Iterator[SandboxUser]:
    admin.auto_approve("microsoft", ms_user.id)
    yield ms_user


def _sign_in(
    config: MicrosoftConfig, browser: SandboxBrowser, **kw: object
) -> microsoft_oauth.SignIn:
    options = SignInOptions(opener=browser.open, timeout=10, **kw)  # type: ignore[arg-type]
    result = microsoft_oauth.sign_in(config, options)
    browser.wait(5)
    return result


def _refresh_tokens(secret: str) -> set[str]:
    return {rt["secret"] for rt in json.loads(secret).get("RefreshToken", {}).values()}


def _access_tokens(secret: str) -> set[str]:
    return {at["secret"] for at in json.loads(secret).get("AccessToken", {}).values()}


def test_interactive_sign_in_with_pkce_form_post_and_loopback(
    sandbox: Sandbox, approve_as: SandboxUser, ms_config: MicrosoftConfig, browser: SandboxBrowser
) -> None:
    seen: list[str] = []

    def opener(url: str) -> bool:
        seen.append(url)
        return browser.open(url)

    signed = microsoft_oauth.sign_in(ms_config, SignInOptions(opener=opener, timeout=10))
    browser.wait(5)

    assert (signed.provider, signed.email) == ("microsoft", approve_as.email)
    assert signed.tenant == sandbox.state.user(approve_as.id)["tenant"]  # type: ignore[index]
    assert {"Calendars.ReadWrite", "User.Read"} <= set(signed.scopes)
    assert _refresh_tokens(signed.secret) and signed.secret not in repr(signed)
    [auth] = [e for e in oauth_log(sandbox, ms_config.client_id) if e["kind"] == "authorize"]
    assert auth["pkce"] is True and auth["code_challenge_method"] == "S256"
    assert auth["response_mode"] == "form_post"
    assert auth["redirect_uri"].startswith("http://localhost:")
    assert {"Calendars.ReadWrite", "User.Read", "offline_access"} <= set(auth["scopes"])
    [token] = [e for e in oauth_log(sandbox, ms_config.client_id) if e["kind"] == "token"]
    assert token["pkce_verified"] is True
    # The code came back by POST, not in a URL a browser would keep in its history.
    assert browser.history[-1].method == "POST"
    query = parse_qs(urlsplit(seen[0]).query)
    assert query["state"][0] and "code_verifier" not in query


def test_device_code_when_asked_and_when_no_browser_opens(
    approve_as: SandboxUser, ms_config: MicrosoftConfig, browser: SandboxBrowser
) -> None:
    prompts: list[DeviceCodePrompt] = []
    options = SignInOptions(opener=browser.open, on_device_code=prompts.append, timeout=10)
    asked = microsoft_oauth.sign_in(ms_config, options, device_code=True)
    no_browser = microsoft_oauth.sign_in(
        ms_config,
        SignInOptions(opener=lambda url: False, on_device_code=prompts.append, timeout=10),
    )
    assert asked.email == no_browser.email == approve_as.email
    assert [len(p.user_code) for p in prompts] == [8, 8]
    assert prompts[0].user_code in prompts[0].message and prompts[0].url.endswith("/devicelogin")


def test_no_browser_and_no_device_code_display_fails_clearly(ms_config: MicrosoftConfig) -> None:
    with pytest.raises(SignInFailed, match="No web browser"):
        microsoft_oauth.sign_in(ms_config, SignInOptions(opener=lambda url: False, timeout=1))


def test_unconfigured_client_or_unknown_tenant_is_a_config_error(
    sandbox: Sandbox, ms_config: MicrosoftConfig, browser: SandboxBrowser
) -> None:
    with pytest.raises(ConfigError, match="IT department"):
        microsoft_oauth.sign_in(MicrosoftConfig(), SignInOptions(opener=browser.open))
    other = MicrosoftConfig.for_sandbox(
        sandbox.urls, sandbox.ca_cert, client_id=ms_config.client_id, tenant=str(uuid.uuid4())
    )
    with pytest.raises(ConfigError, match="tenant"):
        microsoft_oauth.sign_in(other, SignInOptions(opener=browser.open))


def test_tenant_pinned_by_it_refuses_an_outside_account(
    sandbox: Sandbox, admin: SandboxAdmin, approve_as: SandboxUser, browser: SandboxBrowser
) -> None:
    domain = f"contoso-{uuid.uuid4().hex[:6]}.test"
    admin.create_user("microsoft", f"ana@{domain}")
    pinned = MicrosoftConfig.for_sandbox(
        sandbox.urls, sandbox.ca_cert, client_id=str(uuid.uuid4()), tenant=domain
    )
    with pytest.raises(SignInFailed):
        _sign_in(pinned, browser)
    browser.errors.clear()


# --- the token source ---------------------------------------------------------------------


def test_silent_from_cache_then_refresh_persists_the_rotated_cache(
    sandbox: Sandbox,
    admin: SandboxAdmin,
    approve_as: SandboxUser,
    ms_config: MicrosoftConfig,
    browser: SandboxBrowser,
    vault: KeyringVault,
) -> None:
    signed = _sign_in(ms_config, browser)
    vault.put("m-1", microsoft_oauth.ENTRY, signed.secret, new_account=True)
    [first_at] = _access_tokens(signed.secret)

    since = admin.requests()["last"]
    source = MicrosoftTokenSource(ms_config, vault, "m-1")
    assert source.access_token() == first_at
    assert source.access_token() == first_at
    assert token_calls(admin, since) == 0

    since = admin.requests()["last"]
    fresh = source.access_token(force_refresh=True)
    assert fresh != first_at and token_calls(admin, since) == 1
    stored = vault.get("m-1", microsoft_oauth.ENTRY) or ""
    assert fresh in _access_tokens(stored)
    assert _refresh_tokens(stored) != _refresh_tokens(signed.secret)  # AAD rotated it
    # A new source (the app restarted) starts from the persisted cache: no call.
    since = admin.requests()["last"]
    assert MicrosoftTokenSource(ms_config, vault, "m-1").access_token() == fresh
    assert token_calls(admin, since) == 0


def test_access_expiring_mid_sync_then_graph_succeeds_after_refresh(
    sandbox: Sandbox,
    admin: SandboxAdmin,
    approve_as: SandboxUser,
    ms_config: MicrosoftConfig,
    browser: SandboxBrowser,
    vault: KeyringVault,
) -> None:
    vault.put("m-1", microsoft_oauth.ENTRY, _sign_in(ms_config, browser).secret, new_account=True)
    source = MicrosoftTokenSource(ms_config, vault, "m-1")
    url = f"{sandbox.urls.graph}/me/calendars"
    assert api_get(sandbox, url, source.access_token()).status_code == 200
    admin.expire_access(approve_as.id)

    since = admin.requests()["last"]
    first = api_get(sandbox, url, source.access_token())
    assert first.status_code == 401  # what a provider sees mid-sync
    retry = api_get(sandbox, url, source.access_token(force_refresh=True))
    assert retry.status_code == 200 and token_calls(admin, since) == 1


def test_revoked_refresh_token_raises_auth_required(
    admin: SandboxAdmin,
    approve_as: SandboxUser,
    ms_config: MicrosoftConfig,
    browser: SandboxBrowser,
    vault: KeyringVault,
) -> None:
    signed = _sign_in(ms_config, browser)
    vault.put("m-1", microsoft_oauth.ENTRY, signed.secret, new_account=True)
    admin.revoke(approve_as.id)
    with pytest.raises(AuthRequired) as err:
        MicrosoftTokenSource(ms_config, vault, "m-1").access_token(force_refresh=True)
    text = f"{err.value} {err.value!r}"
    assert all(
        t not in text for t in _refresh_tokens(signed.secret) | _access_tokens(signed.secret)
    )


def test_an_account_without_secrets_needs_sign_in(
    ms_config: MicrosoftConfig, vault: KeyringVault
) -> None:
    with pytest.raises(AuthRequired):
        MicrosoftTokenSource(ms_config, vault, "m-unknown").access_token()
    empty = msal.SerializableTokenCache().serialize()
    vault.put("m-2", microsoft_oauth.ENTRY, empty, new_account=True)
    with pytest.raises(AuthRequired):
        MicrosoftTokenSource(ms_config, vault, "m-2").access_token()
