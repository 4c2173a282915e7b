"""HTTP plumbing for ``GoogleProvider``: the real google-api-python-client, retries, error mapping.

Everything that can go wrong on the wire is decided here, in one place:

- ``GoogleTransport.call`` / ``.batch`` run requests and retry what is worth retrying (429, 5xx,
  403 rateLimitExceeded/userRateLimitExceeded; one retry for a dropped connection), honouring
  ``Retry-After``: the library's own ``num_retries`` ignores it (library-notes §1), so it is
  never used. Google's answers come back as ``Failure``; only trouble with no HTTP answer is
  raised (``Offline``, ``AuthRequired`` when the token cannot be renewed).
- ``error_for`` turns a ``Failure`` into our error for what was being done (a 404 is success for
  a delete, "gone" for a get and ``NotFound`` for an update).

Every HTTP request the provider makes is counted in ``RequestStats`` (a batch counts once; token
refreshes go to another host path and are not counted).
"""

from __future__ import annotations

import datetime as dt
import email.utils
import http.client
import json
import logging
import ssl
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

import google.auth.credentials
import google.auth.exceptions
import google_auth_httplib2
import httplib2
from googleapiclient.discovery import build
from googleapiclient.errors import BatchError, HttpError
from googleapiclient.http import BatchHttpRequest, HttpRequest

from app.errors import (
    AlreadyExists,
    AuthRequired,
    CursorExpired,
    NotFound,
    Offline,
    PreconditionFailed,
    ProviderError,
    Rejected,
    ServiceUnavailable,
)
from app.providers.base import RequestStats

log = logging.getLogger(__name__)

DEFAULT_API_ENDPOINT: Final = "https://www.googleapis.com/calendar/v3/"
DEFAULT_BATCH_URI: Final = "https://www.googleapis.com/batch/calendar/v3"
# The Calendar guide allows 1000 calls per batch (api-spec §1.9) and the sandbox accepts that,
# but Google's own guidance and field reports cap Calendar batches at 50 (library-notes §1).
MAX_BATCH: Final = 50

NEEDS_SIGN_IN: Final = (
    "Google no longer accepts Meridian's access to this account (the sign-in expired or was "
    "revoked). Sign in again to resume syncing."
)
_RATE_REASONS: Final = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})
# Daily quota: retrying within seconds cannot help; the scheduler tries again later.
_QUOTA_REASONS: Final = frozenset({"quotaExceeded", "dailyLimitExceeded"})
# What an HTTP call raises when no answer arrived (socket, TLS, DNS, timeouts, dropped links).
_TRANSPORT_ERRORS: Final = (
    OSError,
    http.client.HTTPException,
    httplib2.HttpLib2Error,
    google.auth.exceptions.TransportError,
)

Action = Literal["read", "get", "insert", "update", "delete"]
Request = Callable[[Any], HttpRequest]  # builds one request from the service object


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try before giving up with ``ServiceUnavailable`` or ``Offline``."""

    max_retries: int = 4  # after the first attempt, for 429/5xx/rate-limit answers
    base_delay: float = 1.0  # seconds; doubles per retry
    max_delay: float = 32.0
    max_retry_after: float = 120.0  # a longer Retry-After is left to the scheduler
    transport_retries: int = 1  # a dropped connection is retried once, then we are Offline

    def backoff(self, attempt: int, rand: Callable[[], float]) -> float:
        # "Equal jitter": at least half the exponential step, so clients that were throttled
        # together do not come back together, and never zero.
        step = min(self.max_delay, self.base_delay * 2**attempt)
        return float(step / 2 + rand() * step / 2)


@dataclass(frozen=True)
class Failure:
    """A non-2xx answer from Google, reduced to what the mapping needs."""

    status: int
    reason: str  # error.errors[0].reason, e.g. "fullSyncRequired"
    message: str
    retry_after: float | None = None

    @classmethod
    def of(cls, err: HttpError) -> Failure:
        status = int(err.resp.status)
        reason, message = "", str(getattr(err, "reason", "") or "")
        try:
            error = json.loads(err.content)["error"]
            message = str(error.get("message") or message)
            reason = str((error.get("errors") or [{}])[0].get("reason") or "")
        except (ValueError, TypeError, KeyError, IndexError, AttributeError):
            pass  # a proxy's HTML page: status alone decides
        return cls(status, reason, message, _retry_after(err.resp.get("retry-after")))

    @property
    def retryable(self) -> bool:
        if self.status == 403:
            return self.reason in _RATE_REASONS
        # 409 "conflict" is a batch item colliding with another one: retry it on its own (G-ERR).
        return self.status in (408, 429) or self.status >= 500 or self.reason == "conflict"


def _retry_after(value: object) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date)."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())


def error_for(f: Failure, action: Action) -> ProviderError | None:
    """Our error for Google's answer ``f`` to ``action``; None where the answer means done.

    None: a delete of something already gone (404, 410 deleted), a get of something gone.
    """
    s, reason = f.status, f.reason
    detail = f"{s} {reason}".strip()
    if s == 401:
        return AuthRequired(NEEDS_SIGN_IN, status=s)
    if f.retryable or reason in _QUOTA_REASONS:
        return ServiceUnavailable(
            f"Google Calendar is busy or failing ({detail}); Meridian will try again later.",
            status=s,
            retry_after=f.retry_after,
        )
    if s == 410 and (reason == "fullSyncRequired" or action == "read"):
        return CursorExpired("Google asked for a full re-read (the sync token expired).", status=s)
    if s in (404, 410):
        if action in ("delete", "get"):
            return None
        what = "calendar" if action == "read" else "event"
        return NotFound(f"The {what} no longer exists in Google Calendar.", status=s)
    if s == 412:
        return PreconditionFailed(
            "The event changed in Google Calendar since it was read.", status=s
        )
    if s == 409 and action == "insert":
        return AlreadyExists(
            "An event with this id existed before and was deleted; Google keeps deleted ids "
            "reserved.",
            status=s,
        )
    if 400 <= s < 500:
        return Rejected(f"Google Calendar refused the request ({detail}): {f.message}", status=s)
    return ServiceUnavailable(f"Google Calendar answered unexpectedly ({detail}).", status=s)


def _offline(exc: BaseException) -> Offline:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return Offline(
            "Could not reach Google Calendar: its certificate is not trusted on this computer "
            "(a network proxy may be intercepting the connection)."
        )
    # The exception's text can carry a URL with query parameters; its type name is enough.
    return Offline(
        f"Could not reach Google Calendar ({type(exc).__name__}); Meridian tries again when "
        "the network is back."
    )


def _auth_error(err: google.auth.exceptions.RefreshError) -> ProviderError:
    if getattr(err, "retryable", False):
        return ServiceUnavailable("Google's sign-in service did not answer; trying again later.")
    return AuthRequired(NEEDS_SIGN_IN, status=400)  # invalid_grant: revoked or expired grant


class _CountingHttp(httplib2.Http):  # type: ignore[misc]
    """httplib2 that counts requests to the Calendar API (not those to the token endpoint)."""

    def __init__(self, counted: tuple[str, ...], stats: RequestStats, **kw: Any) -> None:
        super().__init__(**kw)
        self._counted = counted
        self._stats = stats
        self.kind = "other"

    def request(self, uri: str, *args: Any, **kw: Any) -> Any:
        if str(uri).startswith(self._counted):
            self._stats.count(self.kind)
        return super().request(uri, *args, **kw)


class _Batch(BatchHttpRequest):  # type: ignore[misc]
    """A batch that renews the token through our own http object.

    The library renews a token for a part answered 401 with a bare ``httplib2.Http()``, which
    ignores our CA bundle and timeout and would fail against a corporate proxy (or the sandbox).
    """

    def __init__(self, renew: Callable[[], None], batch_uri: str) -> None:
        super().__init__(batch_uri=batch_uri)
        self._renew = renew
        self._renewed = False

    def _refresh_and_apply_credentials(self, request: Any, http: Any) -> None:
        # Once per batch; the new token goes on each part when the parts are serialised again.
        if not self._renewed:
            self._renew()
            self._renewed = True


class CallableCredentials(google.auth.credentials.Credentials):
    """google-auth credentials around ``get_token()``, asked again whenever a token is due."""

    def __init__(self, get_token: Callable[[], str]) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._get_token = get_token

    def refresh(self, request: Any) -> None:
        self.token = self._get_token()


class _Collections:
    """The service's collections, built once: ``service.events()`` builds a new resource with
    every method from the discovery document each time (14 ms; 14 s for 1,000 writes)."""

    def __init__(self, service: Any) -> None:
        self._events = service.events()
        self._calendar_list = service.calendarList()

    def events(self) -> Any:
        return self._events

    def calendarList(self) -> Any:  # the client's own name
        return self._calendar_list


class GoogleTransport:
    """One Calendar v3 service with its own connection; calls are serialised by a lock, since
    httplib2 is not thread-safe (library-notes §1)."""

    def __init__(
        self,
        credentials: google.auth.credentials.Credentials,
        *,
        api_endpoint: str,
        batch_uri: str,
        ca_cert: str | None,
        timeout: float,
        policy: RetryPolicy,
        stats: RequestStats,
        sleep: Callable[[float], None],
        rand: Callable[[], float],
    ) -> None:
        if not api_endpoint.endswith("/calendar/v3/"):
            # The client replaces rootUrl+servicePath with it (library-notes §1).
            raise ValueError("api_endpoint must end with /calendar/v3/")
        self._http = _CountingHttp(
            (api_endpoint, batch_uri), stats, ca_certs=ca_cert, timeout=timeout
        )
        self._authed = google_auth_httplib2.AuthorizedHttp(credentials, http=self._http)
        self._credentials = credentials
        self._batch_uri = batch_uri
        self._policy = policy
        self._sleep = sleep
        self._rand = rand
        self._lock = threading.RLock()
        self.service = _Collections(
            build(
                "calendar",
                "v3",
                http=self._authed,
                static_discovery=True,  # the bundled discovery document: no network at build
                cache_discovery=False,
                client_options={"api_endpoint": api_endpoint},
            )
        )

    # --- single requests --------------------------------------------------------------------

    def call(self, kind: str, make: Request) -> Any:
        """The decoded answer to one request, or its ``Failure`` after the retries."""
        retries = transport_retries = 0
        while True:
            request = make(self.service)
            try:
                with self._lock:
                    self._http.kind = kind
                    answer = _checked(self._guarded(request.execute))
                if not isinstance(answer, Failure):
                    return answer
                failure = answer
            except HttpError as err:
                failure = Failure.of(err)
            except _Retry as retry:
                transport_retries += 1
                if transport_retries > self._policy.transport_retries:
                    raise _offline(retry.cause) from None
                self._wait(self._policy.backoff(transport_retries - 1, self._rand), kind)
                continue
            delay = self._delay([failure], retries)
            if delay is None:
                return failure
            self._wait(delay, kind, failure)
            retries += 1

    # --- batches ----------------------------------------------------------------------------

    def batch(self, kind: str, makes: Sequence[Request]) -> list[Any]:
        """The answers (decoded, or ``Failure``) to up to ``MAX_BATCH`` requests, in order.

        Parts answered 429/5xx/rate-limited are sent again, in a smaller batch, until they
        succeed or the retries run out; the others keep their first answer.
        """
        assert len(makes) <= MAX_BATCH
        answers: list[Any] = [None] * len(makes)
        pending = list(range(len(makes)))
        retries = transport_retries = 0
        while pending:
            try:
                got = self._send_batch(kind, [makes[i] for i in pending])
            except HttpError as err:  # the envelope itself failed: every part shares its fate
                got = [Failure.of(err)] * len(pending)
            except BatchError:
                got = [Failure(502, "badBatchResponse", "unreadable batch answer")] * len(pending)
            except _Retry as retry:
                transport_retries += 1
                if transport_retries > self._policy.transport_retries:
                    raise _offline(retry.cause) from None
                self._wait(self._policy.backoff(transport_retries - 1, self._rand), kind)
                continue
            for i, answer in zip(pending, got, strict=True):
                answers[i] = answer
            again = [i for i in pending if isinstance(answers[i], Failure) and answers[i].retryable]
            delay = self._delay([answers[i] for i in again], retries) if again else None
            if delay is None:
                break
            self._wait(delay, kind, answers[again[0]], parts=len(again))
            retries += 1
            pending = again
        return answers

    def _send_batch(self, kind: str, makes: Sequence[Request]) -> list[Any]:
        got: list[Any] = [None] * len(makes)

        def done(request_id: str, response: Any, exception: HttpError | None) -> None:
            got[int(request_id)] = (
                _checked(response) if exception is None else Failure.of(exception)
            )

        batch = _Batch(self._renew, self._batch_uri)
        for n, make in enumerate(makes):
            batch.add(make(self.service), callback=done, request_id=str(n))
        with self._lock:
            self._http.kind = kind

            def run() -> None:
                # The library would renew an unusable token with a bare Http() (see _Batch).
                if not self._credentials.valid:
                    self._renew()
                batch.execute(http=self._authed)

            self._guarded(run)
        return got

    # --- shared -----------------------------------------------------------------------------

    def _renew(self) -> None:
        self._credentials.refresh(google_auth_httplib2.Request(self._http))  # type: ignore[no-untyped-call]

    def _guarded(self, run: Callable[[], Any]) -> Any:
        """Run an HTTP exchange; no-answer trouble becomes ``_Retry``/``Offline``/auth errors."""
        try:
            return run()
        except google.auth.exceptions.RefreshError as err:
            raise _auth_error(err) from None
        except ssl.SSLCertVerificationError as err:
            raise _offline(err) from None  # retrying cannot fix a certificate
        except _TRANSPORT_ERRORS as err:
            raise _Retry(err) from None

    def _delay(self, failures: Sequence[Failure], retries: int) -> float | None:
        """Seconds to wait before retrying, or None to give up now."""
        if not all(f.retryable for f in failures) or retries >= self._policy.max_retries:
            return None
        asked = [f.retry_after for f in failures if f.retry_after is not None]
        if asked:
            if max(asked) > self._policy.max_retry_after:
                return None  # come back much later: that is the scheduler's job, not a sleep
            return max(asked)
        return self._policy.backoff(retries, self._rand)

    def _wait(self, seconds: float, kind: str, f: Failure | None = None, parts: int = 0) -> None:
        why = f"{f.status} {f.reason}".strip() if f is not None else "no answer"
        where = f"{parts} batch parts" if parts else kind
        log.warning("Google Calendar: %s for %s; retrying in %.1f s", why, where, seconds)
        self._sleep(seconds)


class _Retry(Exception):
    """No answer arrived (connection dropped, timeout): worth one more try."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(type(cause).__name__)
        self.cause = cause


def _checked(answer: Any) -> Any:
    """Every Calendar answer is a JSON object, or empty (a delete); the client hands back
    anything else (a proxy's page) as text."""
    if isinstance(answer, dict):
        return answer
    if answer in (None, b"", ""):
        return {}
    return Failure(502, "unreadableResponse", "Google's answer was not JSON")
