"""Google sign-in against the sandbox, driven by the real google-auth-oauthlib and google-auth.

What it takes to point the libraries at the sandbox (no OAUTHLIB_INSECURE_TRANSPORT: every
sandbox URL is https, and the loopback redirect is plain http, which oauthlib accepts because
``run_local_server`` rewrites it to https before parsing):

* ``InstalledAppFlow.from_client_config({"installed": {..., "auth_uri": urls.google_auth,
  "token_uri": urls.google_token}}, scopes)``;
* the code exchange runs on ``flow.oauth2session`` (a requests.Session): set its ``verify`` to
  the sandbox CA and ``trust_env = False``, or REQUESTS_CA_BUNDLE (set on this machine)
  overrides ``verify``;
* refreshes go through ``google.auth.transport.requests.Request(session=trusting_session)``.
"""

from __future__ import annotations

import hashlib
import re
import threading
import uuid
import webbrowser
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit, urlunsplit

import pytest
import requests
from google.auth.exceptions import RefreshError
from google.auth.transport.requests import Request as GoogleRequest
from google.oauth2.credentials import Credentials
from google_auth_oauthlib.flow import InstalledAppFlow
from oauthlib.oauth2.rfc6749.errors import MismatchingStateError

from app.sandbox import oauth
from app.sandbox.admin import SandboxAdmin, SandboxUser, trusting_session
from app.sandbox.browser import SandboxBrowser
from app.sandbox.server import Sandbox

CALENDAR = "https://www.googleapis.com/auth/calendar"
LOOPBACK = "http://127.0.0.1:9/"  # never contacted: these tests stop at the redirect
VERIFIER = "v" * 43  # PKCE plain/S256 verifiers are 43-128 characters


@pytest.fixture
def client_id() -> str:
    return f"meridian-{uuid.uuid4().hex[:8]}.apps.googleusercontent.com"


@pytest.fixture
def approve_as(admin: SandboxAdmin, google_user: SandboxUser) -> Iterator[SandboxUser]:
    admin.auto_approve("google", google_user.id)
    yield google_user
    admin.auto_approve("google", None)


def make_flow(sandbox: Sandbox, client_id: str, scopes: list[str]) -> InstalledAppFlow:
    config = {
        "installed": {
            "client_id": client_id,
            "client_secret": "sandbox-secret",
            "auth_uri": sandbox.urls.google_auth,
            "token_uri": sandbox.urls.google_token,
            "redirect_uris": ["http://localhost"],
        }
    }
    flow = InstalledAppFlow.from_client_config(config, scopes)
    # The code exchange uses this requests.Session: trust only the sandbox CA, and ignore
    # REQUESTS_CA_BUNDLE, which would otherwise replace `verify`.
    flow.oauth2session.verify = str(sandbox.ca_cert)
    flow.oauth2session.trust_env = False
    return flow


def sign_in(
    sandbox: Sandbox, client_id: str, *, user: str | None = None, **kwargs: Any
) -> Credentials:
    flow = make_flow(sandbox, client_id, [CALENDAR])
    browser = SandboxBrowser(sandbox.ca_cert, user=user, name=f"sandbox-{uuid.uuid4().hex}")
    creds = flow.run_local_server(
        host="127.0.0.1",
        port=0,
        open_browser=True,
        browser=browser.register(),
        authorization_prompt_message=None,
        timeout_seconds=10,
        **kwargs,
    )
    browser.wait(5)
    assert isinstance(creds, Credentials)
    return creds


def oauth_log(http: requests.Session, sandbox: Sandbox, client_id: str) -> list[dict[str, Any]]:
    r = http.get(f"{sandbox.urls.root}/_sandbox/oauth-log", params={"client_id": client_id})
    assert r.status_code == 200
    return list(r.json()["entries"])


def authorize(http: requests.Session, sandbox: Sandbox, **params: str) -> requests.Response:
    base = {
        "response_type": "code",
        "client_id": "cid",
        "redirect_uri": LOOPBACK,
        "scope": CALENDAR,
        "state": "st-1",
    }
    return http.get(sandbox.urls.google_auth, params={**base, **params}, allow_redirects=False)


def request_id_of(page: str) -> str:
    m = re.search(r'name="request_id" value="([^"]+)"', page)
    assert m, "no consent form on the page"
    return m.group(1)


def redirect_params(resp: requests.Response) -> dict[str, str]:
    assert resp.status_code == 302, resp.text
    return {k: v[-1] for k, v in parse_qs(urlsplit(resp.headers["Location"]).query).items()}


# --- the real library, end to end -----------------------------------------------------------


def test_installed_app_flow_signs_in_with_pkce(
    sandbox: Sandbox, http: requests.Session, approve_as: SandboxUser, client_id: str
) -> None:
    creds = sign_in(sandbox, client_id)

    assert creds.token and creds.refresh_token
    assert creds.granted_scopes == [CALENDAR]
    assert sandbox.state.resolve_access("google", creds.token) == (approve_as.id, "")
    r = http.get(
        f"{sandbox.urls.google_api}users/me/calendarList",
        headers={"Authorization": f"Bearer {creds.token}"},
    )
    assert r.status_code == 200, r.text
    log = oauth_log(http, sandbox, client_id)
    auth = next(e for e in log if e["kind"] == "authorize")
    assert auth["pkce"] is True and auth["code_challenge_method"] == "S256"
    assert auth["access_type"] == "offline"
    assert auth["redirect_uri"].startswith("http://127.0.0.1:")
    token = next(e for e in log if e["kind"] == "token")
    assert token["pkce_verified"] is True


def test_refresh_after_access_token_expired(
    sandbox: Sandbox,
    http: requests.Session,
    admin: SandboxAdmin,
    approve_as: SandboxUser,
    client_id: str,
) -> None:
    creds = sign_in(sandbox, client_id)
    old_token, refresh_token = creds.token, creds.refresh_token
    admin.expire_access(approve_as.id)
    assert sandbox.state.resolve_access("google", old_token) == (None, "expired")

    creds.refresh(GoogleRequest(session=http))  # type: ignore[no-untyped-call]

    assert creds.token != old_token
    assert creds.refresh_token == refresh_token  # Google does not send a new one
    assert sandbox.state.resolve_access("google", creds.token) == (approve_as.id, "")


def test_revoked_refresh_token_fails_with_invalid_grant(
    sandbox: Sandbox, http: requests.Session, approve_as: SandboxUser, client_id: str
) -> None:
    creds = sign_in(sandbox, client_id)
    r = http.post(sandbox.urls.google_revoke, data={"token": creds.refresh_token})
    assert (r.status_code, r.json()) == (200, {})
    # The whole grant is gone: the access token too.
    assert sandbox.state.resolve_access("google", creds.token)[0] is None

    with pytest.raises(RefreshError) as err:
        creds.refresh(GoogleRequest(session=http))  # type: ignore[no-untyped-call]
    assert err.value.args[1] == {
        "error": "invalid_grant",
        "error_description": "Token has been expired or revoked.",
    }
    again = http.post(sandbox.urls.google_revoke, params={"token": creds.refresh_token})
    assert again.status_code == 400
    assert again.json() == {
        "error": "invalid_token",
        "error_description": "Token expired or revoked",
    }


class _ForgingBrowser(webbrowser.BaseBrowser):
    """Delivers the sandbox's answer to the app's listener with a forged state."""

    def __init__(self, sandbox: Sandbox) -> None:
        super().__init__(f"forger-{uuid.uuid4().hex}")
        self.sandbox = sandbox

    def open(self, url: str, new: int = 0, autoraise: bool = True) -> bool:
        threading.Thread(target=self._deliver, args=(url,), daemon=True).start()
        return True

    def _deliver(self, url: str) -> None:
        location = trusting_session(self.sandbox.ca_cert).get(url, allow_redirects=False)
        parts = urlsplit(location.headers["Location"])
        params = dict(parse_qsl(parts.query))
        params["state"] = "forged"
        plain = requests.Session()
        plain.trust_env = False
        plain.get(urlunsplit(parts._replace(query=urlencode(params))), timeout=5)


def test_state_mismatch_is_rejected_by_the_library(
    sandbox: Sandbox, http: requests.Session, approve_as: SandboxUser, client_id: str
) -> None:
    flow = make_flow(sandbox, client_id, [CALENDAR])
    forger = _ForgingBrowser(sandbox)
    webbrowser.register(forger.name, None, forger)
    with pytest.raises(MismatchingStateError):
        flow.run_local_server(
            host="127.0.0.1",
            port=0,
            browser=forger.name,
            authorization_prompt_message=None,
            timeout_seconds=10,
        )
    assert not [e for e in oauth_log(http, sandbox, client_id) if e["kind"] == "token"]


def test_refresh_token_only_on_first_consent_or_prompt_consent(
    sandbox: Sandbox, approve_as: SandboxUser, client_id: str
) -> None:
    assert sign_in(sandbox, client_id).refresh_token
    # Google's rule: a repeat sign-in to the same client gets no refresh token...
    assert sign_in(sandbox, client_id).refresh_token is None
    # ...unless the app asks for the consent screen again.
    assert sign_in(sandbox, client_id, prompt="consent").refresh_token


def test_consent_in_the_headless_browser_when_auto_approve_is_off(
    sandbox: Sandbox, google_user: SandboxUser, client_id: str
) -> None:
    creds = sign_in(sandbox, client_id, user=google_user.email)
    assert sandbox.state.resolve_access("google", creds.token) == (google_user.id, "")


# --- the protocol, driven by hand ---------------------------------------------------------


def test_consent_page_renders_escaped_and_allow_returns_a_code(
    sandbox: Sandbox, http: requests.Session, admin: SandboxAdmin
) -> None:
    user = admin.create_user("google", f"h-{uuid.uuid4().hex[:6]}@example.com", 'Eve <b>"&"</b>')
    r = authorize(
        http,
        sandbox,
        client_id="<script>x</script>",
        login_hint=user.email,
        code_challenge=oauth.b64url(hashlib.sha256(VERIFIER.encode()).digest()),
        code_challenge_method="S256",
    )
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/html")
    page = r.text
    assert "<script>x</script>" not in page and "&lt;script&gt;x&lt;/script&gt;" in page
    assert "Eve &lt;b&gt;&quot;&amp;&quot;&lt;/b&gt;" in page
    assert "See, edit, share, and permanently delete all the calendars" in page
    assert f'value="{user.id}" data-email="{user.email}" checked' in page
    assert "<fieldset><legend>Choose an account</legend>" in page
    request_id = request_id_of(page)

    approve = http.post(
        f"{sandbox.urls.root}/o/oauth2/approve",
        data={"request_id": request_id, "user": user.id, "decision": "allow"},
        allow_redirects=False,
    )
    params = redirect_params(approve)
    assert approve.headers["Location"].startswith(LOOPBACK)
    assert params["state"] == "st-1" and params["scope"] == CALENDAR
    token = http.post(
        sandbox.urls.google_token,
        data={
            "grant_type": "authorization_code",
            "code": params["code"],
            "client_id": "<script>x</script>",
            "redirect_uri": LOOPBACK,
            "code_verifier": VERIFIER,
        },
    )
    assert token.status_code == 200, token.text
    body = token.json()
    assert body["token_type"] == "Bearer" and body["scope"] == CALENDAR
    assert sandbox.state.resolve_access("google", body["access_token"]) == (user.id, "")
    # The page was used up: a second answer is refused.
    replay = http.post(
        f"{sandbox.urls.root}/o/oauth2/approve",
        data={"request_id": request_id, "user": user.id, "decision": "allow"},
        allow_redirects=False,
    )
    assert replay.status_code == 400


def test_deny_redirects_access_denied(
    sandbox: Sandbox, http: requests.Session, google_user: SandboxUser
) -> None:
    page = authorize(http, sandbox).text
    request_id = request_id_of(page)
    r = http.post(
        f"{sandbox.urls.root}/o/oauth2/approve",
        data={"request_id": request_id, "decision": "deny"},
        allow_redirects=False,
    )
    assert redirect_params(r) == {"error": "access_denied", "state": "st-1"}


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"redirect_uri": "https://evil.example/cb"}, "redirect_uri_mismatch"),
        ({"redirect_uri": "http://127.0.0.1/"}, "redirect_uri_mismatch"),  # no port
        ({"scope": CALENDAR + "x"}, "invalid_scope"),
        ({"code_challenge": "abc", "code_challenge_method": "S512"}, "invalid_request"),
    ],
)
def test_bad_authorization_requests_get_an_error_page(
    sandbox: Sandbox, http: requests.Session, params: dict[str, str], error: str
) -> None:
    r = authorize(http, sandbox, **params)
    assert r.status_code == 400 and "Location" not in r.headers
    assert f"Error 400: {error}" in r.text


def _code(http: requests.Session, sandbox: Sandbox, **params: str) -> str:
    return redirect_params(authorize(http, sandbox, **params))["code"]


def _redeem(http: requests.Session, sandbox: Sandbox, code: str, **extra: str) -> requests.Response:
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "client_id": "cid",
        "redirect_uri": LOOPBACK,
        **extra,
    }
    return http.post(sandbox.urls.google_token, data={k: v for k, v in data.items() if v})


def test_code_is_single_use_and_bound_to_verifier_client_and_redirect(
    sandbox: Sandbox, http: requests.Session, approve_as: SandboxUser
) -> None:
    code = _code(http, sandbox, code_challenge=VERIFIER, code_challenge_method="plain")
    cases = [
        ({"code_verifier": ""}, "invalid_grant", "Missing code verifier."),
        ({"code_verifier": "w" * 43}, "invalid_grant", "Invalid code verifier."),
        ({"code_verifier": VERIFIER, "client_id": "other"}, "invalid_grant", "Bad Request"),
        (
            {"code_verifier": VERIFIER, "redirect_uri": "http://127.0.0.1:8/"},
            "redirect_uri_mismatch",
            "Bad Request",
        ),
    ]
    for extra, error, description in cases:
        r = _redeem(http, sandbox, code, **extra)
        assert (r.status_code, r.json()) == (
            400,
            {"error": error, "error_description": description},
        )
    assert _redeem(http, sandbox, code, code_verifier=VERIFIER).status_code == 200
    again = _redeem(http, sandbox, code, code_verifier=VERIFIER)
    assert again.json() == {
        "error": "invalid_grant",
        "error_description": "Code was already redeemed.",
    }
    assert (
        _redeem(http, sandbox, "4/0nonsense").json()["error_description"] == "Malformed auth code."
    )


def test_expired_code_is_refused(
    sandbox: Sandbox, http: requests.Session, approve_as: SandboxUser
) -> None:
    code = _code(http, sandbox)
    sandbox.state.data[oauth.CODES][code]["expires"] = 0  # ten minutes later
    r = _redeem(http, sandbox, code)
    assert r.json() == {"error": "invalid_grant", "error_description": "Bad Request"}


def test_token_endpoint_parameter_errors(sandbox: Sandbox, http: requests.Session) -> None:
    url = sandbox.urls.google_token
    assert http.post(url, data={}).json()["error"] == "invalid_request"
    no_client = http.post(url, data={"grant_type": "refresh_token", "refresh_token": "x"})
    assert no_client.json() == {
        "error": "invalid_request",
        "error_description": "Could not determine client ID from request.",
    }
    odd = http.post(url, data={"grant_type": "password", "client_id": "c"})
    assert odd.json()["error"] == "unsupported_grant_type"
    unknown = http.post(
        url, data={"grant_type": "refresh_token", "client_id": "c", "refresh_token": "1//x"}
    )
    assert (unknown.status_code, unknown.json()["error"]) == (400, "invalid_grant")


def test_openid_scopes_come_back_long_with_an_id_token(
    sandbox: Sandbox, http: requests.Session, approve_as: SandboxUser
) -> None:
    code = _code(http, sandbox, scope=f"openid email {CALENDAR}", nonce="n-1")
    body = _redeem(http, sandbox, code).json()
    assert body["scope"].split() == [
        "openid",
        "https://www.googleapis.com/auth/userinfo.email",
        CALENDAR,
    ]
    claims = oauth.decode_jwt_claims(body["id_token"])
    assert claims is not None
    assert (claims["email"], claims["aud"], claims["nonce"]) == (approve_as.email, "cid", "n-1")
    info = http.get(f"{sandbox.urls.root}/tokeninfo", params={"access_token": body["access_token"]})
    assert info.json()["email"] == approve_as.email


def test_admin_refresh_token_works_from_any_client(
    sandbox: Sandbox, http: requests.Session, google_user: SandboxUser
) -> None:
    # Tests elsewhere build Credentials around tokens minted by /_sandbox/users.
    creds = Credentials(  # type: ignore[no-untyped-call]
        None,
        refresh_token=google_user.refresh_token,
        token_uri=sandbox.urls.google_token,
        client_id="any-app",
        client_secret="s",
        scopes=[CALENDAR],
    )
    creds.refresh(GoogleRequest(session=http))  # type: ignore[no-untyped-call]
    assert sandbox.state.resolve_access("google", creds.token) == (google_user.id, "")
