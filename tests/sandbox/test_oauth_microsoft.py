"""Microsoft sign-in against the sandbox, driven by the real msal.

Pointing msal at the sandbox needs exactly:
``msal.PublicClientApplication(client_id, authority=urls.microsoft_authority(tenant),
instance_discovery=False, http_client=trusting_session(ca_cert), token_cache=...)``.
``http_client`` must be a session with ``trust_env = False``: msal passes no per-request
``verify``, so REQUESTS_CA_BUNDLE (set on this machine) would replace the sandbox CA.
The interactive flow uses the sandbox's headless browser via ``browser.patch_msal()``; msal
polls its listener once a second, so each interactive test takes about a second; device-code
tests with auto-approve return at the first poll.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any

import msal
import pytest
import requests

from app.sandbox import oauth
from app.sandbox.admin import SandboxAdmin, SandboxUser, trusting_session
from app.sandbox.browser import SandboxBrowser
from app.sandbox.server import Sandbox

GRAPH_CAL = "https://graph.microsoft.com/Calendars.ReadWrite"
SCOPES = [GRAPH_CAL]
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


@pytest.fixture
def client_id() -> str:
    return str(uuid.uuid4())


@pytest.fixture
def approve_as(admin: SandboxAdmin, ms_user: SandboxUser) -> Iterator[SandboxUser]:
    admin.auto_approve("microsoft", ms_user.id)
    yield ms_user
    admin.auto_approve("microsoft", None)


def make_app(
    sandbox: Sandbox, client_id: str, tenant: str = "common"
) -> msal.PublicClientApplication:
    return msal.PublicClientApplication(
        client_id,
        authority=sandbox.urls.microsoft_authority(tenant),
        instance_discovery=False,
        http_client=trusting_session(sandbox.ca_cert),
        token_cache=msal.SerializableTokenCache(),
    )


def interactive(sandbox: Sandbox, app: msal.PublicClientApplication, **kw: Any) -> dict[str, Any]:
    browser = SandboxBrowser(sandbox.ca_cert, user=kw.pop("user", None))
    with browser.patch_msal():
        result = app.acquire_token_interactive(SCOPES, timeout=10, **kw)
    browser.wait(5)
    # The code reached msal's listener by POST (response_mode=form_post), not in a URL.
    assert browser.history[-1].method == "POST"
    assert browser.history[-1].url.startswith("http://localhost:")
    return dict(result)


def device_sign_in(app: msal.PublicClientApplication) -> dict[str, Any]:
    flow = app.initiate_device_flow(scopes=SCOPES)
    assert "user_code" in flow, flow
    return dict(app.acquire_token_by_device_flow(flow))


def oauth_log(http: requests.Session, sandbox: Sandbox, client_id: str) -> list[dict[str, Any]]:
    r = http.get(f"{sandbox.urls.root}/_sandbox/oauth-log", params={"client_id": client_id})
    return list(r.json()["entries"])


def ms_url(sandbox: Sandbox, tenant: str, leaf: str) -> str:
    return f"{sandbox.urls.microsoft_authority(tenant)}/oauth2/v2.0/{leaf}"


# --- interactive --------------------------------------------------------------------------------


def test_interactive_sign_in_with_form_post_and_pkce(
    sandbox: Sandbox, http: requests.Session, approve_as: SandboxUser, client_id: str
) -> None:
    app = make_app(sandbox, client_id)
    result = interactive(sandbox, app)

    assert "access_token" in result, result.get("error_description")
    assert result["token_type"] == "Bearer" and result["expires_in"] > 0
    assert GRAPH_CAL in result["scope"].split()
    claims = result["id_token_claims"]
    assert claims["aud"] == client_id and claims["preferred_username"] == approve_as.email
    assert claims["oid"] == approve_as.id and claims["nonce"]
    [account] = app.get_accounts()
    assert account["username"] == approve_as.email
    tenant = claims["tid"]
    assert account["home_account_id"] == f"{approve_as.id}.{tenant}"  # from client_info
    assert sandbox.state.resolve_access("microsoft", result["access_token"]) == (approve_as.id, "")
    graph = http.get(
        f"{sandbox.urls.graph}/me/calendars",
        headers={"Authorization": f"Bearer {result['access_token']}"},
    )
    assert graph.status_code == 200, graph.text
    log = oauth_log(http, sandbox, client_id)
    auth = next(e for e in log if e["kind"] == "authorize")
    assert auth["response_mode"] == "form_post"
    assert auth["pkce"] is True and auth["code_challenge_method"] == "S256"
    assert next(e for e in log if e["kind"] == "token")["pkce_verified"] is True


def test_interactive_consent_page_when_auto_approve_is_off(
    sandbox: Sandbox, ms_user: SandboxUser, client_id: str
) -> None:
    app = make_app(sandbox, client_id)
    result = interactive(sandbox, app, user=ms_user.email, login_hint=ms_user.email)
    assert result["id_token_claims"]["preferred_username"] == ms_user.email


# --- silent, refresh, revoke ------------------------------------------------------------------


def test_silent_from_cache_then_forced_refresh_rotates_the_refresh_token(
    sandbox: Sandbox, admin: SandboxAdmin, approve_as: SandboxUser, client_id: str
) -> None:
    cache = msal.SerializableTokenCache()
    app = msal.PublicClientApplication(
        client_id,
        authority=sandbox.urls.microsoft_authority("common"),
        instance_discovery=False,
        http_client=trusting_session(sandbox.ca_cert),
        token_cache=cache,
    )
    first = device_sign_in(app)
    assert "access_token" in first, first
    [account] = app.get_accounts()
    assert account["username"] == approve_as.email
    old_rt = first["refresh_token"]

    since = admin.requests()["last"]
    cached = app.acquire_token_silent(SCOPES, account=account)
    assert cached is not None and cached["token_source"] == "cache"
    assert cached["access_token"] == first["access_token"]
    assert admin.requests(since=since)["http_requests"] == 0

    since = admin.requests()["last"]
    fresh = app.acquire_token_silent(SCOPES, account=account, force_refresh=True)
    assert fresh is not None and fresh["token_source"] == "identity_provider"
    assert fresh["access_token"] != first["access_token"]
    log = admin.requests(since=since)
    assert log["http_requests"] == 1 and log["counts"] == {"microsoft-identity token": 1}
    [rt] = list(cache.search(msal.TokenCache.CredentialType.REFRESH_TOKEN))
    assert rt["secret"] != old_rt  # rotated...
    # ...and, as with AAD, the previous refresh token keeps working until revoked.
    again = make_app(sandbox, client_id).acquire_token_by_refresh_token(old_rt, SCOPES)
    assert "access_token" in again, again


def test_revoked_refresh_token_gives_invalid_grant(
    sandbox: Sandbox, admin: SandboxAdmin, approve_as: SandboxUser, client_id: str
) -> None:
    app = make_app(sandbox, client_id)
    first = device_sign_in(app)
    [account] = app.get_accounts()
    admin.revoke(approve_as.id)

    result = app.acquire_token_silent_with_error(SCOPES, account=account, force_refresh=True)
    assert result is not None and result["error"] == "invalid_grant"
    raw = make_app(sandbox, client_id).acquire_token_by_refresh_token(
        first["refresh_token"], SCOPES
    )
    assert raw["error"] == "invalid_grant" and raw["error_codes"] == [70000]
    assert raw["suberror"] == "bad_token"
    assert raw["error_description"].startswith("AADSTS70000: ")
    assert {"timestamp", "trace_id", "correlation_id"} <= raw.keys()
    assert first["refresh_token"] not in raw["error_description"]


# --- device code ------------------------------------------------------------------------------


def test_device_flow_auto_approved(
    sandbox: Sandbox, approve_as: SandboxUser, client_id: str
) -> None:
    app = make_app(sandbox, client_id)
    flow = app.initiate_device_flow(scopes=SCOPES)
    assert len(flow["user_code"]) == 8
    assert flow["verification_uri"] == f"{sandbox.urls.root}/devicelogin"
    assert (flow["interval"], flow["expires_in"]) == (1, 900)
    assert flow["user_code"] in flow["message"]
    result = app.acquire_token_by_device_flow(flow)
    assert result["id_token_claims"]["preferred_username"] == approve_as.email


def test_device_flow_approved_on_the_devicelogin_page(
    sandbox: Sandbox, http: requests.Session, ms_user: SandboxUser, client_id: str
) -> None:
    app = make_app(sandbox, client_id)
    flow = app.initiate_device_flow(scopes=SCOPES)
    poll = {"grant_type": DEVICE_GRANT, "client_id": client_id, "device_code": flow["device_code"]}
    pending = http.post(ms_url(sandbox, "common", "token"), data=poll)
    assert (pending.status_code, pending.json()["error"]) == (400, "authorization_pending")

    results: list[dict[str, Any]] = []
    waiter = threading.Thread(target=lambda: results.append(app.acquire_token_by_device_flow(flow)))
    waiter.start()
    page = http.get(f"{sandbox.urls.root}/devicelogin", params={"otc": flow["user_code"]})
    assert page.status_code == 200 and f'value="{flow["user_code"]}"' in page.text
    # People type codes loosely: lower case, with a dash.
    typed = flow["user_code"][:4].lower() + "-" + flow["user_code"][4:]
    ok = http.post(
        f"{sandbox.urls.root}/devicelogin",
        data={"user_code": typed, "user": ms_user.id, "decision": "allow"},
    )
    assert ok.status_code == 200 and "You're signed in" in ok.text
    waiter.join(15)
    assert results and results[0]["id_token_claims"]["preferred_username"] == ms_user.email
    reused = http.post(ms_url(sandbox, "common", "token"), data=poll)
    assert reused.json()["error"] == "bad_verification_code"


def test_device_code_declined_expired_and_unknown(
    sandbox: Sandbox, http: requests.Session, ms_user: SandboxUser, client_id: str
) -> None:
    token_url = ms_url(sandbox, "common", "token")

    def start() -> dict[str, Any]:
        r = http.post(
            ms_url(sandbox, "common", "devicecode"),
            data={"client_id": client_id, "scope": f"{GRAPH_CAL} offline_access"},
        )
        return dict(r.json())

    def poll(device_code: str) -> dict[str, Any]:
        data = {"grant_type": DEVICE_GRANT, "client_id": client_id, "device_code": device_code}
        r = http.post(token_url, data=data)
        assert r.status_code == 400
        return dict(r.json())

    declined = start()
    http.post(
        f"{sandbox.urls.root}/devicelogin",
        data={"user_code": declined["user_code"], "decision": "deny"},
    )
    assert poll(declined["device_code"])["error"] == "authorization_declined"
    expired = start()
    sandbox.state.data[oauth.DEVICE_CODES][expired["device_code"]]["expires"] = 0
    assert poll(expired["device_code"])["error"] == "expired_token"
    assert poll("DAQAB-nonsense")["error"] == "bad_verification_code"
    wrong = http.post(
        f"{sandbox.urls.root}/devicelogin", data={"user_code": "ZZZZZZZZ", "decision": "allow"}
    )
    assert wrong.status_code == 400 and "didn&#x27;t work" in wrong.text


# --- tenants ----------------------------------------------------------------------------------


def test_tenant_restriction(
    sandbox: Sandbox,
    http: requests.Session,
    admin: SandboxAdmin,
    approve_as: SandboxUser,
    client_id: str,
) -> None:
    domain = f"contoso-{uuid.uuid4().hex[:6]}.test"
    other = admin.create_user("microsoft", f"ana@{domain}")
    other_tid = sandbox.state.user(other.id)["tenant"]  # type: ignore[index]

    # The example.com user (auto-approved) cannot sign in to the contoso tenant...
    refused = device_sign_in(make_app(sandbox, client_id, tenant=domain))
    assert refused["error"] == "invalid_grant" and refused["error_codes"] == [50020]
    assert approve_as.email in refused["error_description"]
    # ...nor interactively: the refusal goes to the app's redirect URI, by form_post here.
    r = http.get(
        ms_url(sandbox, other_tid, "authorize"),
        params={
            "client_id": client_id,
            "response_type": "code",
            "redirect_uri": "http://localhost:1234",
            "scope": f"{GRAPH_CAL} openid",
            "response_mode": "form_post",
            "state": "s1",
        },
    )
    assert r.status_code == 200
    assert 'action="http://localhost:1234"' in r.text
    assert 'name="error" value="access_denied"' in r.text and "AADSTS50020" in r.text
    assert 'name="code"' not in r.text
    # The tenant's own user can, with the authority named by tenant GUID.
    admin.auto_approve("microsoft", other.id)
    ok = device_sign_in(make_app(sandbox, client_id, tenant=other_tid))
    assert ok["id_token_claims"]["tid"] == other_tid


def test_unknown_tenant_fails_discovery(sandbox: Sandbox, http: requests.Session) -> None:
    missing = str(uuid.uuid4())
    # msal replaces the server's text with its own advice.
    with pytest.raises(ValueError, match="double check your tenant name or GUID"):
        make_app(sandbox, "cid", tenant=missing)
    r = http.get(
        f"{sandbox.urls.microsoft_authority(missing)}/v2.0/.well-known/openid-configuration"
    )
    assert r.status_code == 400 and r.json()["error"] == "invalid_tenant"
    assert r.json()["error_codes"] == [90002]


def test_discovery_document_points_at_the_sandbox(sandbox: Sandbox, http: requests.Session) -> None:
    doc = http.get(
        f"{sandbox.urls.microsoft_authority('organizations')}/v2.0/.well-known/openid-configuration"
    ).json()
    root = sandbox.urls.root
    assert doc["token_endpoint"] == f"{root}/organizations/oauth2/v2.0/token"
    assert doc["authorization_endpoint"] == f"{root}/organizations/oauth2/v2.0/authorize"
    assert doc["device_authorization_endpoint"] == f"{root}/organizations/oauth2/v2.0/devicecode"
    assert doc["issuer"] == f"{root}/{{tenantid}}/v2.0"
    assert "form_post" in doc["response_modes_supported"]
    assert http.get(doc["jwks_uri"]).json() == {"keys": []}


# --- protocol details by hand -----------------------------------------------------------------


def _authorize_code(http: requests.Session, sandbox: Sandbox, client_id: str, **extra: str) -> str:
    params = {
        "client_id": client_id,
        "response_type": "code",
        "redirect_uri": "http://localhost:1234",
        "scope": f"{GRAPH_CAL} openid offline_access",
        "response_mode": "query",
        "state": "s1",
        **extra,
    }
    r = http.get(ms_url(sandbox, "common", "authorize"), params=params, allow_redirects=False)
    assert r.status_code == 302, r.text
    location = r.headers["Location"]
    assert location.startswith("http://localhost:1234?") and "state=s1" in location
    return location.split("code=")[1].split("&")[0]


def test_code_redemption_errors_look_like_aad(
    sandbox: Sandbox, http: requests.Session, approve_as: SandboxUser, client_id: str
) -> None:
    code = _authorize_code(
        http, sandbox, client_id, code_challenge="c" * 43, code_challenge_method="plain"
    )
    url = ms_url(sandbox, "common", "token")
    base = {
        "grant_type": "authorization_code",
        "client_id": client_id,
        "code": code,
        "redirect_uri": "http://localhost:1234",
    }
    bad = http.post(url, data={**base, "code_verifier": "d" * 43}).json()
    assert (bad["error"], bad["error_codes"]) == ("invalid_grant", [501481])
    assert code not in bad["error_description"]
    missing = http.post(url, data=base).json()
    assert missing["error_codes"] == [900144]
    good = http.post(url, data={**base, "code_verifier": "c" * 43, "client_info": "1"})
    assert (
        good.status_code == 200
        and {"client_info", "id_token", "refresh_token"} <= good.json().keys()
    )
    replay = http.post(url, data={**base, "code_verifier": "c" * 43}).json()
    assert replay["error_codes"] == [54005]


def test_deny_on_the_consent_page(
    sandbox: Sandbox, http: requests.Session, ms_user: SandboxUser, client_id: str
) -> None:
    page = http.get(
        ms_url(sandbox, "common", "authorize"),
        params={
            "client_id": client_id,
            "response_type": "code",
            "redirect_uri": "http://localhost:1234",
            "scope": f"{GRAPH_CAL} openid",
            "response_mode": "form_post",
            "state": "s1",
        },
    )
    assert "Have full access to your calendars" in page.text
    request_id = page.text.split('name="request_id" value="')[1].split('"')[0]
    r = http.post(
        ms_url(sandbox, "common", "consent"), data={"request_id": request_id, "decision": "deny"}
    )
    assert 'name="error" value="access_denied"' in r.text and 'name="state" value="s1"' in r.text


def test_refresh_cannot_widen_the_consent(
    sandbox: Sandbox, http: requests.Session, approve_as: SandboxUser, client_id: str
) -> None:
    app = make_app(sandbox, client_id)
    first = device_sign_in(app)
    wider = app.acquire_token_by_refresh_token(first["refresh_token"], ["Mail.Read"])
    assert wider["error"] == "invalid_grant" and wider["suberror"] == "consent_required"
    # Graph scopes compare case-insensitively and with or without the resource URL.
    short = app.acquire_token_by_refresh_token(first["refresh_token"], ["calendars.readwrite"])
    assert "access_token" in short, short
