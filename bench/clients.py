"""How the benchmark talks to the sandbox: as a *person* (raw Graph and Google REST, to seed and
edit calendars) and as *Meridian* (the real providers, engine, store and SyncService).

Seeding never goes through Meridian's own write path: Outlook is filled with Graph ``$batch``
(20 items, 4 in flight), as another client would, so what the engine reads is what Graph holds.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from app.core.rules import PairRules, rules_to_dict
from app.providers.google import GoogleProvider
from app.providers.microsoft import MicrosoftProvider
from app.sandbox.admin import SandboxAdmin, SandboxUser, trusting_session
from app.services.accounts import Account, AccountStatus
from app.services.sync_service import SyncService
from app.store.db import Database
from app.store.repo import Repo
from bench.measure import PhaseClock
from bench.sandbox import SandboxInfo

GRAPH_BATCH = 20
IN_FLIGHT = 4


def new_email(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}@bench.example.com"


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# --- the person's side: raw APIs -------------------------------------------------------------


class GraphClient:
    """Microsoft Graph as any client uses it: JSON over HTTPS, ``$batch`` for many items."""

    def __init__(self, info: SandboxInfo, user: SandboxUser) -> None:
        self.info = info
        self.user = user
        self.base = info.graph
        self._pool = ThreadPoolExecutor(IN_FLIGHT)
        self._sessions = [trusting_session(info.ca_cert) for _ in range(IN_FLIGHT)]

    def close(self) -> None:
        self._pool.shutdown()
        for s in self._sessions:
            s.close()

    def _headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.user.access_token}",
            "Prefer": 'IdType="ImmutableId"',
        }

    def call(self, method: str, path: str, body: Any = None) -> Any:
        r = self._sessions[0].request(
            method, self.base + path, json=body, headers=self._headers(), timeout=120
        )
        if r.status_code >= 400:
            raise RuntimeError(f"Graph {method} {path}: {r.status_code} {r.text[:300]}")
        return r.json() if r.content else None

    def batch(self, calls: Sequence[tuple[str, str, Any]]) -> list[Any]:
        """(method, path, body) calls as $batch requests; the answer bodies, in order."""
        groups = list(chunks(calls, GRAPH_BATCH))

        def run(n_group: tuple[int, Sequence[tuple[str, str, Any]]]) -> list[Any]:
            n, group = n_group
            payload: dict[str, list[dict[str, Any]]] = {"requests": []}
            for i, (method, path, body) in enumerate(group):
                item: dict[str, Any] = {"id": str(i), "method": method, "url": path}
                if body is not None:
                    item["body"] = body
                    item["headers"] = {"Content-Type": "application/json"}
                payload["requests"].append(item)
            session = self._sessions[n % IN_FLIGHT]
            r = session.post(
                self.base + "/$batch", json=payload, headers=self._headers(), timeout=120
            )
            r.raise_for_status()
            by_id = {x["id"]: x for x in r.json()["responses"]}
            out = []
            for i in range(len(group)):
                answer = by_id[str(i)]
                if answer["status"] >= 400:
                    raise RuntimeError(f"Graph batch item {group[i][:2]}: {answer}")
                out.append(answer.get("body"))
            return out

        results: list[Any] = []
        for part in self._pool.map(run, enumerate(groups)):
            results += part
        return results

    def get(self, url: str, **headers: str) -> Any:
        """GET an absolute URL (a nextLink) or a path, with extra headers."""
        full = url if "://" in url else self.base + url
        r = self._sessions[0].get(full, headers={**self._headers(), **headers}, timeout=120)
        r.raise_for_status()
        return r.json()

    def primary_calendar(self) -> str:
        cals = self.call("GET", "/me/calendars")["value"]
        return str(next(c["id"] for c in cals if c.get("isDefaultCalendar")))

    def create_calendar(self, name: str) -> str:
        return str(self.call("POST", "/me/calendars", {"name": name})["id"])


class GoogleClient:
    """Google Calendar v3 REST as a person's other client would use it (single requests)."""

    def __init__(self, info: SandboxInfo, user: SandboxUser) -> None:
        self.user = user
        self.base = info.google_api.rstrip("/")
        self._pool = ThreadPoolExecutor(IN_FLIGHT)
        self._sessions = [trusting_session(info.ca_cert) for _ in range(IN_FLIGHT)]

    def close(self) -> None:
        self._pool.shutdown()
        for s in self._sessions:
            s.close()

    def _call(self, n: int, method: str, path: str, body: Any = None, **params: Any) -> Any:
        r = self._sessions[n % IN_FLIGHT].request(
            method,
            self.base + path,
            json=body,
            params=params or None,
            headers={"Authorization": f"Bearer {self.user.access_token}"},
            timeout=120,
        )
        if r.status_code >= 400:
            raise RuntimeError(f"Google {method} {path}: {r.status_code} {r.text[:300]}")
        return r.json() if r.content else None

    def create_calendar(self, name: str) -> str:
        return str(self._call(0, "POST", "/calendars", {"summary": name})["id"])

    def events(self, calendar_id: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            params: dict[str, Any] = {"maxResults": 2500, "singleEvents": "false"}
            if token:
                params["pageToken"] = token
            page = self._call(0, "GET", f"/calendars/{quote(calendar_id)}/events", **params)
            out += page.get("items") or []
            token = page.get("nextPageToken")
            if not token:
                return out

    def patch_many(self, calendar_id: str, edits: Sequence[tuple[str, dict[str, Any]]]) -> None:
        def run(n_edit: tuple[int, tuple[str, dict[str, Any]]]) -> None:
            n, (eid, body) = n_edit
            self._call(n, "PATCH", f"/calendars/{quote(calendar_id)}/events/{quote(eid)}", body)

        list(self._pool.map(run, enumerate(edits)))


# --- seeding Outlook -------------------------------------------------------------------------

_ZONES = ("UTC", "Eastern Standard Time", "W. Europe Standard Time", "Pacific Standard Time")
_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
SERIES_OCCURRENCES = 10  # weekly, 10 occurrences, one of them moved and renamed (an exception)


@dataclass
class Seeded:
    calendar_id: str
    singles: list[str] = field(default_factory=list)
    masters: list[str] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)

    @property
    def events(self) -> int:
        return len(self.singles) + len(self.masters)


def _when(day: dt.date, hour: int, minutes: int, zone: str) -> dict[str, Any]:
    start = dt.datetime.combine(day, dt.time(hour))
    end = start + dt.timedelta(minutes=minutes)
    return {
        "start": {"dateTime": start.isoformat(), "timeZone": zone},
        "end": {"dateTime": end.isoformat(), "timeZone": zone},
    }


def outlook_bodies(n: int, recurring_share: float, today: dt.date, tag: str = "") -> list[Any]:
    """N event bodies: singles spread over the default window (30 days back, 180 ahead) and
    ``recurring_share`` weekly series of SERIES_OCCURRENCES (all inside the window)."""
    n_series = round(n * recurring_share)
    bodies: list[Any] = []
    for i in range(n):
        zone = _ZONES[i % len(_ZONES)]
        if i < n_series:
            day = today + dt.timedelta(days=-20 + (i * 7) % 120)
            body = {
                "subject": f"Weekly {tag}{i}",
                **_when(day, 8 + i % 9, 30, zone),
                "body": {"contentType": "text", "content": f"Series {i}, seeded by bench."},
                "location": {"displayName": f"Room {i % 40}"},
                "recurrence": {
                    "pattern": {
                        "type": "weekly",
                        "interval": 1,
                        "daysOfWeek": [_DAYS[day.weekday()]],
                        "firstDayOfWeek": "monday",
                    },
                    "range": {
                        "type": "numbered",
                        "startDate": day.isoformat(),
                        "numberOfOccurrences": SERIES_OCCURRENCES,
                    },
                },
            }
        else:
            day = today + dt.timedelta(days=-25 + (i * 13) % 200)
            body = {
                "subject": f"Meeting {tag}{i}",
                **_when(day, 7 + i % 11, 30 + 30 * (i % 3), zone),
                "body": {"contentType": "text", "content": f"Event {i}, seeded by bench."},
                "location": {"displayName": f"Room {i % 40}"},
                "showAs": "busy" if i % 5 else "tentative",
            }
        bodies.append(body)
    return bodies


def seed_outlook(
    graph: GraphClient,
    calendar_id: str,
    n: int,
    recurring_share: float = 0.1,
    today: dt.date | None = None,
    tag: str = "",
) -> Seeded:
    """N events in an Outlook calendar; each series gets one exception (its 3rd occurrence
    moved an hour later and renamed), made as Outlook makes them: PATCH of the occurrence."""
    today = today or dt.datetime.now(dt.UTC).date()
    cal = f"/me/calendars/{quote(calendar_id, safe='')}/events"
    bodies = outlook_bodies(n, recurring_share, today, tag)
    created = graph.batch([("POST", cal, b) for b in bodies])
    seeded = Seeded(calendar_id)
    for body, ev in zip(bodies, created, strict=True):
        (seeded.masters if "recurrence" in body else seeded.singles).append(ev["id"])
    # Find each series' 3rd occurrence, then move it.
    series = [b for b in bodies if "recurrence" in b]
    lookups = []
    for mid, body in zip(seeded.masters, series, strict=True):
        first = dt.date.fromisoformat(body["recurrence"]["range"]["startDate"])
        third = first + dt.timedelta(weeks=2)
        window = (
            f"startDateTime={third - dt.timedelta(days=1)}T00:00:00Z"
            f"&endDateTime={third + dt.timedelta(days=2)}T00:00:00Z"
        )
        lookups.append(("GET", f"/me/events/{quote(mid, safe='')}/instances?{window}", None))
    patches = []
    for body, listing in zip(series, graph.batch(lookups), strict=True):
        occ = listing["value"][0]
        start = dt.datetime.fromisoformat(occ["start"]["dateTime"][:19]) + dt.timedelta(hours=1)
        patch = {
            "subject": f"{body['subject']} (moved)",
            "start": {"dateTime": start.isoformat(), "timeZone": "UTC"},
            "end": {
                "dateTime": (start + dt.timedelta(minutes=30)).isoformat(),
                "timeZone": "UTC",
            },
        }
        patches.append(("PATCH", f"/me/events/{quote(occ['id'], safe='')}", patch))
        seeded.exceptions.append(occ["id"])
    graph.batch(patches)
    return seeded


# --- Meridian's side: providers, store, service -----------------------------------------------


class Tokens:
    """The token callable MicrosoftProvider takes: a new sandbox token when forced."""

    def __init__(self, admin: SandboxAdmin, user: SandboxUser) -> None:
        self.admin = admin
        self.user = user

    def __call__(self, force: bool) -> str:
        if force:
            self.user.access_token = self.admin.new_tokens(self.user.id)["access_token"]
        return self.user.access_token


def ms_provider(info: SandboxInfo, user: SandboxUser) -> MicrosoftProvider:
    return MicrosoftProvider(info.graph, Tokens(info.admin(), user), ca_cert=info.ca_cert)


def google_provider(info: SandboxInfo, user: SandboxUser) -> GoogleProvider:
    admin = info.admin()

    def token() -> str:
        # Asked when the library has no valid token (first use, or after a 401).
        if getattr(token, "used", False):
            user.access_token = admin.new_tokens(user.id)["access_token"]
        token.used = True  # type: ignore[attr-defined]
        return user.access_token

    return GoogleProvider(
        token,
        api_endpoint=info.google_api,
        batch_uri=info.google_batch,
        ca_cert=info.ca_cert,
    )


class BenchAccounts:
    """The two accounts of the benchmark, as SyncService asks for them (no vault, no sign-in)."""

    def __init__(self, users: Sequence[SandboxUser]) -> None:
        now = dt.datetime.now(dt.UTC).isoformat()
        self._by_id = {
            u.id: Account(
                u.id,
                u.service,
                u.email,
                u.name,
                None,
                AccountStatus.OK,
                False,
                now,
            )
            for u in users
        }

    def get(self, account_id: str) -> Account:
        return self._by_id[account_id]

    def accounts(self) -> list[Account]:
        return list(self._by_id.values())

    def generation(self, account_id: str) -> int:
        return 0  # no sign-in ever changes during a benchmark: providers stay as made


@dataclass
class Meridian:
    """One Meridian profile on the sandbox: a state database, two accounts, their providers."""

    info: SandboxInfo
    ms_user: SandboxUser
    google_user: SandboxUser
    folder: Path
    repo: Repo
    ms: MicrosoftProvider
    google: GoogleProvider
    service: SyncService
    phases: PhaseClock

    @classmethod
    def create(cls, info: SandboxInfo, folder: Path | None = None) -> Meridian:
        admin = info.admin()
        ms_user = admin.create_user("microsoft", new_email("outlook"))
        google_user = admin.create_user("google", new_email("gmail"))
        folder = folder or Path(tempfile.mkdtemp(prefix="meridian-bench-"))
        repo = Repo(Database(folder / "state.db"))
        ms, google = ms_provider(info, ms_user), google_provider(info, google_user)
        phases = PhaseClock()
        for side, provider in (("outlook", ms), ("google", google)):
            for method in ("read_changes", "get_events", "apply"):
                phases.wrap(provider, method, f"{side}.{method}")
            # The engine writes through apply_iter; its time inside counts as "apply".
            phases.wrap_iter(provider, "apply_iter", f"{side}.apply")
        providers = {ms_user.id: ms, google_user.id: google}
        service = SyncService(
            repo,
            BenchAccounts([ms_user, google_user]),  # type: ignore[arg-type]
            provider_factory=lambda account: providers[account.id],
        )
        return cls(info, ms_user, google_user, folder, repo, ms, google, service, phases)

    def add_pair(
        self, name: str, outlook_calendar: str, google_calendar: str, rules: PairRules | None = None
    ) -> str:
        pair_id = uuid.uuid4().hex[:12]
        config = {
            "a": {"account": self.ms_user.id, "calendar": outlook_calendar},
            "b": {"account": self.google_user.id, "calendar": google_calendar},
            "rules": rules_to_dict(rules or PairRules()),
        }
        self.repo.add_pair(pair_id, name, config)
        return pair_id

    def close(self) -> None:
        self.ms.close()
        self.repo.db.close()
