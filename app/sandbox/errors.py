"""Error bodies in each service's own shape (see ../shared/reference/payloads/*error*)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from app.sandbox.httpcore import ApiError, Response

GOOGLE = "google"
GRAPH = "graph"
GOOGLE_OAUTH = "google-oauth"
MS_IDENTITY = "microsoft-identity"
SANDBOX = "sandbox"

# status -> (reason, domain, message): what Google answers when nothing more specific applies.
_GOOGLE_DEFAULTS: dict[int, tuple[str, str, str]] = {
    400: ("badRequest", "global", "Bad Request"),
    401: ("authError", "global", "Invalid Credentials"),
    403: ("rateLimitExceeded", "usageLimits", "Rate Limit Exceeded"),
    404: ("notFound", "global", "Not Found"),
    405: ("notFound", "global", "Not Found"),
    409: ("duplicate", "global", "The requested identifier already exists."),
    410: ("deleted", "global", "Resource has been deleted"),
    412: ("conditionNotMet", "global", "Precondition Failed"),
    413: ("uploadTooLarge", "global", "The request is too large."),
    429: ("rateLimitExceeded", "usageLimits", "Rate Limit Exceeded"),
    500: ("backendError", "global", "Backend Error"),
    502: ("backendError", "global", "Backend Error"),
    503: ("backendError", "global", "Backend Error"),
}
_GOOGLE_DOMAINS = {
    "timeRangeEmpty": "calendar",
    "fullSyncRequired": "calendar",
    "updatedMinTooLongAgo": "calendar",
    "forbiddenForNonOrganizer": "calendar",
    "rateLimitExceeded": "usageLimits",
    "userRateLimitExceeded": "usageLimits",
    "quotaExceeded": "usageLimits",
}
_GOOGLE_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    410: "NOT_FOUND",
    412: "FAILED_PRECONDITION",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}

_GRAPH_DEFAULTS: dict[int, tuple[str, str]] = {
    400: ("BadRequest", "The request is invalid."),
    401: ("InvalidAuthenticationToken", "Access token validation failure. Invalid audience."),
    403: ("ErrorAccessDenied", "Access is denied. Check credentials and try again."),
    404: ("ErrorItemNotFound", "The specified object was not found in the store."),
    405: ("Request_BadRequest", "The HTTP method is not allowed for this resource."),
    409: ("ErrorIrresolvableConflict", "The request conflicts with the current state."),
    410: ("SyncStateNotFound", "The sync state generation is not found."),
    412: (
        "ErrorIrresolvableConflict",
        "The send or update operation could not be performed because the change key passed in "
        "the request does not match the current change key for the item.",
    ),
    413: ("RequestEntityTooLarge", "The request entity is too large."),
    424: ("FailedDependency", "A dependency of this request failed."),
    429: ("TooManyRequests", "Please retry again later."),
    500: ("generalException", "An unspecified error has occurred."),
    502: ("badGateway", "Bad gateway."),
    503: ("serviceNotAvailable", "The service is temporarily unavailable."),
    504: ("gatewayTimeout", "The gateway timed out."),
}


def google_body(
    status: int, reason: str | None, message: str | None, **extra: str
) -> dict[str, Any]:
    d_reason, d_domain, d_message = _GOOGLE_DEFAULTS.get(
        status, ("backendError", "global", "Error")
    )
    reason = reason or d_reason
    message = message or d_message
    item: dict[str, Any] = {
        "domain": extra.pop("domain", None)
        or _GOOGLE_DOMAINS.get(reason, d_domain if reason == d_reason else "global"),
        "reason": reason,
        "message": message,
    }
    item.update(extra)
    err: dict[str, Any] = {"errors": [item], "code": status, "message": message}
    return {"error": err}


def graph_body(status: int, code: str | None, message: str | None) -> dict[str, Any]:
    d_code, d_message = _GRAPH_DEFAULTS.get(status, ("UnknownError", "An error occurred."))
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    request_id = str(uuid.uuid4())
    return {
        "error": {
            "code": code or d_code,
            "message": message or d_message,
            "innerError": {"date": now, "request-id": request_id, "client-request-id": request_id},
        }
    }


def render(service: str, err: ApiError, *, google_status_field: bool = False) -> Response:
    headers = dict(err.headers)
    if service == GOOGLE:
        body = google_body(err.status, err.code, err.message, **err.extra)
        if google_status_field and err.status in _GOOGLE_STATUS_NAMES:
            body["error"]["status"] = _GOOGLE_STATUS_NAMES[err.status]
        if err.status == 401:
            headers.setdefault("WWW-Authenticate", 'Bearer realm="https://accounts.google.com/"')
        return Response.json(err.status, body, headers)
    if service == GRAPH:
        if err.status == 401:
            headers.setdefault("WWW-Authenticate", 'Bearer realm="", error="invalid_token"')
        return Response.json(err.status, graph_body(err.status, err.code, err.message), headers)
    if service in (GOOGLE_OAUTH, MS_IDENTITY):
        payload: dict[str, Any] = {"error": err.code, "error_description": err.message}
        payload.update(err.extra)
        return Response.json(err.status, payload, headers)
    return Response.json(err.status, {"error": {"code": err.code, "message": err.message}}, headers)


def default_error(
    service: str,
    status: int,
    code: str | None = None,
    message: str | None = None,
    retry_after: float | None = None,
) -> ApiError:
    """The error a service gives when the sandbox itself decides (faults, throttling)."""
    headers: dict[str, str] = {}
    if retry_after is not None:
        headers["Retry-After"] = _fmt_seconds(retry_after)
    if service == GOOGLE:
        reason, _, msg = _GOOGLE_DEFAULTS.get(status, ("backendError", "global", "Backend Error"))
        return ApiError(status, code or reason, message or msg, headers=headers)
    if service == GRAPH:
        gcode, gmsg = _GRAPH_DEFAULTS.get(status, ("UnknownError", "An error occurred."))
        return ApiError(status, code or gcode, message or gmsg, headers=headers)
    if service in (GOOGLE_OAUTH, MS_IDENTITY):
        return ApiError(
            status,
            code or "temporarily_unavailable",
            message or "Try again later.",
            headers=headers,
        )
    return ApiError(status, code or "error", message or "Error", headers=headers)


def _fmt_seconds(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:.3f}"
