"""Google's sign-in service for installed apps: authorization page, token, revoke and tokeninfo.

Follows what google-auth-oauthlib's ``InstalledAppFlow`` and google-auth's ``Credentials``
send and expect (library-notes.md §2): a loopback redirect with code, state and scope; a token
endpoint that takes the client id from HTTP Basic or the body; refresh answers that carry no new
refresh token. Error bodies are Google's ``{"error", "error_description"}`` with its wording.
"""

from __future__ import annotations

import time
from typing import Any

from app.sandbox import oauth
from app.sandbox.errors import GOOGLE_OAUTH
from app.sandbox.httpcore import Context, Response, Router
from app.sandbox.oauth import OAuthError, endpoint, json_error
from app.sandbox.state import SandboxState

SERVICE = "google"
PROVIDER = "Google"
_AUTH = "https://www.googleapis.com/auth/"
# Scopes the sandbox knows, in the words Google's consent screen uses. An unknown scope is an
# error page (Google: "Error 400: invalid_scope"), which catches typos in the app's scope list.
SCOPE_WORDS: dict[str, str] = {
    _AUTH + "calendar": "See, edit, share, and permanently delete all the calendars you can "
    "access using Google Calendar",
    _AUTH + "calendar.readonly": "See and download any calendar you can access using your "
    "Google Calendar",
    _AUTH + "calendar.events": "View and edit events on all your calendars",
    _AUTH + "calendar.events.readonly": "View events on all your calendars",
    _AUTH + "calendar.events.owned": "See, create, change, and delete events on Google "
    "calendars you own",
    _AUTH + "calendar.events.owned.readonly": "See the events on Google calendars you own",
    _AUTH + "calendar.calendarlist": "See, add, and remove Google calendars you're subscribed to",
    _AUTH + "calendar.calendarlist.readonly": "See the list of Google calendars you're "
    "subscribed to",
    _AUTH + "calendar.calendars": "See and change the properties of Google calendars you have "
    "access to, and create secondary calendars",
    _AUTH + "calendar.calendars.readonly": "See the title, description, default time zone, and "
    "other properties of Google calendars you have access to",
    _AUTH + "calendar.settings.readonly": "View your Calendar settings",
    _AUTH + "calendar.freebusy": "View your availability in your calendars",
    _AUTH + "calendar.events.freebusy": "See the availability on Google calendars you have "
    "access to",
    _AUTH + "calendar.acls": "See and change the sharing permissions of Google calendars you own",
    _AUTH + "calendar.acls.readonly": "See the sharing permissions of Google calendars you own",
    _AUTH + "calendar.app.created": "Make secondary Google calendars, and see, create, change, "
    "and delete events on them",
    "openid": "Associate you with your personal info on Google",
    _AUTH + "userinfo.email": "See your primary Google Account email address",
    _AUTH + "userinfo.profile": "See your personal info, including any personal info you've "
    "made publicly available",
}
# Google answers the short OIDC names with the long ones and adds openid to them; oauthlib then
# raises "Scope has changed" unless OAUTHLIB_RELAX_TOKEN_SCOPE is set (library-notes.md §2).
_ALIASES = {"email": _AUTH + "userinfo.email", "profile": _AUTH + "userinfo.profile"}


def register(router: Router) -> None:
    def add(method: str, pattern: str, name: str, handler: Any) -> None:
        router.add(GOOGLE_OAUTH, method, pattern, name, endpoint(handler), auth=False)

    add("GET", "/o/oauth2/auth", "authorize", authorize)
    add("GET", "/o/oauth2/v2/auth", "authorize", authorize)  # the current documented path
    add("POST", "/o/oauth2/approve", "approve", approve)
    add("POST", "/token", "token", token)
    add("POST", "/o/oauth2/token", "token", token)  # the legacy path, still answered by Google
    add("POST", "/revoke", "revoke", revoke)
    add("GET", "/tokeninfo", "tokeninfo", tokeninfo)
    add("POST", "/tokeninfo", "tokeninfo", tokeninfo)


def granted_scopes(requested: list[str]) -> list[str]:
    """What Google reports as granted: long names for email/profile, plus openid with them."""
    out: list[str] = []
    for s in requested:
        s = _ALIASES.get(s, s)
        if s not in out:
            out.append(s)
    if any(s in _ALIASES.values() for s in out) and "openid" not in out:
        out.append("openid")
    return out


# --- authorization --------------------------------------------------------------------------


def _page_error(error: str, description: str) -> OAuthError:
    return OAuthError(oauth.error_page(PROVIDER, 400, error, description))


def authorize(ctx: Context) -> Response:
    q = oauth.query(ctx.request)
    for name in ("client_id", "redirect_uri"):
        if not q.get(name):
            raise _page_error("invalid_request", f"Missing required parameter: {name}")
    client_id, redirect_uri = q["client_id"], q["redirect_uri"]
    # Desktop clients may only use a loopback redirect with a port; anything else is refused on
    # the page, never redirected to (it could be an attacker's address).
    if not oauth.is_loopback_redirect(redirect_uri, require_port=True):
        raise _page_error(
            "redirect_uri_mismatch",
            "You can't sign in to this app because it doesn't comply with Google's OAuth 2.0 "
            "policy. A desktop app must use a loopback redirect such as http://127.0.0.1:PORT/.",
        )
    state_param = q.get("state")

    def to_app(params: dict[str, str]) -> OAuthError:
        if state_param is not None:
            params["state"] = state_param
        return OAuthError(oauth.redirect(oauth.add_query(redirect_uri, params)))

    if q.get("response_type") != "code":
        raise to_app({"error": "unsupported_response_type"})
    requested = q.get("scope", "").split()
    if not requested:
        raise _page_error("invalid_request", "Missing required parameter: scope")
    unknown = [s for s in requested if _ALIASES.get(s, s) not in SCOPE_WORDS]
    if unknown:
        raise _page_error(
            "invalid_scope",
            f"Some requested scopes were invalid. {{invalid=[{', '.join(unknown)}]}}",
        )
    challenge = q.get("code_challenge", "")
    method = q.get("code_challenge_method") or ("plain" if challenge else "")
    if method and method not in ("S256", "plain"):
        raise _page_error("invalid_request", "Invalid code_challenge_method value.")
    if method and not oauth.valid_challenge(challenge, method):
        raise _page_error("invalid_request", "Invalid code_challenge.")
    access_type = q.get("access_type", "")
    if access_type not in ("", "online", "offline"):
        raise _page_error("invalid_request", f"Invalid access_type: {access_type}")
    prompt = q.get("prompt", "").split()
    scopes = granted_scopes(requested)
    request: dict[str, Any] = {
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scopes": scopes,
        "state": state_param,
        "challenge": challenge or None,
        "method": method or None,
        "access_type": access_type,
        "prompt": prompt,
        "nonce": q.get("nonce"),
    }
    user = oauth.auto_approved_user(ctx.state, SERVICE)
    oauth.log_event(
        ctx.state,
        SERVICE,
        "authorize",
        client_id=client_id,
        redirect_uri=redirect_uri,
        scopes=requested,
        pkce=bool(challenge),
        code_challenge_method=method or None,
        access_type=access_type or None,
        prompt=q.get("prompt"),
        login_hint=q.get("login_hint"),
        auto_approved=user is not None,
    )
    if user is not None:
        return _code_redirect(ctx.state, request, user["id"], consent_shown=False)
    if "none" in prompt:
        raise to_app({"error": "interaction_required"})
    rid = oauth.save_pending(ctx.state, SERVICE, request)
    return oauth.consent_page(
        provider=PROVIDER,
        action="/o/oauth2/approve",
        request_id=rid,
        app_name=client_id,
        scope_words=[SCOPE_WORDS[s] for s in scopes],
        users=ctx.state.users(SERVICE),
        selected=q.get("login_hint"),
    )


def approve(ctx: Context) -> Response:
    form = ctx.request.form()
    request = oauth.take_pending(ctx.state, SERVICE, form.get("request_id", ""))
    if request is None:
        raise _page_error(
            "invalid_request", "This sign-in request has expired or was already used."
        )
    base: dict[str, str] = {} if request["state"] is None else {"state": request["state"]}
    if form.get("decision") != "allow":
        oauth.log_event(
            ctx.state, SERVICE, "consent", client_id=request["client_id"], outcome="denied"
        )
        return oauth.redirect(
            oauth.add_query(request["redirect_uri"], {"error": "access_denied", **base})
        )
    user = ctx.state.user(form.get("user", ""))
    if user is None or user["service"] != SERVICE:
        raise _page_error("invalid_request", "Choose one of the listed accounts.")
    oauth.log_event(
        ctx.state, SERVICE, "consent", client_id=request["client_id"], outcome="allowed"
    )
    return _code_redirect(ctx.state, request, user["id"], consent_shown=True)


def _code_redirect(
    state: SandboxState, request: dict[str, Any], uid: str, *, consent_shown: bool
) -> Response:
    code = oauth.issue_code(state, SERVICE, "4/0sbx-", {**request, "user": uid})
    params = {"code": code, "scope": " ".join(request["scopes"]), "authuser": "0"}
    params["prompt"] = "consent" if consent_shown else "none"
    if request["state"] is not None:
        params = {"state": request["state"], **params}
    return oauth.redirect(oauth.add_query(request["redirect_uri"], params))


# --- token ------------------------------------------------------------------------------------


def token(ctx: Context) -> Response:
    form = oauth.read_form(ctx.request)
    grant_type = form.get("grant_type")
    if not grant_type:
        raise json_error(400, "invalid_request", "Required parameter is missing: grant_type")
    client_id, _secret = oauth.client_credentials(ctx.request, form)
    # The sandbox has no client registry: any id and secret are accepted, but tokens stay bound
    # to the client they were issued to.
    if not client_id:
        raise json_error(400, "invalid_request", "Could not determine client ID from request.")
    if grant_type == "authorization_code":
        return _redeem_code(ctx, form, client_id)
    if grant_type == "refresh_token":
        return _refresh(ctx, form, client_id)
    raise json_error(400, "unsupported_grant_type", f"Invalid grant_type: {grant_type}")


def _redeem_code(ctx: Context, form: dict[str, str], client_id: str) -> Response:
    code = form.get("code")
    if not code:
        raise json_error(400, "invalid_request", "Missing required parameter: code")
    if not form.get("redirect_uri"):
        raise json_error(400, "invalid_request", "Missing parameter: redirect_uri")
    rec = oauth.records(ctx.state, oauth.CODES).get(code)
    if rec is None or rec["service"] != SERVICE:
        raise json_error(400, "invalid_grant", "Malformed auth code.")
    if rec["used"]:
        raise json_error(400, "invalid_grant", "Code was already redeemed.")
    # Google answers the bare "Bad Request" for a stale code or one issued to another client.
    if rec["expires"] <= time.time() or rec["client_id"] != client_id:
        raise json_error(400, "invalid_grant", "Bad Request")
    if rec["redirect_uri"] != form["redirect_uri"]:
        raise json_error(400, "redirect_uri_mismatch", "Bad Request")
    verifier = form.get("code_verifier")
    if rec["challenge"]:
        if not verifier:
            raise json_error(400, "invalid_grant", "Missing code verifier.")
        if not oauth.pkce_matches(rec["challenge"], rec["method"], verifier):
            raise json_error(400, "invalid_grant", "Invalid code verifier.")
    elif verifier:
        raise json_error(400, "invalid_request", "code_verifier or verifier is not needed.")
    uid = rec["user"]
    user = ctx.state.user(uid)
    if user is None:
        raise json_error(400, "invalid_grant", "Account has been deleted")
    rec["used"] = True
    # Google returns a refresh token only for offline access, and only when the user consents
    # anew: a second sign-in to the same client without prompt=consent gets none. Apps that rely
    # on one must ask with prompt=consent (a classic trap the sandbox keeps).
    offline = rec["access_type"] != "online"
    first_grant = not oauth.has_live_grant(ctx.state, SERVICE, uid, client_id)
    refresh = offline and (first_grant or "consent" in rec["prompt"])
    issued = ctx.state.issue_tokens(SERVICE, uid, client_id, rec["scopes"], refresh=refresh)
    oauth.log_event(
        ctx.state,
        SERVICE,
        "token",
        grant_type="authorization_code",
        client_id=client_id,
        pkce_verified=bool(rec["challenge"]),
        code_challenge_method=rec["method"],
        refresh_token_issued=refresh,
    )
    return _token_response(ctx, issued, rec["scopes"], user, client_id, rec.get("nonce"))


def _refresh(ctx: Context, form: dict[str, str], client_id: str) -> Response:
    rt = form.get("refresh_token")
    if not rt:
        raise json_error(400, "invalid_request", "Missing required parameter: refresh_token")
    rec = ctx.state.refresh_record(SERVICE, rt)
    if rec is None:
        raise json_error(400, "invalid_grant", "Token has been expired or revoked.")
    if rec["client_id"] not in (client_id, oauth.ADMIN_CLIENT_ID):
        raise json_error(400, "unauthorized_client", "Unauthorized")
    user = ctx.state.user(rec["user"])
    if user is None:
        raise json_error(400, "invalid_grant", "Account has been deleted")
    scopes = list(rec["scopes"])
    if form.get("scope"):
        # A refresh may narrow the scopes of the grant, never widen them.
        wanted = granted_scopes(form["scope"].split())
        if not set(wanted) <= set(scopes):
            raise json_error(400, "invalid_scope", "Bad Request")
        scopes = wanted
    issued = ctx.state.issue_tokens(SERVICE, rec["user"], rec["client_id"], scopes, refresh=False)
    oauth.log_event(ctx.state, SERVICE, "token", grant_type="refresh_token", client_id=client_id)
    return _token_response(ctx, issued, scopes, user, client_id, None)


def _token_response(
    ctx: Context,
    issued: dict[str, Any],
    scopes: list[str],
    user: dict[str, Any],
    client_id: str,
    nonce: str | None,
) -> Response:
    body: dict[str, Any] = {
        "access_token": issued["access_token"],
        "expires_in": issued["expires_in"] - 1,  # Google answers 3599
        "scope": " ".join(scopes),
        "token_type": "Bearer",
    }
    if "refresh_token" in issued:
        body["refresh_token"] = issued["refresh_token"]
    if "openid" in scopes:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": oauth.root_url(ctx.request),
            "azp": client_id,
            "aud": client_id,
            "sub": user["id"],
            "iat": now,
            "exp": now + 3600,
        }
        if _AUTH + "userinfo.email" in scopes:
            claims.update(email=user["email"], email_verified=True)
        if _AUTH + "userinfo.profile" in scopes:
            claims["name"] = user["name"]
        if nonce:
            claims["nonce"] = nonce
        body["id_token"] = oauth.unsigned_jwt(claims)
    return oauth.json_response(200, body)


# --- revoke and tokeninfo -------------------------------------------------------------------


def revoke(ctx: Context) -> Response:
    form = oauth.read_form(ctx.request)
    tok = form.get("token") or ctx.request.arg("token")
    if not tok:
        raise json_error(400, "invalid_request", "Bad Request")
    state = ctx.state
    rt = state.data["refresh_tokens"].get(tok)
    at = state.data["access_tokens"].get(tok)
    if rt is not None and rt["service"] == SERVICE and not rt["revoked"]:
        rec = rt
    elif at is not None and at["service"] == SERVICE and at["expires"] > time.time():
        rec = at
    else:
        raise json_error(400, "invalid_token", "Token expired or revoked")
    # Revoking either token ends the whole grant: every token of that user for that client.
    uid, client_id = rec["user"], rec["client_id"]
    for r in state.data["refresh_tokens"].values():
        if r["service"] == SERVICE and r["user"] == uid and r["client_id"] == client_id:
            r["revoked"] = True
    for a in state.data["access_tokens"].values():
        if a["service"] == SERVICE and a["user"] == uid and a["client_id"] == client_id:
            a["expires"] = 0
    state.mark_dirty()
    oauth.log_event(state, SERVICE, "revoke", client_id=client_id)
    return oauth.json_response(200, {})


def tokeninfo(ctx: Context) -> Response:
    params = {**oauth.query(ctx.request), **oauth.read_form(ctx.request)}
    invalid = json_error(400, "invalid_token", "Invalid Value")
    if params.get("id_token"):
        claims = oauth.decode_jwt_claims(params["id_token"])
        if claims is None:
            raise invalid
        return oauth.json_response(200, {k: str(v) for k, v in claims.items()})
    rec = ctx.state.data["access_tokens"].get(params.get("access_token", ""))
    now = time.time()
    if rec is None or rec["service"] != SERVICE or rec["expires"] <= now:
        raise invalid
    user = ctx.state.user(rec["user"])
    if user is None:
        raise invalid
    info = {
        "azp": rec["client_id"],
        "aud": rec["client_id"],
        "sub": user["id"],
        "scope": " ".join(rec["scopes"]),
        "exp": str(int(rec["expires"])),
        "expires_in": str(int(rec["expires"] - now)),
        "access_type": "offline",
    }
    if _AUTH + "userinfo.email" in rec["scopes"]:
        info.update(email=user["email"], email_verified="true")
    return oauth.json_response(200, info)
