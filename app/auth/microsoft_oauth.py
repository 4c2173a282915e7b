"""Microsoft sign-in: msal's public client, auth code + PKCE on a loopback redirect, or device code.

Scopes: ``Calendars.ReadWrite`` and ``User.Read``; msal adds ``openid profile offline_access``
itself (and refuses them if we pass them), so a refresh token always comes back.

The interactive flow uses msal's ``initiate_auth_code_flow`` / ``acquire_token_by_auth_code_flow``
(PKCE S256, state and nonce checked by msal) with our own loopback receiver rather than
``acquire_token_interactive``: msal's receiver binds 0.0.0.0 inside containers, and ours binds
127.0.0.1 only, closes after one answer and can be cancelled. ``response_mode=form_post`` keeps the
code out of the browser history. When no browser can be opened, the device-code flow is used.

Each account has its own msal cache (a SerializableTokenCache, 3-13 k characters: too big for the
Windows credential store, hence the vault's encrypted blob) and its own PublicClientApplication.
Tenant, client id and authority host come from ``MicrosoftConfig``, which IT policy sets.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

import msal
import requests

from app.auth.common import (
    HTTP_TIMEOUT,
    DeviceCodePrompt,
    SignIn,
    SignInOptions,
    http_session,
)
from app.auth.loopback import LoopbackReceiver
from app.auth.vault import Vault, VaultKeyMissing
from app.errors import AuthRequired, ConfigError, Offline, ServiceUnavailable, SignInFailed

log = logging.getLogger(__name__)

PROVIDER = "microsoft"
ENTRY = "tokens"
SCOPES = ("Calendars.ReadWrite", "User.Read")
# AAD answers these when only a new interactive sign-in can help.
_NEEDS_SIGN_IN_ERRORS = {
    "invalid_grant",
    "interaction_required",
    "login_required",
    "consent_required",
}
_MARGIN = 300.0  # seconds: renew this long before the access token expires

NEEDS_SIGN_IN = (
    "Meridian can no longer use this Microsoft account: the sign-in expired or was revoked. "
    "Sign in again to resume syncing."
)


class _SandboxUrls(Protocol):
    def microsoft_authority(self, tenant: str = "common") -> str: ...
    @property
    def graph(self) -> str: ...


@dataclass(frozen=True)
class MicrosoftConfig:
    """The app registration and the cloud. IT policy sets client id and tenant."""

    client_id: str = ""
    tenant: str = "organizations"  # work and school accounts; a tenant GUID or domain pins one
    authority_host: str = "https://login.microsoftonline.com"
    graph_endpoint: str = "https://graph.microsoft.com/v1.0"
    # What the registration lists: msal and Microsoft's docs use http://localhost (any port).
    redirect_host: str = "localhost"
    # Real clouds: let msal check the authority host. The sandbox is no known host.
    instance_discovery: bool = True
    ca_cert: str | None = None
    scopes: tuple[str, ...] = SCOPES

    @property
    def authority(self) -> str:
        return f"{self.authority_host.rstrip('/')}/{self.tenant}"

    @classmethod
    def for_sandbox(
        cls,
        urls: _SandboxUrls,
        ca_cert: str | Any,
        *,
        client_id: str = "6f0e3a52-8f1c-4c4e-9d1b-5a0c4e7d2b10",
        tenant: str = "common",
    ) -> MicrosoftConfig:
        authority = urls.microsoft_authority(tenant)
        return cls(
            client_id=client_id,
            tenant=tenant,
            authority_host=authority.removesuffix(f"/{tenant}"),
            graph_endpoint=urls.graph,
            instance_discovery=False,
            ca_cert=str(ca_cert),
        )

    def require(self) -> None:
        if not self.client_id:
            raise ConfigError(
                "No Microsoft application (client) id is configured for Meridian. Your IT "
                "department sets it, with the tenant, in Meridian's policy."
            )


def _app(config: MicrosoftConfig, cache: msal.SerializableTokenCache) -> Any:
    """A PublicClientApplication; fetches the authority's discovery document (network)."""
    try:
        return msal.PublicClientApplication(
            config.client_id,
            authority=config.authority,
            instance_discovery=config.instance_discovery,
            http_client=http_session(config.ca_cert),
            token_cache=cache,
            timeout=HTTP_TIMEOUT,
        )
    except requests.RequestException as err:
        raise Offline(f"Could not reach Microsoft's sign-in service ({_kind(err)}).") from None
    except ValueError:
        raise ConfigError(
            f"Microsoft's sign-in service does not know the tenant '{config.tenant}'. Check the "
            "tenant in Meridian's policy."
        ) from None


# --- signing in ------------------------------------------------------------------------------


def sign_in(
    config: MicrosoftConfig, options: SignInOptions, *, device_code: bool = False
) -> SignIn:
    """Interactive sign-in in the browser, or by device code (asked, or when no browser opens)."""
    config.require()
    cache = msal.SerializableTokenCache()
    app = _app(config, cache)
    try:
        if device_code:
            result = _device_flow(app, config, options)
        else:
            result = _browser_flow(app, config, options)
    except requests.RequestException as err:
        raise SignInFailed(
            f"Could not reach Microsoft to finish signing in ({_kind(err)})."
        ) from None
    if "access_token" not in result:
        raise SignInFailed(f"Microsoft refused the sign-in ({_code(result.get('error'))}).")
    accounts = app.get_accounts()
    if not accounts:
        raise SignInFailed("Microsoft's answer did not name an account. Start signing in again.")
    claims = result.get("id_token_claims") or {}
    return SignIn(
        provider=PROVIDER,
        email=str(accounts[0].get("username") or claims.get("preferred_username") or ""),
        display_name=str(claims.get("name") or ""),
        tenant=str(claims["tid"]) if claims.get("tid") else None,
        scopes=tuple(str(result.get("scope", "")).split()),
        secret=cache.serialize(),
    )


def _browser_flow(app: Any, config: MicrosoftConfig, options: SignInOptions) -> dict[str, Any]:
    with LoopbackReceiver(uri_host=config.redirect_host, path="") as receiver:
        flow = app.initiate_auth_code_flow(
            list(config.scopes),
            redirect_uri=receiver.redirect_uri,
            login_hint=options.login_hint,
            prompt="select_account",
            response_mode="form_post",
        )
        if options.opener(flow["auth_uri"]):
            response = receiver.wait(flow["state"], timeout=options.timeout, cancel=options.cancel)
        else:
            response = None
    if response is None:
        if options.on_device_code is None:
            raise SignInFailed("No web browser could be opened to sign in to Microsoft.")
        log.info("no browser could be opened: signing in with a device code")
        return _device_flow(app, config, options)
    try:
        return dict(app.acquire_token_by_auth_code_flow(flow, response))
    except ValueError:
        # msal's own state/nonce check; ours ran first, so this is unexpected.
        raise SignInFailed("The sign-in answer did not match this sign-in. Try again.") from None


def _device_flow(app: Any, config: MicrosoftConfig, options: SignInOptions) -> dict[str, Any]:
    if options.on_device_code is None:
        raise SignInFailed("Device-code sign-in needs a place to show the code.")
    flow = app.initiate_device_flow(scopes=list(config.scopes))
    if "user_code" not in flow:
        raise SignInFailed(f"Microsoft refused a device-code sign-in ({_code(flow.get('error'))}).")
    options.on_device_code(
        DeviceCodePrompt(
            url=str(flow["verification_uri"]),
            user_code=str(flow["user_code"]),
            message=str(flow.get("message", "")),
            expires_in=int(flow.get("expires_in", 0)),
        )
    )
    deadline = time.time() + options.timeout
    cancel = options.cancel

    def stop(f: dict[str, Any]) -> bool:
        now = time.time()
        return f.get("expires_at", 0) < now or now > deadline or bool(cancel and cancel.is_set())

    result = dict(app.acquire_token_by_device_flow(flow, exit_condition=stop))
    if result.get("error") in ("authorization_pending", "slow_down"):
        raise SignInFailed("The device code was not entered in time, or signing in was cancelled.")
    return result


# --- the token source ----------------------------------------------------------------------


class MicrosoftTokenSource:
    """Fresh access tokens for one account from its msal cache, refreshed silently."""

    def __init__(self, config: MicrosoftConfig, vault: Vault, account_id: str) -> None:
        self.config = config
        self.vault = vault
        self.account_id = account_id
        self._cache = msal.SerializableTokenCache()
        self._app: Any = None
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_at = 0.0

    def access_token(self, *, force_refresh: bool = False) -> str:
        with self._lock:
            if not force_refresh and self._token and self._expires_at - time.time() > _MARGIN:
                return self._token
            # The vault is re-read before asking msal: a sign-out or a deleted key shows here.
            secret = self.vault.get(self.account_id, ENTRY)
            if secret is None:
                raise AuthRequired(NEEDS_SIGN_IN)
            self._cache.deserialize(secret)
            if self._app is None:
                self._app = _app(self.config, self._cache)
            accounts = self._app.get_accounts()
            if not accounts:
                raise AuthRequired(NEEDS_SIGN_IN)
            try:
                result = self._app.acquire_token_silent_with_error(
                    list(self.config.scopes), account=accounts[0], force_refresh=force_refresh
                )
            except requests.RequestException as err:
                raise Offline(
                    f"Could not reach Microsoft's sign-in service ({_kind(err)})."
                ) from None
            if not result:  # no refresh token in the cache
                raise AuthRequired(NEEDS_SIGN_IN)
            if "access_token" not in result:
                error = result.get("error")
                if error in _NEEDS_SIGN_IN_ERRORS:
                    raise AuthRequired(NEEDS_SIGN_IN, status=400)
                raise ServiceUnavailable(
                    f"Microsoft's sign-in service did not renew access ({_code(error)})."
                )
            # Check before serialize(): serialize() resets the flag (library-notes.md §3).
            if self._cache.has_state_changed:
                try:
                    self.vault.put(self.account_id, ENTRY, self._cache.serialize())
                except VaultKeyMissing:
                    raise AuthRequired(NEEDS_SIGN_IN) from None
            self._token = str(result["access_token"])
            self._expires_at = time.time() + float(result.get("expires_in", 0))
            return self._token


def _code(error: Any) -> str:
    text = str(error or "unknown")
    return text if text.replace("_", "").isalnum() and len(text) < 64 else "unknown"


def _kind(err: BaseException) -> str:
    return type(err).__name__
