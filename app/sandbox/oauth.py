"""The sandbox's sign-in services: pieces shared by Google and Microsoft, and their registration.

The two providers live in ``oauth_google.py`` and ``oauth_microsoft.py``; they import the helpers
below, which is why ``register`` imports them lazily (no import cycle).

Everything kept between requests (pending consent requests, authorization codes, device codes,
the sign-in log) lives in ``state.data`` as plain JSON so it survives a sandbox restart like the
rest of the state. Codes and tokens are secrets even here: they never appear in log entries,
error descriptions or error pages.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import html
import ipaddress
import json
import re
import secrets
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, unquote_plus, urlencode, urlsplit, urlunsplit

from app.sandbox.errors import SANDBOX
from app.sandbox.httpcore import Context, Request, Response, Router
from app.sandbox.state import SandboxState

# Lifetime of an authorization code; Google and Microsoft both document about ten minutes.
CODE_SECONDS = 600
# How long a consent page stays answerable.
PENDING_SECONDS = 900
# Expired codes are kept this much longer, so a late redemption gets "expired", not "malformed".
_GRACE_SECONDS = 3600
_LOG_CAP = 2000
# Tokens minted by the /_sandbox/users controls (controls.create_user) belong to this client id.
# They are not bound to a client: any app under test may refresh them.
ADMIN_CLIENT_ID = "sandbox-admin"

CODES = "oauth_codes"
PENDING = "oauth_requests"
DEVICE_CODES = "device_codes"
LOG = "oauth_log"

_PKCE_RE = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")
_HOST_RE = re.compile(r"^[A-Za-z0-9.\-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$")
_LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}
_PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    # Inline script only for the form_post page; forms may only go back here or to a loopback app.
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
        "form-action 'self' http://127.0.0.1:* http://localhost:* http://[::1]:*; "
        "frame-ancestors 'none'"
    ),
}
_JSON_HEADERS = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def register(router: Router) -> None:
    from app.sandbox import oauth_google, oauth_microsoft

    oauth_google.register(router)
    oauth_microsoft.register(router)
    router.add(
        SANDBOX, "GET", "/_sandbox/oauth-log", "oauthLog.list", oauth_log_handler, auth=False
    )


# --- errors that are already a response --------------------------------------------------------


class OAuthError(Exception):
    """A finished answer to give instead of the normal one: JSON error, error page or redirect."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


def endpoint(fn: Callable[[Context], Response]) -> Callable[[Context], Response]:
    """Turn an ``OAuthError`` raised anywhere in a handler into its response."""

    @functools.wraps(fn)
    def wrapper(ctx: Context) -> Response:
        try:
            return fn(ctx)
        except OAuthError as err:
            return err.response

    return wrapper


def json_response(status: int, payload: dict[str, Any]) -> Response:
    # Token responses must never be cached (RFC 6749 §5.1).
    return Response.json(status, payload, dict(_JSON_HEADERS))


def json_error(status: int, error: str, description: str, **extra: Any) -> OAuthError:
    return OAuthError(
        json_response(status, {"error": error, "error_description": description, **extra})
    )


# --- request helpers --------------------------------------------------------------------------


def root_url(req: Request) -> str:
    """``https://host:port`` as the client addressed us; discovery documents must match it."""
    host = req.headers.get("Host", "").strip()
    if not _HOST_RE.match(host):
        host = "127.0.0.1"
    return f"https://{host}"


def query(req: Request) -> dict[str, str]:
    return {k: v[-1] for k, v in req.query.items()}


def read_form(req: Request) -> dict[str, str]:
    """The body of a token-style POST: form-encoded (the standard), or JSON (Google accepts it)."""
    ctype = req.headers.get("Content-Type", "").lower()
    if ctype.startswith("application/json"):
        try:
            body = json.loads(req.body or b"{}")
        except (UnicodeDecodeError, json.JSONDecodeError):
            return {}
        return {str(k): str(v) for k, v in body.items()} if isinstance(body, dict) else {}
    return req.form()


def client_credentials(req: Request, form: dict[str, str]) -> tuple[str | None, str | None]:
    """Client id and secret from the body or from HTTP Basic (requests-oauthlib uses Basic)."""
    client_id = form.get("client_id") or None
    secret = form.get("client_secret") or None
    scheme, _, value = req.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "basic" and value:
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return client_id, secret
        user, _, password = decoded.partition(":")
        # RFC 6749 §2.3.1: both parts are form-encoded before they are joined.
        client_id = client_id or unquote_plus(user) or None
        secret = secret or unquote_plus(password) or None
    return client_id, secret


# --- redirect URIs ----------------------------------------------------------------------------


def is_loopback_host(host: str | None) -> bool:
    if not host:
        return False
    host = host.strip("[]").lower()
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_loopback_redirect(uri: str, *, require_port: bool) -> bool:
    """A desktop app's redirect: plain http to this machine, as both providers allow."""
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        return False
    if parts.scheme != "http" or parts.fragment or parts.username or parts.password:
        return False
    if require_port and port is None:
        return False
    return is_loopback_host(parts.hostname)


def add_query(uri: str, params: dict[str, str], *, fragment: bool = False) -> str:
    parts = urlsplit(uri)
    if fragment:
        return urlunsplit(parts._replace(fragment=urlencode(params)))
    pairs = [*parse_qsl(parts.query, keep_blank_values=True), *params.items()]
    return urlunsplit(parts._replace(query=urlencode(pairs)))


def redirect(uri: str) -> Response:
    return Response.empty(302, {"Location": uri, "Cache-Control": "no-store"})


# --- PKCE ----------------------------------------------------------------------------------


def valid_challenge(challenge: str, method: str) -> bool:
    if method == "S256":
        return re.fullmatch(r"[A-Za-z0-9\-_]{43}", challenge) is not None
    return _PKCE_RE.match(challenge) is not None


def pkce_matches(challenge: str, method: str, verifier: str) -> bool:
    if not _PKCE_RE.match(verifier):
        return False
    if method == "S256":
        computed = b64url(hashlib.sha256(verifier.encode("ascii")).digest())
        return hmac.compare_digest(computed, challenge)
    return hmac.compare_digest(verifier, challenge)


# --- tokens and ids ------------------------------------------------------------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_json(payload: dict[str, Any]) -> str:
    return b64url(json.dumps(payload, separators=(",", ":")).encode("utf-8"))


def unsigned_jwt(claims: dict[str, Any]) -> str:
    """An ID token with ``alg: none``: msal ≥1.38 and google-auth only decode it, never verify."""
    return f"{b64url_json({'typ': 'JWT', 'alg': 'none'})}.{b64url_json(claims)}."


def decode_jwt_claims(token: str) -> dict[str, Any] | None:
    try:
        part = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (IndexError, ValueError, binascii.Error):
        return None
    return claims if isinstance(claims, dict) else None


def new_secret(prefix: str, nbytes: int = 32) -> str:
    return prefix + secrets.token_urlsafe(nbytes)


# --- records in state.data -------------------------------------------------------------------


def records(state: SandboxState, name: str) -> dict[str, dict[str, Any]]:
    table: dict[str, dict[str, Any]] = state.data.setdefault(name, {})
    return table


def purge(table: dict[str, dict[str, Any]], now: float | None = None) -> None:
    """Drop records well past their expiry so the snapshot does not grow without bound."""
    now = time.time() if now is None else now
    for key in [k for k, r in table.items() if r.get("expires", 0) + _GRACE_SECONDS < now]:
        del table[key]


def save_pending(state: SandboxState, service: str, request: dict[str, Any]) -> str:
    table = records(state, PENDING)
    purge(table)
    rid = new_secret("req-", 18)
    table[rid] = {"service": service, "expires": time.time() + PENDING_SECONDS, **request}
    state.mark_dirty()
    return rid


def take_pending(state: SandboxState, service: str, rid: str) -> dict[str, Any] | None:
    """The consent request behind a page, used once; None when unknown or stale."""
    table = records(state, PENDING)
    rec = table.get(rid)
    if rec is None or rec["service"] != service:
        return None
    del table[rid]
    state.mark_dirty()
    return rec if rec["expires"] > time.time() else None


def issue_code(state: SandboxState, service: str, prefix: str, grant: dict[str, Any]) -> str:
    table = records(state, CODES)
    purge(table)
    code = new_secret(prefix)
    table[code] = {
        "service": service,
        "expires": time.time() + CODE_SECONDS,
        "used": False,
        **grant,
    }
    state.mark_dirty()
    return code


def auto_approved_user(state: SandboxState, service: str) -> dict[str, Any] | None:
    uid = state.settings.auto_approve.get(service)
    user = state.user(uid) if uid else None
    return user if user and user["service"] == service else None


def has_live_grant(state: SandboxState, service: str, uid: str, client_id: str) -> bool:
    return any(
        r["service"] == service
        and r["user"] == uid
        and r["client_id"] == client_id
        and not r["revoked"]
        for r in state.data["refresh_tokens"].values()
    )


# --- the sign-in log ------------------------------------------------------------------------


def log_event(state: SandboxState, service: str, kind: str, **fields: Any) -> None:
    """Note what a client asked for (PKCE, scopes, modes), for tests; never a code or token."""
    entries: list[dict[str, Any]] = state.data.setdefault(LOG, [])
    seq = int(state.data.get("oauth_log_seq", 0)) + 1
    state.data["oauth_log_seq"] = seq
    entries.append({"seq": seq, "time": time.time(), "service": service, "kind": kind, **fields})
    del entries[:-_LOG_CAP]
    state.mark_dirty()


def oauth_log_handler(ctx: Context) -> Response:
    """GET /_sandbox/oauth-log?service=&kind=&client_id=&since= (read-only)."""
    q = query(ctx.request)
    since_arg = q.get("since", "0")
    since = int(since_arg) if since_arg.isdigit() else 0
    wanted = {k: q[k] for k in ("service", "kind", "client_id") if q.get(k)}
    entries = [
        e
        for e in ctx.state.data.get(LOG, [])
        if e["seq"] > since and all(e.get(k) == v for k, v in wanted.items())
    ]
    return Response.json(200, {"last": ctx.state.data.get("oauth_log_seq", 0), "entries": entries})


# --- pages ----------------------------------------------------------------------------------

_STYLE = """
body{font-family:system-ui,sans-serif;margin:0;background:#f4f5f7;color:#1f2328}
main{max-width:34rem;margin:2rem auto;background:#fff;padding:1.5rem 2rem;border-radius:8px;
box-shadow:0 1px 3px rgba(0,0,0,.2)}
.banner{font-size:.85rem;background:#fff4ce;padding:.4rem .6rem;border-radius:4px}
fieldset{border:1px solid #ccd;border-radius:6px;margin:1rem 0}
label{display:block;padding:.3rem 0}
button{font-size:1rem;padding:.45rem 1.2rem;margin-right:.6rem;border-radius:4px;cursor:pointer}
button:focus,input:focus{outline:3px solid #0b57d0;outline-offset:2px}
.primary{background:#0b57d0;color:#fff;border:1px solid #0b57d0}
.error{color:#b3261e}
code{word-break:break-all}
"""


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def page(provider: str, title: str, body: str, *, status: int = 200) -> Response:
    doc = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(title)}</title><style>{_STYLE}</style></head>
<body><main>
<p class="banner" role="note">Meridian sandbox: a local stand-in for {esc(provider)}.
Nothing on this page leaves this computer.</p>
{body}
</main></body></html>"""
    return Response.html(status, doc, dict(_PAGE_HEADERS))


def error_page(provider: str, status: int, error: str, description: str) -> Response:
    body = (
        f'<h1 class="error">Error {status}: {esc(error)}</h1>'
        f'<p role="alert">{esc(description)}</p>'
        "<p>Go back to the app and start signing in again.</p>"
    )
    return page(provider, f"Error {status}: {error}", body, status=status)


def form_post_page(action: str, fields: dict[str, str]) -> Response:
    """The response_mode=form_post answer: a form a browser submits by script, a person by hand."""
    inputs = "".join(
        f'<input type="hidden" name="{esc(k)}" value="{esc(v)}">' for k, v in fields.items()
    )
    doc = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Working...</title></head>
<body><form method="post" name="hiddenform" action="{esc(action)}">{inputs}
<noscript><p>Script is disabled. Select Submit to continue.</p>
<input type="submit" value="Submit"></noscript></form>
<script>document.forms[0].submit();</script></body></html>"""
    return Response.html(200, doc, dict(_PAGE_HEADERS))


def user_choices(provider: str, users: list[dict[str, Any]], chosen: str | None) -> str:
    """Radio buttons for the sandbox users; the browser matches on value (id) or data-email."""
    if not users:
        return (
            f"<p>There are no sandbox {esc(provider)} users yet. "
            "Create one with <code>POST /_sandbox/users</code>, then reload this page.</p>"
        )
    return "".join(
        f'<label for="u{i}"><input type="radio" id="u{i}" name="user" value="{esc(u["id"])}" '
        f'data-email="{esc(u["email"])}"{" checked" if u["id"] == chosen else ""} required> '
        f"{esc(u['name'])} &lt;{esc(u['email'])}&gt;</label>"
        for i, u in enumerate(users)
    )


def consent_page(
    *,
    provider: str,
    action: str,
    request_id: str,
    app_name: str,
    scope_words: list[str],
    users: list[dict[str, Any]],
    selected: str | None,
    note: str = "",
) -> Response:
    """A consent screen: which app, what it may do, as whom. Allow and Deny post to ``action``."""
    chosen = next(
        (u["id"] for u in users if selected and selected.lower() == u["email"].lower()), None
    )
    chosen = chosen or (users[0]["id"] if users else None)
    items = "".join(f"<li>{esc(w)}</li>" for w in scope_words)
    choices = user_choices(provider, users, chosen)
    allow = (
        '<button type="submit" class="primary" name="decision" value="allow">Allow</button>'
        if users
        else ""
    )
    body = f"""<h1>Sign in to {esc(app_name)}</h1>
<p><strong>{esc(app_name)}</strong> wants to access your {esc(provider)} account.
It will be able to:</p>
<ul>{items}</ul>
{f"<p>{esc(note)}</p>" if note else ""}
<form id="consent" method="post" action="{esc(action)}">
<input type="hidden" name="request_id" value="{esc(request_id)}">
<fieldset><legend>Choose an account</legend>{choices}</fieldset>
{allow}<button type="submit" name="decision" value="deny" formnovalidate>Deny</button>
</form>"""
    return page(provider, f"Sign in - {app_name}", body)
