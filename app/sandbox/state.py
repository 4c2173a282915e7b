"""Everything the sandbox knows, behind one lock, and how it survives a restart.

The calendar data of each cloud lives in plain JSON-able dicts (``data["google"]``,
``data["graph"]``) owned by the modules that emulate them; this module owns what is shared:
users, tokens, the change sequence, settings, injected faults and the request log.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import threading
import time
import uuid
from collections import Counter, deque
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ACCESS_TOKEN_SECONDS = 3600
SNAPSHOT_NAME = "state.json"
SNAPSHOT_VERSION = 1


@dataclass
class Limits:
    """Throttling the real services apply; off unless a test or the CLI turns them on."""

    graph_concurrency: int | None = 4  # Outlook: four concurrent requests per mailbox
    quota_requests: int | None = None  # per user, sliding window
    quota_seconds: float = 60.0


@dataclass
class Switches:
    """Behaviours api-spec.md marks uncertain [U]: the most plausible choice is the default."""

    # §2.5: keeper.sh (2026) saw the seriesMaster row in calendarView/delta; older reports did not.
    graph_delta_includes_series_master: bool = True
    # §2.5: "No indication is given for a deleted occurrence" (found by experiment, 2019).
    graph_delta_signals_cancelled_occurrence: bool = False
    # §2.9: json-batching says outer 200 with per-item 429; throttling.md once said outer 424.
    graph_batch_throttled_outer_status: int = 200
    # §2.9: "Responses may come back in any order": reverse them so clients cannot rely on it.
    graph_batch_shuffle_responses: bool = True
    # §2.8: repeated transactionId returns the existing event (201) rather than an error.
    graph_transaction_id_returns_existing: bool = True
    # §2.8 [O/U]: If-Match W/"changeKey" -> 412 ErrorIrresolvableConflict.
    graph_if_match: bool = True
    # [O] event-decline says nothing of the attendee's copy; Exchange moves a declined meeting
    # to Deleted Items (after a decline the event is gone, msgraph-docs-contrib#7924). False
    # keeps it in the calendar with responseStatus "declined".
    graph_decline_removes_event: bool = True
    # §1.4 [U]: nextSyncToken is withheld when orderBy (or q, iCalUID...) was used.
    google_sync_token_with_filters: bool = False
    # §1.7: deleted ids stay reserved (409 duplicate on re-insert).
    google_deleted_ids_reserved: bool = True
    # §1.10 [U]: whether error bodies carry error.status.
    google_error_status_field: bool = False
    # §1.5: minimum page size the server may return even when more results exist (0 = full pages).
    google_short_pages: bool = False
    # §1.8 [U]: repeated privateExtendedProperty/sharedExtendedProperty constraints. False: all
    # must match (discovery doc); True: OR within a kind, AND across kinds (the guide's reading).
    google_extended_property_or: bool = False
    # §1.7 [U]: events.import with an iCalUID already in the calendar updates that event (upsert);
    # False answers 409 duplicate instead.
    google_import_upsert: bool = True


@dataclass
class Fault:
    id: int
    status: int
    path: str = ""  # regular expression searched in the request path
    method: str | None = None
    service: str | None = None
    count: int = 1  # -1: every matching request
    retry_after: float | None = None
    code: str | None = None
    message: str | None = None
    delay_ms: int = 0
    reset: bool = False  # drop the connection instead of answering
    batched: bool | None = None  # None: both; True: only batch parts; False: only plain requests

    def matches(self, service: str, method: str, path: str, batched: bool) -> bool:
        if self.count == 0:
            return False
        if self.service and self.service != service:
            return False
        if self.method and self.method.upper() != method.upper():
            return False
        if self.batched is not None and self.batched != batched:
            return False
        return re.search(self.path, path) is not None


@dataclass
class LogEntry:
    seq: int
    time: float
    service: str
    endpoint: str
    method: str
    path: str
    status: int
    user: str | None
    batched: bool


@dataclass
class Settings:
    latency_ms: int = 0
    limits: Limits = field(default_factory=Limits)
    switches: Switches = field(default_factory=Switches)
    auto_approve: dict[str, str | None] = field(default_factory=dict)  # service -> user id


class RequestLog:
    """Every request the sandbox answered, with counts per endpoint (exact, for tests)."""

    def __init__(self, capacity: int = 200_000) -> None:
        self._entries: deque[LogEntry] = deque(maxlen=capacity)
        self._seq = 0
        self._lock = threading.Lock()

    def add(self, **kw: Any) -> None:
        with self._lock:
            self._seq += 1
            self._entries.append(LogEntry(seq=self._seq, time=time.time(), **kw))

    def entries(self, since: int = 0) -> list[LogEntry]:
        with self._lock:
            return [e for e in self._entries if e.seq > since]

    @property
    def last_seq(self) -> int:
        with self._lock:
            return self._seq

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    @staticmethod
    def counts(entries: list[LogEntry]) -> dict[str, int]:
        return dict(Counter(e.endpoint for e in entries))


class SandboxState:
    def __init__(self, folder: Path | None = None) -> None:
        self.lock = threading.RLock()
        self.folder = folder
        self.settings = Settings()
        self.log = RequestLog()
        self.faults: list[Fault] = []
        self._fault_ids = 0
        self._quota: dict[str, deque[float]] = {}
        self._inflight: Counter[str] = Counter()
        self._meta_lock = threading.Lock()
        self.data: dict[str, Any] = self._empty()
        self._dirty = threading.Event()
        if folder is not None:
            self._load()

    @staticmethod
    def _empty() -> dict[str, Any]:
        return {
            "version": SNAPSHOT_VERSION,
            "seq": 1000,
            "users": {},
            "access_tokens": {},
            "refresh_tokens": {},
            "google": {},
            "graph": {},
            "outbox": [],
        }

    # --- change sequence and persistence -------------------------------------------------

    def next_seq(self) -> int:
        with self.lock:
            self.data["seq"] += 1
            self._dirty.set()
            return int(self.data["seq"])

    def mark_dirty(self) -> None:
        self._dirty.set()

    def take_dirty(self) -> bool:
        was = self._dirty.is_set()
        self._dirty.clear()
        return was

    def save(self) -> None:
        if self.folder is None:
            return
        with self.lock:
            blob = json.dumps(self.data, separators=(",", ":"), sort_keys=True)
        path = self.folder / SNAPSHOT_NAME
        tmp = path.with_suffix(".tmp")
        tmp.write_text(blob, encoding="utf-8")
        os.replace(tmp, path)

    def _load(self) -> None:
        assert self.folder is not None
        path = self.folder / SNAPSHOT_NAME
        if not path.exists():
            return
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            # Keep the unreadable file for inspection and start empty rather than crash.
            path.rename(path.with_suffix(f".corrupt-{int(time.time())}"))
            self.data = self._empty()
            self.data["load_error"] = f"sandbox state was unreadable and was moved aside: {exc}"
            return
        if data.get("version") == SNAPSHOT_VERSION:
            self.data = data

    # --- users ---------------------------------------------------------------------------

    def add_user(
        self, service: str, email: str, name: str, tenant: str | None = None
    ) -> dict[str, Any]:
        if service not in ("google", "microsoft"):
            raise ValueError(f"unknown service {service!r}")
        with self.lock:
            for u in self.data["users"].values():
                if u["service"] == service and u["email"].lower() == email.lower():
                    raise ValueError(f"a {service} user {email} exists already")
            uid = (
                str(uuid.uuid4())
                if service == "microsoft"
                else str(100_000_000_000_000_000_000 + secrets.randbelow(10**20))
            )
            user = {"id": uid, "service": service, "email": email, "name": name}
            if service == "microsoft":
                user["tenant"] = tenant or str(uuid.uuid5(uuid.NAMESPACE_DNS, email.split("@")[-1]))
            self.data["users"][uid] = user
            self.mark_dirty()
            return dict(user)

    def user(self, uid: str) -> dict[str, Any] | None:
        u = self.data["users"].get(uid)
        return dict(u) if u else None

    def find_user(self, service: str, email: str) -> dict[str, Any] | None:
        with self.lock:
            for u in self.data["users"].values():
                if u["service"] == service and u["email"].lower() == email.lower():
                    return dict(u)
        return None

    def users(self, service: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(u) for u in self.data["users"].values() if service in (None, u["service"])]

    # --- mail the real service would have sent -------------------------------------------

    def record_mail(
        self, service: str, uid: str, kind: str, recipients: list[str], event_id: str, why: str
    ) -> None:
        """Note an invitation/update/cancellation the real service would have e-mailed."""
        with self.lock:
            self.data.setdefault("outbox", []).append(
                {
                    "time": time.time(),
                    "service": service,
                    "user": uid,
                    "kind": kind,
                    "recipients": sorted(recipients),
                    "event_id": event_id,
                    "why": why,
                }
            )
            self.mark_dirty()

    # --- tokens --------------------------------------------------------------------------

    def issue_tokens(
        self, service: str, uid: str, client_id: str, scopes: list[str], *, refresh: bool = True
    ) -> dict[str, Any]:
        prefix = "ya29.sbx-" if service == "google" else "EwB.sbx-"
        access = prefix + secrets.token_urlsafe(32)
        expires = time.time() + ACCESS_TOKEN_SECONDS
        with self.lock:
            self.data["access_tokens"][access] = {
                "service": service,
                "user": uid,
                "client_id": client_id,
                "scopes": scopes,
                "expires": expires,
            }
            out: dict[str, Any] = {"access_token": access, "expires_in": ACCESS_TOKEN_SECONDS}
            if refresh:
                rt = ("1//sbx-" if service == "google" else "M.sbx-") + secrets.token_urlsafe(32)
                self.data["refresh_tokens"][rt] = {
                    "service": service,
                    "user": uid,
                    "client_id": client_id,
                    "scopes": scopes,
                    "revoked": False,
                }
                out["refresh_token"] = rt
            self.mark_dirty()
            return out

    def resolve_access(self, service: str, token: str | None) -> tuple[str | None, str]:
        """(user id, '') for a valid token, else (None, why): why is missing, invalid or expired."""
        if not token:
            return None, "missing"
        with self.lock:
            rec = self.data["access_tokens"].get(token)
            if rec is None or rec["service"] != service:
                return None, "invalid"
            if rec["expires"] <= time.time():
                return None, "expired"
            if rec["user"] not in self.data["users"]:
                return None, "invalid"
            return str(rec["user"]), ""

    def refresh_record(self, service: str, token: str) -> dict[str, Any] | None:
        with self.lock:
            rec = self.data["refresh_tokens"].get(token)
            if rec is None or rec["service"] != service or rec["revoked"]:
                return None
            return dict(rec)

    def revoke(self, service: str, uid: str | None = None, token: str | None = None) -> int:
        """Revoke refresh tokens (all of a user's, or one) and their access tokens."""
        n = 0
        with self.lock:
            for t, rec in self.data["refresh_tokens"].items():
                if (
                    rec["service"] == service
                    and (uid in (None, rec["user"]))
                    and token in (None, t)
                ):
                    if not rec["revoked"]:
                        n += 1
                    rec["revoked"] = True
                    uid_hit = rec["user"]
                    for a in self.data["access_tokens"].values():
                        if a["service"] == service and a["user"] == uid_hit:
                            a["expires"] = 0
            if token and token in self.data["access_tokens"]:
                self.data["access_tokens"][token]["expires"] = 0
                n += 1
            self.mark_dirty()
        return n

    def expire_access_tokens(self, service: str, uid: str | None = None) -> int:
        n = 0
        with self.lock:
            for rec in self.data["access_tokens"].values():
                if rec["service"] == service and uid in (None, rec["user"]) and rec["expires"] > 0:
                    rec["expires"] = 0
                    n += 1
            self.mark_dirty()
        return n

    # --- faults and throttling -------------------------------------------------------------

    def add_fault(self, **kw: Any) -> Fault:
        with self._meta_lock:
            self._fault_ids += 1
            fault = Fault(id=self._fault_ids, **kw)
            self.faults.append(fault)
            return fault

    def clear_faults(self) -> None:
        with self._meta_lock:
            self.faults.clear()

    def take_fault(self, service: str, method: str, path: str, batched: bool) -> Fault | None:
        with self._meta_lock:
            for f in self.faults:
                if f.matches(service, method, path, batched):
                    if f.count > 0:
                        f.count -= 1
                    return f
        return None

    def quota_check(self, uid: str) -> float | None:
        """Count one request for uid; returns seconds to wait when over the quota."""
        lim = self.settings.limits
        if lim.quota_requests is None:
            return None
        now = time.monotonic()
        with self._meta_lock:
            window = self._quota.setdefault(uid, deque())
            while window and window[0] <= now - lim.quota_seconds:
                window.popleft()
            if len(window) >= lim.quota_requests:
                return max(0.05, window[0] + lim.quota_seconds - now)
            window.append(now)
            return None

    def enter(self, key: str, limit: int | None) -> bool:
        with self._meta_lock:
            if limit is not None and self._inflight[key] >= limit:
                return False
            self._inflight[key] += 1
            return True

    def leave(self, key: str) -> None:
        with self._meta_lock:
            self._inflight[key] -= 1

    def settings_dict(self) -> dict[str, Any]:
        return asdict(self.settings)
