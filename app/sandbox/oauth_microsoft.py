"""The Microsoft identity platform (v2.0 endpoints) as msal's PublicClientApplication uses it.

msal fetches ``{authority}/v2.0/.well-known/openid-configuration`` once, then talks to the
endpoints it names; they must be https on the host the client used (library-notes.md §3), so
every URL is built from the request's Host. Error bodies follow AAD: ``error``,
``error_description`` starting with ``AADSTSnnnn:``, ``error_codes``, ``timestamp``,
``trace_id``, ``correlation_id``, ``error_uri`` and sometimes ``suberror``.

Tenants: ``common`` takes any sandbox user, ``organizations`` any work account (every sandbox
user except those placed in the consumers tenant), ``consumers`` only that tenant; a tenant GUID
or an e-mail domain of a sandbox user names that user's tenant. Anything else is unknown.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import time
import uuid
from typing import Any

from app.sandbox import oauth
from app.sandbox.errors import MS_IDENTITY
from app.sandbox.httpcore import Context, Response, Router
from app.sandbox.oauth import OAuthError, endpoint
from app.sandbox.state import SandboxState

SERVICE = "microsoft"
PROVIDER = "Microsoft"
GRAPH = "https://graph.microsoft.com/"
CONSUMERS_TID = "9188040d-6c67-4c5b-b112-36a304b66dad"
OIDC_SCOPES = ("openid", "profile", "email", "offline_access")
# What ".default" means for the sandbox app: the permissions a Meridian registration would list.
DEFAULT_PERMISSIONS = ("Calendars.ReadWrite", "User.Read")
DEVICE_CODE_SECONDS = 900
# Real AAD says 5 seconds; 1 keeps msal's polling loop (one poll per interval) fast in tests.
DEVICE_POLL_INTERVAL = 1
_USER_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud safely
_PERMISSION_WORDS = {
    "calendars.read": "Read your calendars",
    "calendars.readbasic": "Read basic details of your calendars",
    "calendars.readwrite": "Have full access to your calendars",
    "user.read": "Sign you in and read your profile",
    "mailboxsettings.read": "Read your mailbox settings",
    "offline_access": "Maintain access to data you have given it access to",
    "openid": "Sign you in",
    "profile": "View your basic profile",
    "email": "View your email address",
}


def register(router: Router) -> None:
    def add(method: str, pattern: str, name: str, handler: Any) -> None:
        router.add(MS_IDENTITY, method, pattern, name, endpoint(handler), auth=False)

    add("GET", "/{tenant}/v2.0/.well-known/openid-configuration", "openid-configuration", discovery)
    add("GET", "/{tenant}/discovery/v2.0/keys", "keys", keys)
    add("GET", "/{tenant}/oauth2/v2.0/authorize", "authorize", authorize)
    add("POST", "/{tenant}/oauth2/v2.0/consent", "consent", consent)
    add("POST", "/{tenant}/oauth2/v2.0/token", "token", token)
    add("POST", "/{tenant}/oauth2/v2.0/devicecode", "devicecode", devicecode)
    add("GET", "/{tenant}/oauth2/v2.0/logout", "logout", logout)
    add("GET", "/devicelogin", "devicelogin", devicelogin_page)
    add("POST", "/devicelogin", "devicelogin", devicelogin_submit)


# --- errors ---------------------------------------------------------------------------------


def aad_body(root: str, error: str, code: int, text: str, **extra: Any) -> dict[str, Any]:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    trace, corr = str(uuid.uuid4()), str(uuid.uuid4())
    return {
        "error": error,
        "error_description": f"AADSTS{code}: {text} Trace ID: {trace} Correlation ID: {corr} "
        f"Timestamp: {stamp}",
        "error_codes": [code],
        "timestamp": stamp,
        "trace_id": trace,
        "correlation_id": corr,
        "error_uri": f"{root}/error?code={code}",
        **extra,
    }


def aad_error(
    ctx: Context, status: int, error: str, code: int, text: str, **extra: Any
) -> OAuthError:
    return OAuthError(oauth.json_response(status, aad_body(_root(ctx), error, code, text, **extra)))


def _missing(ctx: Context, name: str) -> OAuthError:
    return aad_error(
        ctx,
        400,
        "invalid_request",
        900144,
        f"The request body must contain the following parameter: '{name}'.",
    )


def _page_error(error: str, code: int, text: str) -> OAuthError:
    return OAuthError(oauth.error_page(PROVIDER, 400, error, f"AADSTS{code}: {text}"))


def _root(ctx: Context) -> str:
    return oauth.root_url(ctx.request)


# --- tenants and users ------------------------------------------------------------------------


def resolve_tenant(state: SandboxState, segment: str) -> tuple[str, str | None]:
    """(kind, tenant id) for a path segment; kind is common/organizations/consumers/tenant.

    Raises KeyError for a tenant no sandbox user lives in.
    """
    seg = segment.lower()
    if seg in ("common", "organizations"):
        return seg, None
    if seg == "consumers":
        return "consumers", CONSUMERS_TID
    for u in state.users(SERVICE):
        if seg in (u["tenant"].lower(), u["email"].rsplit("@", 1)[-1].lower()):
            return "tenant", u["tenant"]
    raise KeyError(segment)


def _tenant_or_error(ctx: Context, *, page: bool = False) -> tuple[str, str | None]:
    segment = ctx.params["tenant"]
    try:
        return resolve_tenant(ctx.state, segment)
    except KeyError:
        text = (
            f"Tenant '{segment}' not found. Check to make sure you have the correct tenant ID "
            "and are signing into the correct cloud."
        )
        if page:
            raise _page_error("invalid_tenant", 90002, text) from None
        raise aad_error(ctx, 400, "invalid_tenant", 90002, text) from None


def user_in_tenant(user: dict[str, Any], kind: str, tid: str | None) -> bool:
    if kind == "common":
        return True
    if kind == "organizations":
        return bool(user["tenant"] != CONSUMERS_TID)
    return bool(user["tenant"].lower() == (tid or "").lower())


def _not_in_tenant_text(user: dict[str, Any], client_id: str, segment: str) -> str:
    return (
        f"User account '{user['email']}' from identity provider "
        f"'https://sts.windows.net/{user['tenant']}/' does not exist in tenant '{segment}' and "
        f"cannot access the application '{client_id}' in that tenant."
    )


# --- scopes -----------------------------------------------------------------------------------


def scope_key(scope: str) -> str:
    """Compare scopes as AAD does: case-insensitive, Graph's with or without the resource URL."""
    s = scope.lower()
    return s[len(GRAPH) :] if s.startswith(GRAPH) else s


def parse_scopes(raw: str) -> tuple[list[str], list[str]]:
    """(valid scopes as sent, invalid ones). Only Graph and the OIDC scopes exist here."""
    valid, invalid = [], []
    for s in raw.split():
        if s.lower() in OIDC_SCOPES or (s.lower().startswith(GRAPH) and len(s) > len(GRAPH)):
            valid.append(s)
        elif "/" not in s and ":" not in s and s:
            valid.append(s)  # a short Graph permission name such as Calendars.ReadWrite
        else:
            invalid.append(s)
    return valid, invalid


def expand_default(scopes: list[str]) -> list[str]:
    out: list[str] = []
    for s in scopes:
        if scope_key(s) == ".default":
            out.extend(GRAPH + p for p in DEFAULT_PERMISSIONS)
        else:
            out.append(s)
    return out


def token_scopes(scopes: list[str]) -> list[str]:
    """Scopes as recorded on sandbox tokens: Graph ones always with the resource URL."""
    out = []
    for s in expand_default(scopes):
        key = scope_key(s)
        if key in OIDC_SCOPES:
            out.append(key)
        else:
            out.append(GRAPH + (s[len(GRAPH) :] if s.lower().startswith(GRAPH) else s))
    return out


def reply_scope(scopes: list[str]) -> str:
    """The ``scope`` of a token reply: the permissions in the form they were asked for.

    msal caches access tokens under the reply's scopes and looks them up with the app's own
    strings, so echoing the request's form keeps silent calls on the cache. AAD adds email to
    an openid request and does not list offline_access.
    """
    out = [s for s in expand_default(scopes) if scope_key(s) != "offline_access"]
    if any(scope_key(s) == "openid" for s in out) and not any(scope_key(s) == "email" for s in out):
        out.append("email")
    return " ".join(out)


def _scope_words(scopes: list[str]) -> list[str]:
    words = []
    for s in expand_default(scopes):
        text = _PERMISSION_WORDS.get(scope_key(s), f"Use the permission {s}")
        if text not in words:
            words.append(text)
    return words


def _scope_problem(raw: str) -> str | None:
    valid, invalid = parse_scopes(raw)
    if invalid or not valid:
        return (
            "The provided value for the input parameter 'scope' is not valid. "
            f"The scope '{' '.join(invalid) or raw}' is not valid."
        )
    return None


def _checked_scopes(ctx: Context, raw: str | None) -> list[str]:
    if not raw:
        raise _missing(ctx, "scope")
    problem = _scope_problem(raw)
    if problem:
        raise aad_error(ctx, 400, "invalid_scope", 70011, problem)
    return parse_scopes(raw)[0]


# --- discovery ----------------------------------------------------------------------------------


def discovery(ctx: Context) -> Response:
    kind, tid = _tenant_or_error(ctx)
    root = _root(ctx)
    # Like AAD: a tenant given by domain is answered with its GUID in every endpoint.
    seg = tid if kind == "tenant" else ctx.params["tenant"].lower()
    issuer_tid = tid or "{tenantid}"
    base = f"{root}/{seg}"
    return oauth.json_response(
        200,
        {
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": [
                "client_secret_post",
                "private_key_jwt",
                "client_secret_basic",
            ],
            "jwks_uri": f"{base}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": f"{root}/{issuer_tid}/v2.0",
            "request_uri_parameter_supported": False,
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
            "claims_supported": [
                "sub",
                "iss",
                "aud",
                "exp",
                "iat",
                "auth_time",
                "nonce",
                "preferred_username",
                "name",
                "tid",
                "ver",
                "email",
                "oid",
            ],
            "tenant_region_scope": None,
            "cloud_instance_name": "microsoftonline.com",
            "msgraph_host": "graph.microsoft.com",
        },
    )


def keys(ctx: Context) -> Response:
    _tenant_or_error(ctx)
    # The sandbox's ID tokens are unsigned (alg none), so there are no keys to publish.
    return oauth.json_response(200, {"keys": []})


def logout(ctx: Context) -> Response:
    target = ctx.request.arg("post_logout_redirect_uri")
    if target and oauth.is_loopback_redirect(target, require_port=False):
        return oauth.redirect(target)
    body = (
        "<h1>You signed out of your account</h1>"
        "<p>It's a good idea to close all browser windows.</p>"
    )
    return oauth.page(PROVIDER, "Signed out", body)


# --- authorization ----------------------------------------------------------------------------


def authorize(ctx: Context) -> Response:
    q = oauth.query(ctx.request)
    for name in ("client_id", "redirect_uri"):
        if not q.get(name):
            raise _page_error(
                "invalid_request",
                900144,
                f"The request body must contain the following parameter: '{name}'.",
            )
    client_id, redirect_uri = q["client_id"], q["redirect_uri"]
    if not oauth.is_loopback_redirect(redirect_uri, require_port=False):
        raise _page_error(
            "invalid_request",
            50011,
            f"The redirect URI '{redirect_uri}' specified in the request does not match the "
            f"redirect URIs configured for the application '{client_id}'.",
        )
    kind, tid = _tenant_or_error(ctx, page=True)
    response_mode = q.get("response_mode") or "query"
    if response_mode not in ("query", "fragment", "form_post"):
        raise _page_error(
            "invalid_request", 900144, f"The response_mode '{response_mode}' is not supported."
        )
    request: dict[str, Any] = {
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "response_mode": response_mode,
        "state": q.get("state"),
        "tenant": ctx.params["tenant"],
        "kind": kind,
        "tid": tid,
        "nonce": q.get("nonce"),
    }
    if q.get("response_type") != "code":
        raise _to_app(
            request,
            "unsupported_response_type",
            700054,
            f"response_type '{q.get('response_type', '')}' is not enabled for the application.",
        )
    raw_scope = q.get("scope", "")
    if not raw_scope:
        raise _to_app(
            request,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'scope'.",
        )
    problem = _scope_problem(raw_scope)
    if problem:
        raise _to_app(request, "invalid_scope", 70011, problem)
    scopes = parse_scopes(raw_scope)[0]
    challenge = q.get("code_challenge", "")
    method = q.get("code_challenge_method") or ("plain" if challenge else "")
    if (method and method not in ("S256", "plain")) or (
        method and not oauth.valid_challenge(challenge, method)
    ):
        raise _to_app(
            request, "invalid_request", 501491, "Invalid size of Code_Challenge parameter."
        )
    request.update(scopes=scopes, challenge=challenge or None, method=method or None)
    user = oauth.auto_approved_user(ctx.state, SERVICE)
    prompt = q.get("prompt", "")
    oauth.log_event(
        ctx.state,
        SERVICE,
        "authorize",
        client_id=client_id,
        redirect_uri=redirect_uri,
        tenant=ctx.params["tenant"],
        scopes=scopes,
        pkce=bool(challenge),
        code_challenge_method=method or None,
        response_mode=response_mode,
        prompt=prompt or None,
        login_hint=q.get("login_hint"),
        auto_approved=user is not None,
    )
    if user is not None:
        return _finish(ctx.state, request, user)
    if prompt == "none":
        raise _to_app(
            request,
            "login_required",
            50058,
            "A silent sign-in request was sent but no user is signed in.",
        )
    rid = oauth.save_pending(ctx.state, SERVICE, request)
    note = (
        ""
        if kind == "common"
        else f"Only accounts in the organization '{ctx.params['tenant']}' can sign in."
    )
    return oauth.consent_page(
        provider=PROVIDER,
        action=f"/{ctx.params['tenant']}/oauth2/v2.0/consent",
        request_id=rid,
        app_name=client_id,
        scope_words=_scope_words(scopes),
        users=ctx.state.users(SERVICE),
        selected=q.get("login_hint"),
        note=note,
    )


def consent(ctx: Context) -> Response:
    form = ctx.request.form()
    request = oauth.take_pending(ctx.state, SERVICE, form.get("request_id", ""))
    if request is None:
        raise _page_error(
            "invalid_request", 90014, "This sign-in request has expired or was already used."
        )
    if form.get("decision") != "allow":
        oauth.log_event(
            ctx.state, SERVICE, "consent", client_id=request["client_id"], outcome="denied"
        )
        raise _to_app(
            request, "access_denied", 65004, "User declined to consent to access the app."
        )
    user = ctx.state.user(form.get("user", ""))
    if user is None or user["service"] != SERVICE:
        raise _page_error("invalid_request", 90014, "Choose one of the listed accounts.")
    oauth.log_event(
        ctx.state, SERVICE, "consent", client_id=request["client_id"], outcome="allowed"
    )
    return _finish(ctx.state, request, user)


def _finish(state: SandboxState, request: dict[str, Any], user: dict[str, Any]) -> Response:
    if not user_in_tenant(user, request["kind"], request["tid"]):
        text = _not_in_tenant_text(user, request["client_id"], request["tenant"])
        raise _to_app(request, "access_denied", 50020, text)
    code = oauth.issue_code(state, SERVICE, "0.sbx-", {**request, "user": user["id"]})
    params = {"code": code}
    if request["state"] is not None:
        params["state"] = request["state"]
    params["session_state"] = str(uuid.uuid4())
    return _app_response(request, params)


def _app_response(request: dict[str, Any], params: dict[str, str]) -> Response:
    """Hand a result to the app's redirect URI the way it asked (response_mode)."""
    if "error" in params and request.get("state") is not None:
        params = {**params, "state": request["state"]}
    uri = request["redirect_uri"]
    if request["response_mode"] == "form_post":
        return oauth.form_post_page(uri, params)
    return oauth.redirect(
        oauth.add_query(uri, params, fragment=request["response_mode"] == "fragment")
    )


def _to_app(request: dict[str, Any], error: str, code: int, text: str) -> OAuthError:
    return OAuthError(
        _app_response(request, {"error": error, "error_description": f"AADSTS{code}: {text}"})
    )


# --- token ----------------------------------------------------------------------------------


def token(ctx: Context) -> Response:
    kind, tid = _tenant_or_error(ctx)
    form = oauth.read_form(ctx.request)
    grant_type = form.get("grant_type")
    if not grant_type:
        raise _missing(ctx, "grant_type")
    client_id, _secret = oauth.client_credentials(ctx.request, form)
    if not client_id:
        raise _missing(ctx, "client_id")
    if grant_type == "authorization_code":
        return _redeem_code(ctx, form, client_id, kind, tid)
    if grant_type == "refresh_token":
        return _refresh(ctx, form, client_id, kind, tid)
    if grant_type == "urn:ietf:params:oauth:grant-type:device_code":
        return _device_token(ctx, form, client_id)
    raise aad_error(
        ctx,
        400,
        "unsupported_grant_type",
        70003,
        f"The app requested an unsupported grant type '{grant_type}'.",
    )


def _check_user(
    ctx: Context, uid: str, client_id: str, kind: str, tid: str | None
) -> dict[str, Any]:
    user = ctx.state.user(uid)
    if user is None:
        raise aad_error(
            ctx,
            400,
            "invalid_grant",
            50173,
            "The provided grant has expired due to it being revoked, a fresh auth token is needed.",
            suberror="bad_token",
        )
    if not user_in_tenant(user, kind, tid):
        raise aad_error(
            ctx,
            400,
            "invalid_grant",
            50020,
            _not_in_tenant_text(user, client_id, ctx.params["tenant"]),
        )
    return user


def _redeem_code(
    ctx: Context, form: dict[str, str], client_id: str, kind: str, tid: str | None
) -> Response:
    code = form.get("code")
    if not code:
        raise _missing(ctx, "code")
    rec = oauth.records(ctx.state, oauth.CODES).get(code)
    if rec is None or rec["service"] != SERVICE:
        raise aad_error(
            ctx, 400, "invalid_grant", 9002313, "Invalid request. Request is malformed or invalid."
        )
    if rec["used"]:
        raise aad_error(
            ctx,
            400,
            "invalid_grant",
            54005,
            "OAuth2 Authorization code was already redeemed, please retry with a new valid code "
            "or use an existing refresh token.",
        )
    if rec["expires"] <= time.time():
        raise aad_error(
            ctx,
            400,
            "invalid_grant",
            70008,
            "The provided authorization code or refresh token has expired due to inactivity. "
            "Send a new interactive authorization request for this user and resource.",
        )
    if rec["client_id"] != client_id:
        raise aad_error(ctx, 400, "invalid_grant", 70000, "Provided grant is invalid or malformed.")
    if form.get("redirect_uri", "") != rec["redirect_uri"]:
        raise aad_error(
            ctx,
            400,
            "invalid_grant",
            500112,
            "The reply address does not match the reply address provided when requesting the "
            "authorization code.",
        )
    if rec["challenge"]:
        verifier = form.get("code_verifier")
        if not verifier:
            raise _missing(ctx, "code_verifier")
        if not oauth.pkce_matches(rec["challenge"], rec["method"], verifier):
            raise aad_error(
                ctx,
                400,
                "invalid_grant",
                501481,
                "The Code_Verifier does not match the code_challenge supplied in the "
                "authorization request.",
            )
    user = _check_user(ctx, rec["user"], client_id, kind, tid)
    rec["used"] = True
    scopes = _narrowed(ctx, form, rec["scopes"], client_id)
    oauth.log_event(
        ctx.state,
        SERVICE,
        "token",
        grant_type="authorization_code",
        client_id=client_id,
        pkce_verified=bool(rec["challenge"]),
        code_challenge_method=rec["method"],
    )
    return _issue(ctx, form, user, client_id, scopes, rec.get("nonce"))


def _narrowed(ctx: Context, form: dict[str, str], granted: list[str], client_id: str) -> list[str]:
    """The scopes a token request asks for, which must lie within the user's consent."""
    if not form.get("scope"):
        return list(granted)
    wanted = _checked_scopes(ctx, form["scope"])
    have = {scope_key(s) for s in expand_default(granted)}
    missing = [s for s in expand_default(wanted) if scope_key(s) not in have]
    if missing:
        raise aad_error(
            ctx,
            400,
            "invalid_grant",
            65001,
            f"The user or administrator has not consented to use the application with ID "
            f"'{client_id}'. Send an interactive authorization request for this user and resource.",
            suberror="consent_required",
        )
    return wanted


def _refresh(
    ctx: Context, form: dict[str, str], client_id: str, kind: str, tid: str | None
) -> Response:
    rt = form.get("refresh_token")
    if not rt:
        raise _missing(ctx, "refresh_token")
    rec = ctx.state.refresh_record(SERVICE, rt)
    if rec is None:
        raise aad_error(
            ctx,
            400,
            "invalid_grant",
            70000,
            "Provided grant is invalid or malformed.",
            suberror="bad_token",
        )
    if rec["client_id"] not in (client_id, oauth.ADMIN_CLIENT_ID):
        raise aad_error(
            ctx,
            400,
            "invalid_grant",
            70000,
            "Provided grant is invalid or malformed.",
            suberror="client_mismatch",
        )
    user = _check_user(ctx, rec["user"], client_id, kind, tid)
    # Admin-minted tokens record Graph scopes in full; msal asks with its own strings.
    scopes = _narrowed(ctx, form, rec["scopes"], client_id)
    oauth.log_event(ctx.state, SERVICE, "token", grant_type="refresh_token", client_id=client_id)
    # AAD rotates refresh tokens: every answer carries a new one. The old one is NOT revoked (it
    # stays valid until it expires or is revoked), so a client that lost the new one recovers.
    return _issue(ctx, form, user, client_id, scopes, None, force_refresh_token=True)


def _issue(
    ctx: Context,
    form: dict[str, str],
    user: dict[str, Any],
    client_id: str,
    scopes: list[str],
    nonce: str | None,
    *,
    force_refresh_token: bool = False,
) -> Response:
    keys_ = {scope_key(s) for s in scopes}
    refresh = force_refresh_token or "offline_access" in keys_
    issued = ctx.state.issue_tokens(
        SERVICE, user["id"], client_id, token_scopes(scopes), refresh=refresh
    )
    body: dict[str, Any] = {
        "token_type": "Bearer",
        "scope": reply_scope(scopes),
        "expires_in": issued["expires_in"],
        "ext_expires_in": issued["expires_in"],
        "access_token": issued["access_token"],
    }
    if "refresh_token" in issued:
        body["refresh_token"] = issued["refresh_token"]
    if "openid" in keys_:
        body["id_token"] = id_token(ctx, user, client_id, nonce)
    if form.get("client_info") == "1":
        body["client_info"] = oauth.b64url_json({"uid": user["id"], "utid": user["tenant"]})
    return oauth.json_response(200, body)


def id_token(ctx: Context, user: dict[str, Any], client_id: str, nonce: str | None) -> str:
    now = int(time.time())
    # Pairwise subject, as AAD: stable per user and app, different between apps.
    sub = oauth.b64url(hashlib.sha256(f"{user['id']}:{client_id}".encode()).digest())
    claims: dict[str, Any] = {
        "ver": "2.0",
        "iss": f"{_root(ctx)}/{user['tenant']}/v2.0",
        "sub": sub,
        "aud": client_id,
        "exp": now + 3600,
        "iat": now,
        "nbf": now,
        "name": user["name"],
        "preferred_username": user["email"],
        "oid": user["id"],
        "tid": user["tenant"],
        "email": user["email"],  # reply_scope reports email as granted with openid
    }
    if nonce:
        claims["nonce"] = nonce
    return oauth.unsigned_jwt(claims)


# --- device code flow ---------------------------------------------------------------------------


def devicecode(ctx: Context) -> Response:
    kind, tid = _tenant_or_error(ctx)
    form = oauth.read_form(ctx.request)
    client_id, _secret = oauth.client_credentials(ctx.request, form)
    if not client_id:
        raise _missing(ctx, "client_id")
    scopes = _checked_scopes(ctx, form.get("scope"))
    table = oauth.records(ctx.state, oauth.DEVICE_CODES)
    oauth.purge(table)
    live = {r["user_code"] for r in table.values()}
    user_code = ""
    while not user_code or user_code in live:
        user_code = "".join(secrets.choice(_USER_CODE_ALPHABET) for _ in range(8))
    device_code = oauth.new_secret("DAQABsbx-", 48)
    rec: dict[str, Any] = {
        "client_id": client_id,
        "scopes": scopes,
        "tenant": ctx.params["tenant"],
        "kind": kind,
        "tid": tid,
        "user_code": user_code,
        "status": "pending",
        "user": None,
        "expires": time.time() + DEVICE_CODE_SECONDS,
    }
    auto = oauth.auto_approved_user(ctx.state, SERVICE)
    if auto is not None:
        rec["user"] = auto["id"]
        rec["status"] = "approved" if user_in_tenant(auto, kind, tid) else "refused"
    table[device_code] = rec
    ctx.state.mark_dirty()
    oauth.log_event(
        ctx.state,
        SERVICE,
        "devicecode",
        client_id=client_id,
        tenant=ctx.params["tenant"],
        scopes=scopes,
        auto_approved=auto is not None,
    )
    uri = f"{_root(ctx)}/devicelogin"
    return oauth.json_response(
        200,
        {
            "user_code": user_code,
            "device_code": device_code,
            "verification_uri": uri,
            "expires_in": DEVICE_CODE_SECONDS,
            "interval": DEVICE_POLL_INTERVAL,
            "message": f"To sign in, use a web browser to open the page {uri} and enter the code "
            f"{user_code} to authenticate.",
        },
    )


def _device_token(ctx: Context, form: dict[str, str], client_id: str) -> Response:
    dc = form.get("device_code")
    if not dc:
        raise _missing(ctx, "device_code")
    rec = oauth.records(ctx.state, oauth.DEVICE_CODES).get(dc)
    if rec is None or rec["client_id"] != client_id or rec["status"] == "redeemed":
        raise aad_error(
            ctx,
            400,
            "bad_verification_code",
            70000,
            "The provided value for the input parameter 'device_code' is not valid.",
        )
    if rec["expires"] <= time.time():
        raise aad_error(ctx, 400, "expired_token", 70019, "Verification code expired.")
    status = rec["status"]
    if status == "pending":
        raise aad_error(
            ctx,
            400,
            "authorization_pending",
            70016,
            "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
        )
    if status == "declined":
        raise aad_error(
            ctx,
            400,
            "authorization_declined",
            70000,
            "The user declined the authorization request.",
        )
    # An auto-approved user outside the code's tenant ("refused") is turned away here.
    user = _check_user(ctx, rec["user"], client_id, rec["kind"], rec["tid"])
    rec["status"] = "redeemed"
    ctx.state.mark_dirty()
    oauth.log_event(ctx.state, SERVICE, "token", grant_type="device_code", client_id=client_id)
    return _issue(ctx, form, user, client_id, rec["scopes"], None)


def _find_device_code(state: SandboxState, user_code: str) -> dict[str, Any] | None:
    wanted = "".join(ch for ch in user_code.upper() if ch.isalnum())
    for rec in oauth.records(state, oauth.DEVICE_CODES).values():
        if rec["user_code"] == wanted:
            return rec
    return None


def devicelogin_page(ctx: Context) -> Response:
    return _devicelogin_form(ctx, ctx.request.arg("otc") or "", None, 200)


def _devicelogin_form(ctx: Context, code: str, problem: str | None, status: int) -> Response:
    users = ctx.state.users(SERVICE)
    choices = oauth.user_choices(PROVIDER, users, users[0]["id"] if users else None)
    alert = f'<p class="error" role="alert">{oauth.esc(problem)}</p>' if problem else ""
    body = f"""<h1>Enter code</h1>{alert}
<p>Enter the code displayed on your app or device.</p>
<form id="devicelogin" method="post" action="/devicelogin">
<label for="otc">Code</label>
<input id="otc" name="user_code" value="{oauth.esc(code)}" autocomplete="off" required
 aria-describedby="otc-help"><p id="otc-help">Eight letters and digits.</p>
<fieldset><legend>Sign in as</legend>{choices}</fieldset>
<button type="submit" class="primary" name="decision" value="allow">Allow</button>
<button type="submit" name="decision" value="deny" formnovalidate>Deny</button>
</form>"""
    return oauth.page(PROVIDER, "Enter code", body, status=status)


def devicelogin_submit(ctx: Context) -> Response:
    form = ctx.request.form()
    code = form.get("user_code", "")
    rec = _find_device_code(ctx.state, code)
    if rec is None or rec["expires"] <= time.time():
        return _devicelogin_form(
            ctx, code, "That code didn't work. Check the code and try again.", 400
        )
    if rec["status"] != "pending":
        return _devicelogin_form(ctx, "", "That code has already been used.", 400)
    if form.get("decision") != "allow":
        rec["status"] = "declined"
        ctx.state.mark_dirty()
        return oauth.page(
            PROVIDER, "Declined", "<h1>You declined</h1><p>You may now close this window.</p>"
        )
    user = ctx.state.user(form.get("user", ""))
    if user is None or user["service"] != SERVICE:
        return _devicelogin_form(ctx, code, "Choose one of the listed accounts.", 400)
    if not user_in_tenant(user, rec["kind"], rec["tid"]):
        # Like AAD, the person sees the refusal and may try another account; the code stays.
        text = "AADSTS50020: " + _not_in_tenant_text(user, rec["client_id"], rec["tenant"])
        return _devicelogin_form(ctx, code, text, 400)
    rec["status"] = "approved"
    rec["user"] = user["id"]
    ctx.state.mark_dirty()
    oauth.log_event(
        ctx.state, SERVICE, "devicelogin", client_id=rec["client_id"], outcome="approved"
    )
    body = (
        f"<h1>You're signed in</h1><p>You have signed in to the {oauth.esc(rec['client_id'])} "
        "application on your device. You may now close this window.</p>"
    )
    return oauth.page(PROVIDER, "Signed in", body)
