"""Pieces both clouds share: the sign-in result, HTTP sessions, ID-token claims, callbacks."""

from __future__ import annotations

import base64
import binascii
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import requests

# Every HTTP call has a timeout (ARCHITECTURE.md); the libraries pass none by themselves.
HTTP_TIMEOUT = 30.0
# How long a browser sign-in may take before the listener gives up.
SIGN_IN_TIMEOUT = 300.0

# Opens a URL in the person's browser; False when no browser could be opened.
Opener = Callable[[str], bool]


@dataclass(frozen=True)
class DeviceCodePrompt:
    """What to show for a device-code sign-in: open ``url`` anywhere and type ``user_code``."""

    url: str
    user_code: str
    message: str
    expires_in: int


@dataclass(frozen=True)
class SignInOptions:
    opener: Opener
    timeout: float = SIGN_IN_TIMEOUT
    cancel: threading.Event | None = None
    login_hint: str | None = None
    # Told the URL to open when the browser could not be started (Google), or the device code.
    on_url: Callable[[str], None] | None = None
    on_device_code: Callable[[DeviceCodePrompt], None] | None = None


@dataclass(frozen=True)
class SignIn:
    """A completed sign-in. ``secret`` is what the vault keeps; it never appears in a repr."""

    provider: str
    email: str
    display_name: str
    tenant: str | None
    scopes: tuple[str, ...]
    secret: str = field(repr=False)


class TokenSource(Protocol):
    """What providers call before each request (and again with force_refresh after a 401)."""

    account_id: str

    def access_token(self, *, force_refresh: bool = False) -> str: ...


class _TimeoutSession(requests.Session):
    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", HTTP_TIMEOUT)
        return super().request(method, url, *args, **kwargs)


def http_session(ca_cert: str | None) -> requests.Session:
    """A session for one cloud's identity endpoints.

    For the real clouds the environment is honoured (corporate proxies and TLS-inspection CA
    bundles live there). With a private CA (the sandbox) it is ignored: REQUESTS_CA_BUNDLE would
    otherwise override ``verify`` (library-notes.md §3).
    """
    session = _TimeoutSession()
    if ca_cert is not None:
        session.trust_env = False
        session.verify = ca_cert
    return session


def jwt_claims(token: str | None) -> dict[str, Any]:
    """The claims of an ID token received straight from the token endpoint over TLS.

    OIDC Core §3.1.3.7 lets a client rely on TLS instead of the signature in that case; the
    claims name the account, they grant nothing.
    """
    if not token:
        return {}
    try:
        part = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (IndexError, ValueError, binascii.Error):
        return {}
    return claims if isinstance(claims, dict) else {}
