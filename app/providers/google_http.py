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

import contextlib
import datetime as dt
import email.utils
import http.client
import json
import logging
import secrets
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

import google.auth.credentials
import google.auth.exceptions
import google_auth_httplib2
import httplib2
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError
from googleapiclient.http import HttpRequest

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
from app.providers import google_multipart as multipart
from app.providers.base import RequestStats

log = logging.getLogger(__name__)

DEFAULT_API_ENDPOINT: Final = "https://www.googleapis.com/calendar/v3/"
DEFAULT_BATCH_URI: Final = "https://www.googleapis.com/batch/calendar/v3"
# The Calendar guide allows 1000 calls per batch (api-spec §1.9) and the sandbox accepts that,
# but Google's own guidance and field reports cap Calendar batches at 50 (library-notes §1).
MAX_BATCH: Final = 50

# How long batches keep going one at a time after Google last throttled one (seconds): the
# per-user quota is counted over a sliding minute (api-spec §1.10).
THROTTLE_MEMORY: Final = 60.0

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
Part = multipart.Part
# A batch part: built by the client library from the service object, or written directly.
BatchRequest = Callable[[Any], HttpRequest | Part]


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
        return cls.parse(
            int(err.resp.status),
            err.content,
            err.resp.get("retry-after"),
            str(getattr(err, "reason", "") or ""),
        )

    @classmethod
    def parse(
        cls, status: int, content: bytes | str, retry_after: object, message: str = ""
    ) -> Failure:
        """From an answer's status, body (Google's error envelope) and Retry-After header."""
        reason = ""
        try:
            error = json.loads(content)["error"]
            message = str(error.get("message") or message)
            reason = str((error.get("errors") or [{}])[0].get("reason") or "")
        except (ValueError, TypeError, KeyError, IndexError, AttributeError):
            pass  # a proxy's HTML page: status alone decides
        return cls(status, reason, message, _retry_after(retry_after))

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

    def __init__(
        self, counted: tuple[str, ...], stats: RequestStats, lock: threading.Lock, **kw: Any
    ) -> None:
        super().__init__(**kw)
        self._counted = counted
        self._stats = stats
        self._stats_lock = lock  # shared by the connections of one transport
        self.kind = "other"

    def request(self, uri: str, *args: Any, **kw: Any) -> Any:
        if str(uri).startswith(self._counted):
            with self._stats_lock:
                self._stats.count(self.kind)
        return super().request(uri, *args, **kw)


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
    httplib2 is not thread-safe (library-notes §1). Batches are written and read here
    (google_multipart) and go out on connections of their own, one per batch in flight, so a
    provider may send several at once from its threads."""

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
        self._stats_lock = threading.Lock()

        def connect() -> _CountingHttp:
            counted = (api_endpoint, batch_uri)
            return _CountingHttp(
                counted, stats, self._stats_lock, ca_certs=ca_cert, timeout=timeout
            )

        self._connect = connect
        self._http = connect()
        self._authed = google_auth_httplib2.AuthorizedHttp(credentials, http=self._http)
        self._credentials = credentials
        self._batch_uri = batch_uri
        self.api_endpoint = api_endpoint
        self._policy = policy
        self._sleep = sleep
        self._rand = rand
        self._lock = threading.RLock()
        # Batch connections not in use; a batch takes one (or makes one) for its exchange.
        self._idle: list[google_auth_httplib2.AuthorizedHttp] = []
        self._idle_lock = threading.Lock()
        self._renew_lock = threading.Lock()
        # Once Google throttles, batches go one at a time (retries included) under this gate:
        # batches in flight together would compete for the same freed quota and run out of
        # retries; one at a time, each waits once and goes through.
        self._gate = threading.Lock()
        self._throttled_at = -THROTTLE_MEMORY
        self._clock = time.monotonic
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

    @property
    def throttled(self) -> bool:
        """Google throttled a request lately: send one batch at a time for now."""
        return self._clock() - self._throttled_at < THROTTLE_MEMORY

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

    def batch(self, kind: str, makes: Sequence[BatchRequest]) -> list[Any]:
        """The answers (decoded, or ``Failure``) to up to ``MAX_BATCH`` requests, in order.

        Parts answered 429/5xx/rate-limited are sent again, in a smaller batch, until they
        succeed or the retries run out; the others keep their first answer.
        """
        assert len(makes) <= MAX_BATCH
        answers: list[Any] = [None] * len(makes)
        pending = list(range(len(makes)))
        retries = transport_retries = 0
        with contextlib.ExitStack() as gate:
            gated = False
            while pending:
                if not gated and self.throttled:
                    gate.enter_context(self._gate)  # held until this batch is done
                    gated = True
                try:
                    got = self._send_batch(kind, [makes[i] for i in pending])
                except _Retry as retry:
                    transport_retries += 1
                    if transport_retries > self._policy.transport_retries:
                        raise _offline(retry.cause) from None
                    self._wait(self._policy.backoff(transport_retries - 1, self._rand), kind)
                    continue
                for i, answer in zip(pending, got, strict=True):
                    answers[i] = answer
                again = [
                    i for i in pending if isinstance(answers[i], Failure) and answers[i].retryable
                ]
                if any(answers[i].status in (403, 429) for i in again):  # rate limits
                    self._throttled_at = self._clock()
                delay = self._delay([answers[i] for i in again], retries) if again else None
                if delay is None:
                    break
                self._wait(delay, kind, answers[again[0]], parts=len(again))
                retries += 1
                pending = again
        return answers

    def _send_batch(self, kind: str, makes: Sequence[BatchRequest]) -> list[Any]:
        """One batch exchange: the decoded answers, or ``Failure``, in order.

        Parts answered 401 are sent once more after renewing the token, as the client library
        does; only trouble with no HTTP answer at all is raised (``_Retry``).
        """
        parts = [_part(make(self.service)) for make in makes]
        used = self._credentials.token
        answers = self._exchange(kind, parts)
        unauthorised = [n for n, a in enumerate(answers) if a.status == 401]
        if unauthorised:
            with self._renew_lock:  # one renewal, however many batches were refused with it
                if self._credentials.token == used:
                    self._guarded(self._renew)
            again = self._exchange(kind, [parts[n] for n in unauthorised])
            for n, answer in zip(unauthorised, again, strict=True):
                answers[n] = answer
        return [_decoded(a) for a in answers]

    def _exchange(self, kind: str, parts: Sequence[multipart.Part]) -> list[multipart.Answer]:
        boundary = "batch_" + secrets.token_hex(16)
        base_id = secrets.token_hex(8)
        body = multipart.encode(parts, boundary, base_id)
        headers = {"content-type": f'multipart/mixed; boundary="{boundary}"'}
        with self._connection() as authed:
            authed.http.kind = kind
            resp, content = self._guarded(
                lambda: authed.request(self._batch_uri, method="POST", body=body, headers=headers)
            )
        if resp.status >= 300:  # the envelope itself failed: every part shares its fate
            outer = multipart.Answer(resp.status, {"retry-after": resp.get("retry-after")}, content)
            return [outer] * len(parts)
        try:
            return multipart.decode(resp.get("content-type", ""), content, len(parts), base_id)
        except multipart.MalformedBatch as err:
            log.warning("Google Calendar: unreadable batch answer (%s)", err)
            bad = b'{"error": {"errors": [{"reason": "badBatchResponse"}]}}'
            return [multipart.Answer(502, {}, bad)] * len(parts)

    @contextlib.contextmanager
    def _connection(self) -> Iterator[Any]:
        """A batch connection used by nobody else meanwhile (httplib2 is not thread-safe)."""
        with self._idle_lock:
            authed = self._idle.pop() if self._idle else None
        if authed is None:
            authed = google_auth_httplib2.AuthorizedHttp(self._credentials, http=self._connect())
        try:
            yield authed
        finally:
            with self._idle_lock:
                self._idle.append(authed)

    # --- shared -----------------------------------------------------------------------------

    def _renew(self) -> None:
        # A connection of its own: the shared ones may be in use by another thread.
        request = google_auth_httplib2.Request(self._connect())
        self._credentials.refresh(request)  # type: ignore[no-untyped-call]

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


def _part(request: HttpRequest | Part) -> Part:
    """A batch part; a client request is taken apart, never executed."""
    if isinstance(request, Part):
        return request
    return Part(request.method, request.uri, request.headers, request.body)


def _decoded(answer: multipart.Answer) -> Any:
    """A batch part's answer as the client library would hand it over: the JSON object (``{}``
    for an empty body), or ``Failure``."""
    if answer.status >= 300:
        return Failure.parse(answer.status, answer.body, answer.headers.get("retry-after"))
    if not answer.body.strip():
        return {}
    try:
        return _checked(json.loads(answer.body))
    except ValueError:
        return _checked(answer.body)


def _checked(answer: Any) -> Any:
    """Every Calendar answer is a JSON object, or empty (a delete); the client hands back
    anything else (a proxy's page) as text."""
    if isinstance(answer, dict):
        return answer
    if answer in (None, b"", ""):
        return {}
    return Failure(502, "unreadableResponse", "Google's answer was not JSON")
