"""HTTP for Microsoft Graph: the one place that sends requests, retries and names errors.

``MicrosoftProvider`` reaches Graph only through ``GraphHttp.send`` (one request) and
``GraphHttp.batch`` (many, as ``$batch`` requests of at most 20 items with up to four in flight:
api-spec §2.9, and Outlook's limit of four concurrent requests per mailbox, §2.10). Both share:

* Auth: a 401 refreshes the token once (``token(True)``) and retries; a second 401 is
  ``AuthRequired``. Several threads that meet the same expired token refresh it once.
* Throttling: 429/502/503/504 wait (``Retry-After``, seconds and possibly fractional, else
  exponential backoff with jitter) and retry, bounded by ``RetryPolicy`` in attempts and in total
  waiting, then ``ServiceUnavailable`` carrying the last wait so the engine can pause that long.
  Throttled items inside a ``$batch`` (per-item 429 with its own Retry-After) are re-sent alone.
* Connection failures and timeouts (connect 5 s, read 30 s on every call) retry the same way,
  then ``Offline``. A resent request is safe: creates carry a transactionId, updates and deletes
  an If-Match (a resent PATCH that had landed answers 412, which the engine re-reads).
* Every other answer becomes one of app.errors via ``error_for`` (never with a token inside).

``requests.Session`` is not documented as thread-safe: each thread gets its own. With a CA file
(the sandbox) the session ignores the environment, since REQUESTS_CA_BUNDLE would otherwise
override ``verify`` (library-notes §3).
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar
from urllib.parse import urlsplit

import requests
from requests.structures import CaseInsensitiveDict

from app.errors import (
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

_T = TypeVar("_T")

log = logging.getLogger(__name__)

BATCH_ITEMS: Final = 20  # Graph's limit per $batch (api-spec §2.9)
IN_FLIGHT: Final = 4  # Outlook serves four concurrent requests per mailbox (§2.10)
# Graph refuses requests over 4 MB, $batch included; leave room for the envelope.
BATCH_BYTES: Final = 3_500_000
RETRYABLE: Final = frozenset({429, 502, 503, 504})
# Ask for ids that survive a move between calendars (api-spec §2.1); sent on every request and
# every batch item, so every id we see and store is of the same kind.
IMMUTABLE_IDS: Final = 'IdType="ImmutableId"'
# Codes meaning "this delta token is no good any more" (§2.5; real answers spell them PascalCase).
_SYNC_RESET: Final = frozenset({"syncstatenotfound", "resyncrequired", "syncstateinvalid"})
# A syntactically impossible id is an id of nothing.
_NO_SUCH_ID: Final = frozenset({"errorinvalididmalformed", "erroritemnotfound", "itemnotfound"})

Token = Callable[[bool], str]


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    max_wait: float = 60.0  # seconds spent waiting for one request (or one batch), in total
    base_delay: float = 1.0  # first backoff without Retry-After; doubles per attempt
    max_delay: float = 30.0


@dataclass(frozen=True)
class Call:
    """One Graph request, as sent alone or as a ``$batch`` item."""

    method: str
    path: str  # below the version root, query included: "/me/events/AAMk...?$expand=..."
    body: Mapping[str, Any] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Reply:
    status: int
    headers: Mapping[str, str]
    body: Any


Outcome = Reply | ProviderError


@dataclass
class _Budget:
    """Attempts made and seconds waited for one request, or for one batch and its re-sent
    items together, so that nested retries never exceed the policy."""

    attempt: int = 1
    waited: float = 0.0


def graph_error(body: Any) -> tuple[str, str]:
    """Graph's error ``code`` and ``message`` (api-spec §2.10), or empty strings."""
    err = body.get("error") if isinstance(body, Mapping) else None
    if not isinstance(err, Mapping):
        return "", ""
    code, message = err.get("code"), err.get("message")
    return (code if isinstance(code, str) else ""), (message if isinstance(message, str) else "")


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Retry-After in seconds: a number (Graph sends fractions: "2.128") or an HTTP date."""
    value = CaseInsensitiveDict(headers).get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, float(when.timestamp() - time.time()))


def error_for(status: int, body: Any, headers: Mapping[str, str]) -> ProviderError:
    """The error an answer means, with Graph's code and message for the person (no tokens)."""
    code, message = graph_error(body)
    said = f" ({code}: {message[:300]})" if code or message else ""
    low = code.lower()
    if status == 401:
        return AuthRequired(
            f"Outlook no longer accepts Meridian's sign-in{said}. "
            "Sign in to your Microsoft account again to resume syncing.",
            status=status,
        )
    if status == 410 or low in _SYNC_RESET:
        return CursorExpired(
            f"Outlook forgot where the last sync stopped{said}; everything is read again.",
            status=status,
        )
    if status == 404 or (status == 400 and low in _NO_SUCH_ID):
        return NotFound(f"The Outlook event does not exist (any more){said}.", status=status)
    if status == 412:
        return PreconditionFailed(
            f"The Outlook event changed since Meridian read it{said}.", status=status
        )
    if status in RETRYABLE or status >= 500:
        return ServiceUnavailable(
            f"Outlook is busy or failing (HTTP {status}){said}; Meridian will try again later.",
            status=status,
            retry_after=retry_after(headers),
        )
    if status == 403:
        return Rejected(
            f"Outlook refused access{said}. Check that this account may edit the calendar.",
            status=status,
        )
    return Rejected(f"Outlook refused the request (HTTP {status}){said}.", status=status)


class GraphHttp:
    def __init__(
        self,
        graph_url: str,
        token: Token,
        *,
        stats: RequestStats,
        ca_cert: str | None = None,
        timeout: tuple[float, float] = (5.0, 30.0),
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base = graph_url.rstrip("/")
        parts = urlsplit(self.base)
        self._origin = f"{parts.scheme}://{parts.netloc}".lower()
        self._token = token
        self._token_lock = threading.Lock()
        self.stats = stats
        self._stats_lock = threading.Lock()
        self._ca_cert = ca_cert
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    # --- plumbing ---------------------------------------------------------------------------

    def close(self) -> None:
        with self._pool_lock:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None
            for s in self._sessions:
                s.close()
            self._sessions.clear()

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            if self._ca_cert is not None:
                session.trust_env = False
                session.verify = self._ca_cert
            self._local.session = session
            with self._pool_lock:
                self._sessions.append(session)
        return session

    def _executor(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(IN_FLIGHT, thread_name_prefix="graph")
            return self._pool

    def submit(self, fn: Callable[[str], _T], arg: str) -> Future[_T]:
        """Run ``fn(arg)`` on one of the batch threads (a request sent ahead of its use)."""
        return self._executor().submit(fn, arg)

    def url(self, path_or_url: str) -> str:
        """An absolute URL; links from Graph must stay on Graph's origin (they get the token)."""
        if "://" not in path_or_url:
            return self.base + path_or_url
        parts = urlsplit(path_or_url)
        if f"{parts.scheme}://{parts.netloc}".lower() != self._origin:
            raise CursorExpired("A saved Outlook link points elsewhere; everything is read again.")
        return path_or_url

    def _count(self, kind: str) -> None:
        with self._stats_lock:
            self.stats.count(kind)

    def _current_token(self) -> str:
        with self._token_lock:
            return self._token(False)

    def _refresh(self, used: str) -> None:
        """After a 401: a new token, unless another thread already got one."""
        with self._token_lock:
            if self._token(False) == used:
                self._token(True)

    def _delay(self, attempt: int, suggested: float | None) -> float:
        if suggested is not None:
            # Honour the server's wait; a little jitter keeps parallel batches from
            # coming back in the same instant.
            return suggested + random.uniform(0, min(1.0, suggested * 0.1))
        base = min(self.retry.max_delay, self.retry.base_delay * 2.0 ** (attempt - 1))
        return base / 2 + random.uniform(0, base / 2)

    def _wait(self, budget: _Budget, delay: float) -> bool:
        """Wait ``delay`` if the budget allows it (True), else leave it (False)."""
        if budget.attempt >= self.retry.max_attempts or budget.waited + delay > self.retry.max_wait:
            return False
        self._sleep(delay)
        budget.waited += delay
        budget.attempt += 1
        return True

    # --- one request --------------------------------------------------------------------------

    def send(
        self,
        method: str,
        path_or_url: str,
        *,
        kind: str,
        body: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        batch: bool = False,
        budget: _Budget | None = None,
    ) -> Reply:
        """Send one request; a 2xx Reply or an exception from app.errors.

        ``batch``: a ``$batch`` answer listing its items is returned whatever its status, as
        Graph may report throttled items with an outer 429 or 424 (api-spec §2.9 [U]); only the
        items say what happened.
        """
        url = self.url(path_or_url)
        data = None if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
        budget = budget or _Budget()
        refreshed = False
        while True:
            token = self._current_token()
            sent = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
            sent["Prefer"] = IMMUTABLE_IDS
            if data is not None:
                sent["Content-Type"] = "application/json"
            for name, value in (headers or {}).items():
                sent[name] = f"{value}, {IMMUTABLE_IDS}" if name == "Prefer" else value
            self._count(kind)
            failure: ProviderError
            try:
                resp = self._session().request(
                    method, url, data=data, headers=sent, timeout=self.timeout
                )
            except requests.exceptions.SSLError as exc:
                raise Offline(
                    "The secure connection to Outlook failed (certificate not trusted: "
                    f"{type(exc).__name__}). Check the network or proxy settings."
                ) from None
            except requests.RequestException as exc:
                failure = Offline(
                    f"Can't reach Outlook ({type(exc).__name__}). "
                    "Meridian resumes when the connection is back."
                )
                suggested = None
            else:
                parsed = _json(resp)
                status = resp.status_code
                if status == 401 and not refreshed:
                    refreshed = True
                    self._refresh(token)
                    continue
                if batch and isinstance(parsed, Mapping) and "responses" in parsed:
                    return Reply(status, resp.headers, parsed)
                if status < 400:
                    return Reply(status, resp.headers, parsed)
                failure = error_for(status, parsed, resp.headers)
                if status not in RETRYABLE:
                    raise failure
                suggested = retry_after(resp.headers)
            delay = self._delay(budget.attempt, suggested)
            log.info("Graph %s %s: %s; retry in %.1f s", method, kind, failure.title, delay)
            if not self._wait(budget, delay):
                raise _final(failure, delay)

    # --- many requests ------------------------------------------------------------------------

    def batch(self, calls: Sequence[Call], *, kind: str) -> list[Outcome]:
        """Run ``calls`` as ``$batch`` requests; one Outcome per call, in order.

        AuthRequired and Offline concern the whole account and are raised; anything else that
        befalls a batch or an item is that item's Outcome.
        """
        out: list[Outcome | None] = [None] * len(calls)
        for index, outcome in self.batch_iter(calls, kind=kind):
            out[index] = outcome
        assert all(o is not None for o in out)
        return [o for o in out if o is not None]

    def batch_iter(self, calls: Sequence[Call], *, kind: str) -> Iterator[tuple[int, Outcome]]:
        """``batch``, handing each ``$batch``'s outcomes (index into ``calls``, outcome) over
        as it completes, in order: the caller reads them while later batches are on the way."""
        chunks = list(self._chunks(calls))
        parts: Iterable[dict[int, Outcome]]
        if len(chunks) <= 1:
            parts = (self._run_chunk(chunk, kind) for chunk in chunks)
        else:
            parts = self._executor().map(lambda c: self._run_chunk(c, kind), chunks)
        for part in parts:
            yield from sorted(part.items())

    def _chunks(self, calls: Sequence[Call]) -> Iterator[list[tuple[int, Call]]]:
        chunk: list[tuple[int, Call]] = []
        size = 0
        for index, call in enumerate(calls):
            item = len(json.dumps(call.body, ensure_ascii=False).encode()) if call.body else 0
            item += len(call.path) + 200
            if chunk and (len(chunk) == BATCH_ITEMS or size + item > BATCH_BYTES):
                yield chunk
                chunk, size = [], 0
            chunk.append((index, call))
            size += item
        if chunk:
            yield chunk

    def _run_chunk(self, chunk: list[tuple[int, Call]], kind: str) -> dict[int, Outcome]:
        pending = {str(index): call for index, call in chunk}
        out: dict[int, Outcome] = {}
        budget, refreshed = _Budget(), False
        while pending:
            payload = {"requests": [_item(rid, call) for rid, call in pending.items()]}
            used = self._current_token()
            try:
                reply = self.send(
                    "POST", "/$batch", kind=kind, body=payload, batch=True, budget=budget
                )
            except (AuthRequired, Offline):
                raise
            except ProviderError as err:
                out.update((int(rid), err) for rid in pending)
                break
            answers = _answers(reply.body)
            again: dict[str, Call] = {}
            delays: list[float] = []
            auth_failed = False
            for rid, call in pending.items():
                answer = answers.get(rid)
                if answer is None:  # not answered: the batch was cut short; send it again
                    again[rid] = call
                    delays.append(self._delay(budget.attempt, None))
                    continue
                status, headers, body = answer
                if status == 401:
                    auth_failed = True
                    again[rid] = call
                elif status in RETRYABLE:
                    again[rid] = call
                    delays.append(self._delay(budget.attempt, retry_after(headers)))
                elif status < 400:
                    out[int(rid)] = Reply(status, headers, body)
                else:
                    out[int(rid)] = error_for(status, body, headers)
            if auth_failed:
                if refreshed:
                    raise error_for(401, None, {})
                refreshed = True
                self._refresh(used)
            if delays:
                delay = max(delays)
                log.info("Graph %s: %d items throttled; retry in %.1f s", kind, len(again), delay)
                if not self._wait(budget, delay):
                    busy = ServiceUnavailable("Outlook kept throttling this change.", status=429)
                    out.update((int(rid), _final(busy, delay)) for rid in again)
                    break
            pending = again
        return out


def _final(failure: ProviderError, delay: float) -> ProviderError:
    """What to raise once retrying is over: Offline stays Offline, the rest is 'busy'."""
    if isinstance(failure, Offline):
        return failure
    return ServiceUnavailable(
        failure.message
        if isinstance(failure, ServiceUnavailable)
        else f"Outlook is busy: {failure.message}",
        status=failure.status,
        retry_after=delay,
    )


def _json(resp: requests.Response) -> Any:
    if not resp.content:
        return None
    try:
        return resp.json()
    except ValueError:
        return None


def _item(rid: str, call: Call) -> dict[str, Any]:
    headers = {"Prefer": IMMUTABLE_IDS}
    for name, value in call.headers.items():
        headers[name] = f"{value}, {IMMUTABLE_IDS}" if name == "Prefer" else value
    item: dict[str, Any] = {"id": rid, "method": call.method, "url": call.path}
    if call.body is not None:
        headers["Content-Type"] = "application/json"
        item["body"] = call.body
    item["headers"] = headers
    return item


def _answers(body: Any) -> dict[str, tuple[int, Mapping[str, str], Any]]:
    """Batch answers by item id (they come in any order, api-spec §2.9)."""
    out: dict[str, tuple[int, Mapping[str, str], Any]] = {}
    responses = body.get("responses") if isinstance(body, Mapping) else None
    for r in responses if isinstance(responses, list) else []:
        if not isinstance(r, Mapping) or not isinstance(r.get("status"), int):
            continue
        raw = r.get("headers")
        headers = CaseInsensitiveDict(
            {str(k): str(v) for k, v in raw.items()} if isinstance(raw, Mapping) else {}
        )
        out[str(r.get("id"))] = (r["status"], headers, r.get("body"))
    return out
