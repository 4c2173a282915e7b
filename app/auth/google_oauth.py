"""Google sign-in: the installed-app flow (google-auth-oauthlib) with PKCE and a loopback redirect.

Scopes are the least that sync needs: ``calendar.events`` (read and write events; or
``calendar.events.readonly`` when every pair copies only *from* this account) plus
``calendar.calendarlist.readonly`` (to list the calendars a person may choose), and ``openid`` +
``userinfo.email`` (the account's address, from the ID token). Not the broad ``calendar`` scope,
which can also delete calendars and change their sharing.

Google's granular consent lets a person untick scopes, and Google answers ``email`` as
``userinfo.email`` plus ``openid``; oauthlib then raises a ``Warning`` ("Scope has changed")
unless OAUTHLIB_RELAX_TOKEN_SCOPE is set process-wide. We don't set it: we catch that Warning,
take the token it carries, and check the granted scopes ourselves (too few: the grant is revoked
and the person is told which permission is missing).

Google returns a refresh token only on consent, so every sign-in asks ``prompt=consent``: a
re-sign-in after the local secrets were lost would otherwise get no refresh token.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from dataclasses import dataclass, field
from typing import Any, Protocol

import google.auth.credentials
import google.auth.exceptions
import requests
from google.auth.transport.requests import Request as GoogleRequest
from google.oauth2.credentials import Credentials
from google_auth_oauthlib.flow import Flow
from oauthlib.oauth2.rfc6749.errors import OAuth2Error

from app.auth.common import HTTP_TIMEOUT, SignIn, SignInOptions, http_session, jwt_claims
from app.auth.loopback import LoopbackReceiver
from app.auth.vault import Vault, VaultKeyMissing
from app.errors import AuthRequired, ConfigError, Offline, ServiceUnavailable, SignInFailed

log = logging.getLogger(__name__)

PROVIDER = "google"
ENTRY = "tokens"  # the vault entry holding this account's tokens
_AUTH = "https://www.googleapis.com/auth/"
EVENTS = _AUTH + "calendar.events"
EVENTS_READONLY = _AUTH + "calendar.events.readonly"
CALENDAR_LIST = _AUTH + "calendar.calendarlist.readonly"
EMAIL = _AUTH + "userinfo.email"
OPENID = "openid"
# Refresh this long before Google's expiry, so a token never dies in the middle of a request.
_MARGIN = dt.timedelta(minutes=5)

NEEDS_SIGN_IN = (
    "Meridian can no longer use this Google account: the sign-in expired or was revoked. "
    "Sign in again to resume syncing."
)


def scopes_for(read_only: bool) -> list[str]:
    return [EVENTS_READONLY if read_only else EVENTS, CALENDAR_LIST, OPENID, EMAIL]


def _required(read_only: bool) -> set[str]:
    return {EVENTS_READONLY if read_only else EVENTS, CALENDAR_LIST}


class _SandboxUrls(Protocol):
    """The part of app.sandbox.server.SandboxUrls used here (auth may not import the sandbox)."""

    @property
    def google_auth(self) -> str: ...
    @property
    def google_token(self) -> str: ...
    @property
    def google_revoke(self) -> str: ...
    @property
    def google_api(self) -> str: ...


@dataclass(frozen=True)
class GoogleConfig:
    """Where Google's sign-in lives and who we are to it. IT policy may set the client."""

    client_id: str = ""
    # Installed-app clients get a "secret" Google requires but cannot keep secret; still we
    # never log it or show it.
    client_secret: str = field(default="", repr=False)
    auth_uri: str = "https://accounts.google.com/o/oauth2/v2/auth"
    token_uri: str = "https://oauth2.googleapis.com/token"  # noqa: S105 - a URL
    revoke_uri: str = "https://oauth2.googleapis.com/revoke"
    api_endpoint: str = "https://www.googleapis.com/calendar/v3/"
    ca_cert: str | None = None  # None: the system's trust store and environment

    @classmethod
    def for_sandbox(
        cls,
        urls: _SandboxUrls,
        ca_cert: str | Any,
        *,
        client_id: str = "meridian-sandbox.apps.googleusercontent.com",
        client_secret: str = "meridian-sandbox-secret",  # noqa: S107 - the sandbox takes any
    ) -> GoogleConfig:
        return cls(
            client_id=client_id,
            client_secret=client_secret,
            auth_uri=urls.google_auth,
            token_uri=urls.google_token,
            revoke_uri=urls.google_revoke,
            api_endpoint=urls.google_api,
            ca_cert=str(ca_cert),
        )

    def require(self) -> None:
        if not self.client_id:
            raise ConfigError(
                "No Google client id is configured for Meridian. Your IT department sets it "
                "(or a developer build sets GoogleConfig.client_id)."
            )

    def client_config(self) -> dict[str, Any]:
        return {
            "installed": {
                "client_id": self.client_id,
                "client_secret": self.client_secret,
                "auth_uri": self.auth_uri,
                "token_uri": self.token_uri,
                "redirect_uris": ["http://127.0.0.1"],
            }
        }


# --- signing in ------------------------------------------------------------------------------


def sign_in(config: GoogleConfig, options: SignInOptions, *, read_only: bool = False) -> SignIn:
    """Run the browser sign-in; returns the account and the secret for the vault."""
    config.require()
    flow = Flow.from_client_config(config.client_config(), scopes_for(read_only))
    if config.ca_cert is not None:
        flow.oauth2session.verify = config.ca_cert
        flow.oauth2session.trust_env = False
    with LoopbackReceiver(uri_host="127.0.0.1", path="/") as receiver:
        flow.redirect_uri = receiver.redirect_uri
        # PKCE (S256) is on by default in Flow; access_type=offline asks for a refresh token.
        url, state = flow.authorization_url(
            access_type="offline", prompt="consent", login_hint=options.login_hint
        )
        if not options.opener(url):
            if options.on_url is None:
                raise SignInFailed("No web browser could be opened to sign in to Google.")
            options.on_url(url)
        response = receiver.wait(state, timeout=options.timeout, cancel=options.cancel)
    token = _redeem(flow, response["code"])
    granted = _scope_list(token.get("scope"))
    missing = _required(read_only) - set(granted)
    if missing:
        revoke(config, str(token.get("refresh_token") or token.get("access_token") or ""))
        raise SignInFailed(
            "Google did not grant all the permissions Meridian needs ("
            + ", ".join(sorted(s.removeprefix(_AUTH) for s in missing))
            + "). Sign in again and leave every box ticked."
        )
    if not token.get("refresh_token"):
        raise SignInFailed("Google did not return a lasting sign-in. Start signing in again.")
    claims = jwt_claims(token.get("id_token"))
    email = str(claims.get("email") or "") or _primary_calendar_id(config, token["access_token"])
    secret = _serialize(
        token["access_token"], token["refresh_token"], _expiry(token.get("expires_in")), granted
    )
    return SignIn(PROVIDER, email, str(claims.get("name") or ""), None, tuple(granted), secret)


def _redeem(flow: Flow, code: str) -> dict[str, Any]:
    """Exchange the code (with the PKCE verifier); the state was checked by the receiver."""
    try:
        return dict(flow.fetch_token(code=code, timeout=HTTP_TIMEOUT))
    except Warning as changed:
        # oauthlib's "Scope has changed" carries the token; the caller checks the scopes.
        token = getattr(changed, "token", None)
        if token is None:
            raise
        return dict(token)
    except OAuth2Error as err:
        raise SignInFailed(f"Google refused the sign-in ({_code(err.error)}).") from None
    except requests.RequestException as err:
        raise SignInFailed(f"Could not reach Google to finish signing in ({_kind(err)}).") from None


def _primary_calendar_id(config: GoogleConfig, access_token: str) -> str:
    """The account's address when the ID token lacks it: the primary calendar's id."""
    session = http_session(config.ca_cert)
    try:
        r = session.get(
            config.api_endpoint.rstrip("/") + "/users/me/calendarList/primary",
            headers={"Authorization": f"Bearer {access_token}"},
        )
        r.raise_for_status()
        return str(r.json()["id"])
    except (requests.RequestException, KeyError, ValueError) as err:
        raise SignInFailed(f"Could not read the Google account's address ({_kind(err)}).") from None


def revoke(config: GoogleConfig, token: str) -> bool:
    """Ask Google to end the grant (either token ends all of it). True if it is gone."""
    if not token:
        return False
    try:
        # In the body, never the query string: URLs end up in proxy and server logs.
        r = http_session(config.ca_cert).post(config.revoke_uri, data={"token": token})
    except requests.RequestException as err:
        log.warning("Google revoke failed: %s", _kind(err))
        return False
    if r.status_code == 200:
        return True
    # Already revoked or expired: the grant is gone all the same.
    gone = r.status_code == 400 and _json(r).get("error") == "invalid_token"
    if not gone:
        log.warning("Google revoke answered %s", r.status_code)
    return gone


def revoke_stored(config: GoogleConfig, secret: str) -> bool:
    data = json.loads(secret)
    return revoke(config, data.get("refresh_token") or data.get("access_token") or "")


# --- the token source ----------------------------------------------------------------------


class GoogleTokenSource:
    """Fresh access tokens for one account, refreshed silently and persisted to the vault."""

    def __init__(self, config: GoogleConfig, vault: Vault, account_id: str) -> None:
        self.config = config
        self.vault = vault
        self.account_id = account_id
        self._session = http_session(config.ca_cert)
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expiry: dt.datetime | None = None

    def access_token(self, *, force_refresh: bool = False) -> str:
        with self._lock:
            if not force_refresh and self._fresh(self._token, self._expiry):
                assert self._token is not None
                return self._token
            # Re-read the vault whenever Google must be asked: a sign-out or a key deleted
            # behind our back shows up here, not as a token we keep using from memory.
            data = self._load()
            token: str | None = data.get("access_token")
            expiry = _parse_expiry(data.get("expiry"))
            if force_refresh or not self._fresh(token, expiry):
                token, expiry = self._refresh(data)
            self._token, self._expiry = token, expiry
            assert token is not None
            return token

    def expiry(self) -> dt.datetime | None:
        return self._expiry

    def credentials(self) -> google.auth.credentials.Credentials:
        """google-auth credentials backed by this source, for google-api-python-client."""
        return SourceCredentials(self)

    @staticmethod
    def _fresh(token: str | None, expiry: dt.datetime | None) -> bool:
        return bool(token) and expiry is not None and expiry - _utcnow() > _MARGIN

    def _load(self) -> dict[str, Any]:
        secret = self.vault.get(self.account_id, ENTRY)
        if secret is None:
            raise AuthRequired(NEEDS_SIGN_IN)
        return dict(json.loads(secret))

    def _refresh(self, data: dict[str, Any]) -> tuple[str, dt.datetime | None]:
        creds = Credentials(  # type: ignore[no-untyped-call]
            None,
            refresh_token=data["refresh_token"],
            token_uri=self.config.token_uri,
            client_id=self.config.client_id,
            client_secret=self.config.client_secret,
        )
        try:
            creds.refresh(GoogleRequest(session=self._session))  # type: ignore[no-untyped-call]
        except google.auth.exceptions.RefreshError as err:
            body = err.args[1] if len(err.args) > 1 and isinstance(err.args[1], dict) else {}
            if body.get("error") in ("invalid_grant", "unauthorized_client"):
                raise AuthRequired(NEEDS_SIGN_IN, status=400) from None
            raise ServiceUnavailable(
                f"Google's sign-in service did not renew access ({_code(body.get('error'))})."
            ) from None
        except google.auth.exceptions.TransportError as err:
            raise Offline(f"Could not reach Google's sign-in service ({_kind(err)}).") from None
        expiry = creds.expiry.replace(tzinfo=dt.UTC) if creds.expiry else None
        secret = _serialize(creds.token, data["refresh_token"], expiry, data.get("scopes", []))
        try:
            self.vault.put(self.account_id, ENTRY, secret)
        except VaultKeyMissing:
            raise AuthRequired(NEEDS_SIGN_IN) from None
        return str(creds.token), expiry


class SourceCredentials(google.auth.credentials.Credentials):
    """Lets google-api-python-client's AuthorizedHttp refresh (on 401) through a token source.

    ``source`` needs ``access_token(force_refresh=...)`` and may have ``expiry()``.
    """

    def __init__(self, source: Any) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._source = source
        self.token = source.access_token()
        self.expiry = _expiry_of(source)

    def refresh(self, request: Any) -> None:
        # Called when the token expired or the API answered 401: either way a new one is due.
        self.token = self._source.access_token(force_refresh=True)
        self.expiry = _expiry_of(self._source)


# --- helpers ---------------------------------------------------------------------------------


def _serialize(
    access: str | None, refresh: str, expiry: dt.datetime | None, scopes: list[str]
) -> str:
    return json.dumps(
        {
            "access_token": access,
            "refresh_token": refresh,
            "expiry": expiry.isoformat() if expiry else None,
            "scopes": scopes,
        }
    )


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _expiry(expires_in: Any) -> dt.datetime | None:
    try:
        return _utcnow() + dt.timedelta(seconds=float(expires_in))
    except (TypeError, ValueError):
        return None


def _parse_expiry(value: Any) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(value) if value else None
    except (TypeError, ValueError):
        return None


def _expiry_of(source: Any) -> dt.datetime | None:
    # google-auth compares expiry with a naive UTC "now".
    expiry = source.expiry() if callable(getattr(source, "expiry", None)) else None
    return expiry.astimezone(dt.UTC).replace(tzinfo=None) if expiry else None


def _scope_list(scope: Any) -> list[str]:
    if isinstance(scope, str):
        return scope.split()
    return [str(s) for s in scope or []]


def _code(error: Any) -> str:
    text = str(error or "unknown")
    return text if text.replace("_", "").isalnum() and len(text) < 64 else "unknown"


def _kind(err: BaseException) -> str:
    # Never str(err): request errors can quote URLs and bodies.
    return type(err).__name__


def _json(r: requests.Response) -> dict[str, Any]:
    try:
        body = r.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
