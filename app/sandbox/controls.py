"""``/_sandbox/``: controls that are not part of either real API (users, faults, limits, log)."""

from __future__ import annotations

import html
from dataclasses import asdict, fields
from typing import Any

from app.sandbox import google_api, graph_api
from app.sandbox.errors import SANDBOX
from app.sandbox.httpcore import ApiError, Context, Response, Router
from app.sandbox.state import Fault, Limits, SandboxState, Switches

_SERVICES = ("google", "microsoft")
_DEFAULT_SCOPES = {
    "google": ["https://www.googleapis.com/auth/calendar"],
    "microsoft": [
        "https://graph.microsoft.com/Calendars.ReadWrite",
        "https://graph.microsoft.com/User.Read",
    ],
}


def register(router: Router) -> None:
    def add(method: str, pattern: str, name: str, handler: Any) -> None:
        router.add(SANDBOX, method, "/_sandbox" + pattern, name, handler, auth=False)

    add("GET", "/", "admin", admin_page)
    add("GET", "/users", "users.list", list_users)
    add("POST", "/users", "users.create", create_user_handler)
    add("POST", "/users/{uid}/tokens", "users.tokens", user_tokens)
    add("POST", "/users/{uid}/revoke", "users.revoke", user_revoke)
    add("POST", "/users/{uid}/expire-access", "users.expireAccess", user_expire_access)
    add("GET", "/faults", "faults.list", list_faults)
    add("POST", "/faults", "faults.add", add_fault)
    add("DELETE", "/faults", "faults.clear", clear_faults)
    add("GET", "/settings", "settings.get", get_settings)
    add("PUT", "/latency", "latency.set", set_latency)
    add("PUT", "/limits", "limits.set", set_limits)
    add("PUT", "/switches", "switches.set", set_switches)
    add("PUT", "/auto-approve", "autoApprove.set", set_auto_approve)
    add("POST", "/expire-sync-tokens", "syncTokens.expire", expire_sync_tokens)
    add("GET", "/requests", "requests.list", list_requests)
    add("DELETE", "/requests", "requests.clear", clear_requests)
    add("POST", "/seed", "seed", seed_handler)
    add("GET", "/outbox", "outbox.list", list_outbox)


def _body(ctx: Context) -> dict[str, Any]:
    body = ctx.json_body(required=False) or {}
    if not isinstance(body, dict):
        raise ApiError(400, "invalid", "The body must be a JSON object.")
    return body


def _user_or_404(state: SandboxState, uid: str) -> dict[str, Any]:
    user = state.user(uid)
    if user is None:
        raise ApiError(404, "notFound", f"No sandbox user {uid}.")
    return user


def create_user(
    state: SandboxState,
    service: str,
    email: str,
    name: str | None = None,
    *,
    client_id: str = "sandbox-admin",
    scopes: list[str] | None = None,
) -> dict[str, Any]:
    """Create a user with a primary calendar; returns the user and tokens the APIs accept."""
    if service not in _SERVICES:
        raise ApiError(400, "invalid", "service must be 'google' or 'microsoft'.")
    if not email or "@" not in email:
        raise ApiError(400, "invalid", "email must be an e-mail address.")
    with state.lock:
        try:
            user = state.add_user(service, email, name or email.split("@")[0].title())
        except ValueError as exc:
            raise ApiError(409, "conflict", str(exc)) from None
        (google_api if service == "google" else graph_api).init_user(state, user)
        tokens = state.issue_tokens(
            service, user["id"], client_id, scopes or _DEFAULT_SCOPES[service]
        )
    return {"user": user, **tokens}


def create_user_handler(ctx: Context) -> Response:
    b = _body(ctx)
    result = create_user(
        ctx.state,
        str(b.get("service", "")),
        str(b.get("email", "")),
        b.get("name"),
        scopes=b.get("scopes"),
    )
    return Response.json(201, result)


def list_users(ctx: Context) -> Response:
    return Response.json(200, {"users": ctx.state.users(ctx.request.arg("service"))})


def user_tokens(ctx: Context) -> Response:
    user = _user_or_404(ctx.state, ctx.params["uid"])
    b = _body(ctx)
    tokens = ctx.state.issue_tokens(
        user["service"],
        user["id"],
        "sandbox-admin",
        b.get("scopes") or _DEFAULT_SCOPES[user["service"]],
    )
    return Response.json(200, tokens)


def user_revoke(ctx: Context) -> Response:
    user = _user_or_404(ctx.state, ctx.params["uid"])
    return Response.json(200, {"revoked": ctx.state.revoke(user["service"], user["id"])})


def user_expire_access(ctx: Context) -> Response:
    user = _user_or_404(ctx.state, ctx.params["uid"])
    return Response.json(
        200, {"expired": ctx.state.expire_access_tokens(user["service"], user["id"])}
    )


_FAULT_FIELDS = {f.name for f in fields(Fault)} - {"id"}


def add_fault(ctx: Context) -> Response:
    b = _body(ctx)
    unknown = set(b) - _FAULT_FIELDS
    if unknown:
        raise ApiError(400, "invalid", f"Unknown fault fields: {sorted(unknown)}.")
    if not isinstance(b.get("status"), int) and not b.get("reset"):
        raise ApiError(400, "invalid", "A fault needs an integer 'status' (or 'reset': true).")
    b.setdefault("status", 0)
    fault = ctx.state.add_fault(**b)
    return Response.json(201, asdict(fault))


def list_faults(ctx: Context) -> Response:
    return Response.json(200, {"faults": [asdict(f) for f in ctx.state.faults]})


def clear_faults(ctx: Context) -> Response:
    ctx.state.clear_faults()
    return Response.empty(204)


def get_settings(ctx: Context) -> Response:
    return Response.json(200, ctx.state.settings_dict())


def set_latency(ctx: Context) -> Response:
    ms = _body(ctx).get("ms")
    if not isinstance(ms, int) or ms < 0:
        raise ApiError(400, "invalid", "'ms' must be a non-negative integer.")
    ctx.state.settings.latency_ms = ms
    return Response.json(200, ctx.state.settings_dict())


def _update_dataclass(target: Limits | Switches, values: dict[str, Any]) -> None:
    known = {f.name: f for f in fields(target)}
    for key in values:
        if key not in known:
            raise ApiError(400, "invalid", f"Unknown setting {key!r}; known: {sorted(known)}.")
    for key, value in values.items():
        setattr(target, key, value)


def set_limits(ctx: Context) -> Response:
    _update_dataclass(ctx.state.settings.limits, _body(ctx))
    return Response.json(200, ctx.state.settings_dict())


def set_switches(ctx: Context) -> Response:
    _update_dataclass(ctx.state.settings.switches, _body(ctx))
    return Response.json(200, ctx.state.settings_dict())


def set_auto_approve(ctx: Context) -> Response:
    b = _body(ctx)
    service = b.get("service")
    if service not in _SERVICES:
        raise ApiError(400, "invalid", "service must be 'google' or 'microsoft'.")
    user = b.get("user")
    if user is not None:
        _user_or_404(ctx.state, str(user))
    ctx.state.settings.auto_approve[service] = user
    return Response.json(200, ctx.state.settings_dict())


def expire_sync_tokens(ctx: Context) -> Response:
    b = _body(ctx)
    service, uid = b.get("service"), b.get("user")
    n = 0
    if service in (None, "google"):
        n += google_api.expire_sync_tokens(ctx.state, uid)
    if service in (None, "microsoft"):
        n += graph_api.expire_sync_tokens(ctx.state, uid)
    return Response.json(200, {"expired": n})


def list_requests(ctx: Context) -> Response:
    since = int(ctx.request.arg("since") or 0)
    service = ctx.request.arg("service")
    entries = [
        e
        for e in ctx.state.log.entries(since)
        if service in (None, e.service) and e.service != SANDBOX
    ]
    return Response.json(
        200,
        {
            "last": ctx.state.log.last_seq,
            "counts": ctx.state.log.counts(entries),
            "http_requests": sum(1 for e in entries if not e.batched),
            "entries": [asdict(e) for e in entries],
        },
    )


def list_outbox(ctx: Context) -> Response:
    uid = ctx.request.arg("user")
    with ctx.state.lock:
        mails = [m for m in ctx.state.data.get("outbox", []) if uid in (None, m["user"])]
    return Response.json(200, {"mails": mails})


def clear_requests(ctx: Context) -> Response:
    ctx.state.log.clear()
    return Response.empty(204)


def seed_handler(ctx: Context) -> Response:
    from app.sandbox import seed  # seed drives the APIs through the dispatcher

    name = _body(ctx).get("name", "demo")
    if name not in ("demo", "empty"):
        raise ApiError(400, "invalid", "seed must be 'demo' or 'empty'.")
    assert ctx.dispatch is not None
    result = seed.seed_demo(ctx.state, ctx.dispatch) if name == "demo" else {}
    return Response.json(201, result)


def admin_page(ctx: Context) -> Response:
    rows = "".join(
        f"<tr><td>{html.escape(u['service'])}</td><td>{html.escape(u['email'])}</td>"
        f"<td>{html.escape(u['name'])}</td><td><code>{html.escape(u['id'])}</code></td></tr>"
        for u in ctx.state.users()
    )
    counts = ctx.state.log.counts([e for e in ctx.state.log.entries() if e.service != SANDBOX])
    count_rows = "".join(
        f"<tr><td>{html.escape(k)}</td><td>{v}</td></tr>" for k, v in sorted(counts.items())
    )
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>Meridian sandbox</title>
<style>body{{font-family:sans-serif;margin:2em}}td,th{{padding:2px 10px;text-align:left}}</style>
</head><body><h1>Meridian sandbox</h1>
<p>A local stand-in for Google Calendar and Microsoft Graph. Nothing here leaves this machine.</p>
<h2>Users</h2><table><tr><th>Service</th><th>E-mail</th><th>Name</th><th>Id</th></tr>{rows}</table>
<h2>Requests per endpoint</h2><table>{count_rows}</table>
<p>Latency: {ctx.state.settings.latency_ms} ms.
JSON controls live under <code>/_sandbox/</code>.</p>
</body></html>"""
    return Response.html(200, page)
