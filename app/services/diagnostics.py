"""The diagnostic bundle support asks for, and the audit log's upkeep.

``export_bundle`` writes one zip: versions, effective policy with sources, settings, accounts,
pairs, recent runs with counts and errors, open issues and conflicts, overlaps, the audit log's
tail, metrics, request counts, a database integrity check and the logs. README.txt inside says
what each file holds; problems.txt lists every part that could not be produced. It works on a
broken profile (corrupt or missing database, no logs, no keyring): each part is tried on its own.

What never goes in unless the person opts in:

* event content (titles, descriptions, locations, attendees' names, categories) is replaced by
  ``[content:<hash>]`` (``include_content`` keeps it and adds a copy of the database, if
  addresses are included as well, since the database holds them too);
* e-mail addresses and account names become ``[address:<hash>]`` (``include_addresses``).

The hashes are HMAC-SHA256 with a random key kept in the profile (``diagnostics-key``), never put
in a bundle. So they are stable across bundles from one profile (support can tell "the same event
failed again", or that two log lines name the same account) but cannot be reversed by guessing
titles or addresses, and do not link one person's bundles to another's.

Secrets (tokens, codes, client secrets) are removed from everything, opted in or not
(services/logs.py ``redact``), and token stores are never read.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import importlib.metadata
import json
import logging
import os
import platform
import re
import secrets
import sqlite3
import sys
import tempfile
import traceback
import urllib.parse
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app import APP_NAME, __version__
from app.paths import Profile
from app.policy import KEYS, EffectivePolicy, Locations, load_policy
from app.services import logs as applogs
from app.services import metrics
from app.store.repo import Repo, now_iso

log = logging.getLogger(__name__)

KEY_FILE = "diagnostics-key"
RUNS = 50
AUDIT_ROWS = 1000
MIN_FREE_TEXT = 4  # shorter titles are hashed in structured fields, not searched for in free text

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+(?:@|%40)[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_CONTENT_FIELDS = ("title", "description", "description_html", "location", "online_meeting_url")


# --- scrubbing ---------------------------------------------------------------------------------


@dataclass
class Scrubber:
    """Turns anything headed for the bundle into its shareable form."""

    key: bytes
    include_content: bool = False
    include_addresses: bool = False
    content: set[str] = field(default_factory=set)  # event text found in the database
    names: set[str] = field(default_factory=set)  # account display names
    _patterns: dict[str, tuple[int, re.Pattern[str] | None]] = field(
        default_factory=dict, repr=False
    )

    def digest(self, value: str, kind: str) -> str:
        mac = hmac.new(self.key, value.encode("utf-8"), hashlib.sha256).hexdigest()[:12]
        return f"[{kind}:{mac}]"

    def address(self, value: str) -> str:
        if self.include_addresses:
            return value
        return self.digest(urllib.parse.unquote(value).strip().lower(), "address")

    def content_value(self, value: Any) -> Any:
        if self.include_content or value in (None, "", []):
            return value
        if isinstance(value, list):
            return [self.content_value(v) for v in value]
        return self.digest(str(value), "content")

    def text(self, value: str) -> str:
        """Free text (log lines, error messages): secrets, known content and addresses out."""
        value = applogs.redact(value)
        if not self.include_content:
            content = self._pattern("content", self.content)
            if content is not None:
                value = content.sub(lambda m: self.digest(m.group(0), "content"), value)
        if not self.include_addresses:
            names = self._pattern("names", self.names)
            if names is not None:
                value = names.sub(lambda m: self.digest(m.group(0), "address"), value)
            value = _EMAIL.sub(lambda m: self.address(m.group(0)), value)
            # Paths under the home folder name the person's login.
            home = str(Path.home())
            if len(home) > 1:
                value = value.replace(home, "~")
        return value

    def _pattern(self, name: str, words: set[str]) -> re.Pattern[str] | None:
        # One regex for all known strings (thousands of titles, megabytes of logs), rebuilt
        # only when more were learned.
        cached = self._patterns.get(name)
        if cached is None or cached[0] != len(words):
            usable = {w for w in words if len(w) >= MIN_FREE_TEXT}
            cached = (len(words), literal_regex(usable) if usable else None)
            self._patterns[name] = cached
        return cached[1]

    def data(self, value: Any) -> Any:
        """Every string inside a JSON-like value through ``text``."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(str(k)): self.data(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.data(v) for v in value]
        return value

    def event(self, ev: Any) -> Any:
        """An event as stored (core.serialize), content fields and people hashed."""
        if not isinstance(ev, dict):
            return self.data(ev)
        out = dict(ev)
        for name in _CONTENT_FIELDS:
            if name in out:
                out[name] = self.content_value(out[name])
        if "categories" in out:
            out["categories"] = self.content_value(out["categories"])
        if isinstance(out.get("organizer"), list):
            out["organizer"] = self._person(out["organizer"])
        if isinstance(out.get("attendees"), list):
            out["attendees"] = [self._person(a) for a in out["attendees"] if isinstance(a, list)]
        return self.data(out)

    def _person(self, person: list[Any]) -> list[Any]:
        # core.serialize stores people as [email, name, ...].
        email = person[0] if person else None
        name = person[1] if len(person) > 1 else None
        return [
            self.address(email) if isinstance(email, str) else email,
            self.content_value(name),
            *person[2:],
        ]

    def learn_event(self, ev: Any) -> None:
        """Remember an event's text, to hide it wherever it turns up in free text."""
        if not isinstance(ev, dict):
            return
        for name in _CONTENT_FIELDS:
            if isinstance(ev.get(name), str) and ev[name]:
                self.content.add(ev[name])
        for cat in ev.get("categories") or []:
            if isinstance(cat, str) and cat:
                self.content.add(cat)
        people = [ev.get("organizer"), *(ev.get("attendees") or [])]
        for person in people:
            if (
                isinstance(person, list)
                and len(person) > 1
                and isinstance(person[1], str)
                and person[1]
            ):
                self.content.add(person[1])


def literal_regex(words: set[str]) -> re.Pattern[str]:
    """A regex matching any of ``words`` (longest first), built as a trie so that matching
    costs about one pass over the text however many words there are."""
    trie: dict[str, Any] = {}
    for word in words:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict[str, Any]) -> str:
        alternatives = []
        for ch in sorted(k for k in node if k):
            # Runs without a branch become one literal, which keeps the nesting shallow.
            run, child = ch, node[ch]
            while len(child) == 1 and "" not in child:
                (nxt,) = child
                run, child = run + nxt, child[nxt]
            alternatives.append(re.escape(run) + build(child))
        if not alternatives:
            return ""
        body = "(?:" + "|".join(alternatives) + ")"
        return body + "?" if "" in node else body

    return re.compile(build(trie))


def _bundle_key(profile: Profile, problems: list[str]) -> bytes:
    """The profile's hashing key; a one-off key (hashes not comparable) if it cannot be kept."""
    path = profile.root / KEY_FILE
    try:
        data = path.read_bytes()
        if len(data) >= 32:
            return data
    except FileNotFoundError:
        pass
    except OSError as exc:
        problems.append(
            f"hash key: could not read {KEY_FILE} ({exc.strerror}); hashes in this "
            "bundle cannot be compared with other bundles"
        )
        return secrets.token_bytes(32)
    key = secrets.token_bytes(32)
    try:
        profile.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(key)
    except OSError as exc:
        problems.append(
            f"hash key: could not keep {KEY_FILE} ({exc.strerror}); hashes in this "
            "bundle cannot be compared with other bundles"
        )
    return key


# --- the bundle --------------------------------------------------------------------------------


README = """\
Meridian diagnostic bundle
==========================

Made {made} by Meridian {version} at the person's request, for support.

{privacy}

Files
-----
manifest.json    what was asked for (options), when, and the list of files.
problems.txt     every part of this bundle that could not be produced, and why.
app.json         Meridian, Python and operating system versions; time-zone data version.
policy.json      the effective organization policy: each value, whether it is locked, where it
                 comes from; and every problem found in the policy files.
settings.json    the person's settings (settings file and settings table).
accounts.json    the accounts (provider, status, tenant) and whether the password store works.
pairs.json       the sync pairs: configuration, state, number of synced events, pending holds.
runs.json        the last {runs} sync runs: status, counts (created, updated, ...), requests
                 per side, errors.
issues.json      open sync issues (items that failed, with attempts and next retry).
conflicts.json   open and recent conflicts (fields and both versions, content hashed).
overlaps.json    schedule overlaps found and what was done.
audit.json       the last {audit} audit entries (writes, sign-ins, policy changes).
metrics.json     latency, conflicts, overlaps, runs and failures per pair and overall.
database.txt     the state database: size, schema version, integrity check, table sizes.
logs/            the log files, secrets removed{logs_note}.
{db_line}
Hashes look like [content:1a2b3c4d5e6f] and [address:...]: the same text gives the same hash in
every bundle from this computer's profile, so support can match them up, but they cannot be
turned back into the text. Tokens, passwords and codes are removed from everything.
"""


@dataclass
class _Bundle:
    scrub: Scrubber
    files: dict[str, bytes] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @contextlib.contextmanager
    def part(self, name: str) -> Iterator[None]:
        """One part of the bundle: a failure is listed in problems.txt, the rest goes on."""
        try:
            yield
        except Exception as exc:
            detail = self.scrub.text(f"{type(exc).__name__}: {exc}")
            self.problems.append(f"{name}: {detail}")
            log.warning("diagnostics: %s failed: %s", name, type(exc).__name__)
            log.debug("diagnostics: %s", self.scrub.text(traceback.format_exc()))

    def json(self, name: str, value: Any) -> None:
        text = json.dumps(value, indent=2, ensure_ascii=False, default=str, sort_keys=False)
        self.files[name] = (text + "\n").encode("utf-8")

    def text(self, name: str, value: str) -> None:
        self.files[name] = value.encode("utf-8")


def export_bundle(
    profile: Profile,
    repo: Repo | None,
    policy: EffectivePolicy | None,
    out_path: Path | None = None,
    *,
    include_content: bool = False,
    include_addresses: bool = False,
    secret_store: Callable[[], dict[str, Any]] | None = None,
) -> Path:
    """Write the bundle (zip) and return its path. Never fails for a broken profile.

    ``repo``: the running app's repository (None: the database is opened read-only, so a
    corrupt one is examined as it is, not repaired). ``policy``: the effective policy (None:
    loaded here). ``secret_store``: reports the password store (default: the OS keyring).
    """
    problems: list[str] = []
    scrub = Scrubber(_bundle_key(profile, problems), include_content, include_addresses)
    b = _Bundle(scrub, problems=problems)
    conn: sqlite3.Connection | None = None
    with b.part("database"):
        conn = repo.db.conn if repo is not None else open_readonly(profile.database)
        if conn is None:
            b.problems.append(f"database: there is no state database ({profile.database.name})")
    if conn is not None:
        with b.part("reading event text to hide (logs are scrubbed for secrets and addresses)"):
            _learn(conn, scrub)

    with b.part("app.json"):
        b.json("app.json", scrub.data(_app_info(profile)))
    with b.part("policy.json"):
        if policy is None:
            policy = load_policy(Locations.for_profile(profile))
        b.json("policy.json", scrub.data(policy.as_dict()))
    with b.part("settings.json"):
        settings: dict[str, Any] = {"file": _settings_file(profile), "table": None}
        if conn is not None:
            with b.part("settings.json (settings table)"):
                settings["table"] = _settings_table(conn)
        b.json("settings.json", scrub.data(settings))
    with b.part("accounts.json"):
        store = _secret_store_status(profile, secret_store)
        if store.get("problem"):
            b.problems.append(f"password store: {store['problem']}")
        accounts: list[dict[str, Any]] | None = None
        if conn is not None:
            with b.part("accounts.json (accounts table)"):
                accounts = _accounts(conn, scrub)
        b.json("accounts.json", {"accounts": accounts, "password_store": store})
    if conn is not None:
        parts: list[tuple[str, Callable[[sqlite3.Connection, Scrubber], Any]]] = [
            ("pairs.json", _pairs),
            ("runs.json", _runs),
            ("issues.json", _issues),
            ("conflicts.json", _conflicts),
            ("overlaps.json", _overlaps),
            ("audit.json", _audit),
        ]
        for name, fn in parts:
            with b.part(name):
                b.json(name, fn(conn, scrub))
        with b.part("metrics.json"):
            b.json("metrics.json", metrics.compute(conn).as_dict())
    with b.part("database.txt"):
        report, failure = _database_report(profile, repo, conn)
        b.text("database.txt", scrub.text(report))
        if failure:
            b.problems.append(f"database: {scrub.text(failure)}")
    with b.part("logs"):
        _logs(b, profile)
    if include_content and include_addresses and conn is not None:
        with b.part("state.db"):
            b.files["state.db"] = _db_copy(conn)
    return _write_zip(b, profile, out_path, include_content, include_addresses)


def open_readonly(path: Path) -> sqlite3.Connection | None:
    """The state database as it is (None if there is none): read-only, so a damaged file is
    examined, not repaired or moved aside as opening it through store.db would."""
    if not path.exists():
        return None
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5)
    conn.row_factory = sqlite3.Row
    return conn


def _learn(conn: sqlite3.Connection, scrub: Scrubber) -> None:
    """Collect the event text and names the database holds, to hide them wherever they occur."""
    for r in conn.execute("SELECT view, a_event, b_event FROM links"):
        for col in ("view", "a_event", "b_event"):
            scrub.learn_event(_loads(r[col]))
    for r in conn.execute("SELECT a_version, b_version FROM conflicts"):
        scrub.learn_event(_loads(r["a_version"]))
        scrub.learn_event(_loads(r["b_version"]))
    for r in conn.execute("SELECT a_summary, b_summary FROM overlaps"):
        scrub.content.update(s for s in (r["a_summary"], r["b_summary"]) if s)
    for r in conn.execute("SELECT display_name FROM accounts"):
        if r["display_name"]:
            scrub.names.add(r["display_name"])


def _loads(text: Any) -> Any:
    try:
        return json.loads(text) if text else None
    except (TypeError, ValueError):
        return None


def _app_info(profile: Profile) -> dict[str, Any]:
    def version(dist: str) -> str | None:
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            return None

    info: dict[str, Any] = {
        "app": APP_NAME,
        "version": __version__,
        "frozen": bool(getattr(sys, "frozen", False)),
        "python": platform.python_version(),
        "os": {
            "system": platform.system(),
            "release": platform.release(),
            "version": platform.version(),
            "machine": platform.machine(),
        },
        "profile": str(profile.root).replace(str(Path.home()), "~"),
        "made_at": now_iso(),
        "libraries": {
            d: version(d)
            for d in (
                "PySide6-Essentials",
                "msal",
                "google-api-python-client",
                "requests",
                "keyring",
                "tzdata",
            )
        },
    }
    try:
        import tzdata

        info["tzdata"] = getattr(tzdata, "IANA_VERSION", None)
    except ImportError:
        info["tzdata"] = None
    try:
        import tzlocal

        info["local_time_zone"] = str(tzlocal.get_localzone_name())
    except Exception as exc:
        info["local_time_zone"] = f"unknown ({type(exc).__name__})"
    return info


def _settings_file(profile: Profile) -> Any:
    if not profile.settings.exists():
        return None
    raw = profile.settings.read_text(encoding="utf-8", errors="replace")
    parsed = _loads(raw)
    return parsed if parsed is not None else {"unparseable": raw[:2000]}


def _settings_table(conn: sqlite3.Connection) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for r in conn.execute("SELECT key, value FROM settings ORDER BY key"):
        if r["key"] == "metrics.installation":
            continue  # the anonymous id of the health summaries stays unlinkable
        parsed = _loads(r["value"])
        out[r["key"]] = parsed if parsed is not None else r["value"]
    return out


def _secret_store_status(
    profile: Profile, probe: Callable[[], dict[str, Any]] | None
) -> dict[str, Any]:
    from app.auth.vault import FILE_STORE_DIR, SANDBOX_STORE_DIR

    status: dict[str, Any] = {
        "file_store_in_use": (profile.secrets / FILE_STORE_DIR).exists(),
        "sandbox_store_present": (profile.secrets / SANDBOX_STORE_DIR).exists(),
    }
    try:
        status.update(probe() if probe is not None else _keyring_status())
    except Exception as exc:
        status.update(ok=False, problem=f"could not be asked ({type(exc).__name__})")
    return status


def _keyring_status() -> dict[str, Any]:
    import keyring

    from app.auth.vault import keyring_problem

    backend = keyring.get_keyring()
    problem = keyring_problem(backend)
    name = str(getattr(backend, "name", type(backend).__name__))
    return {"ok": problem is None, "backend": name, "problem": problem}


def _accounts(conn: sqlite3.Connection, scrub: Scrubber) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT id, provider, email, display_name, tenant, status, added_at FROM accounts"
    )
    return [
        {
            "id": r["id"],
            "provider": r["provider"],
            "email": scrub.address(r["email"]),
            "display_name": scrub.text(r["display_name"] or ""),
            "domain": r["email"].rpartition("@")[2].lower(),
            "tenant": r["tenant"],
            "status": r["status"],
            "added_at": r["added_at"],
        }
        for r in rows
    ]


def _pairs(conn: sqlite3.Connection, scrub: Scrubber) -> list[dict[str, Any]]:
    out = []
    for r in conn.execute("SELECT * FROM pairs ORDER BY name"):
        pid = r["id"]
        links = conn.execute("SELECT count(*) FROM links WHERE pair_id = ?", (pid,)).fetchone()[0]
        cursors = {
            c["side"]: {"present": bool(c["cursor"]), "updated_at": c["updated_at"]}
            for c in conn.execute("SELECT * FROM cursors WHERE pair_id = ?", (pid,))
        }
        holds = [
            {k: h[k] for k in ("id", "reason", "created_at", "decided_at", "decision")}
            for h in conn.execute("SELECT * FROM guard_holds WHERE pair_id = ? ORDER BY id", (pid,))
        ]
        out.append(
            scrub.data(
                {
                    "id": pid,
                    "name": r["name"],
                    "config": _loads(r["config"]),
                    "enabled": bool(r["enabled"]),
                    "paused_reason": r["paused_reason"],
                    "created_at": r["created_at"],
                    "synced_events": links,
                    "cursors": cursors,  # sync tokens themselves are left out
                    "guard_holds": holds[-10:],
                }
            )
        )
    return out


def _runs(conn: sqlite3.Connection, scrub: Scrubber) -> dict[str, Any]:
    rows = [
        {**dict(r), "counts": _loads(r["counts"]), "requests": _loads(r["requests"])}
        for r in conn.execute("SELECT * FROM runs ORDER BY id DESC LIMIT ?", (RUNS,))
    ]
    totals: dict[str, dict[str, int]] = {}
    for r in rows:
        per = totals.setdefault(r["pair_id"], {})
        for side, n in (r["requests"] or {}).items():
            per[side] = per.get(side, 0) + int(n)
    return {"runs": scrub.data(rows), "requests_in_these_runs": totals}


def _issues(conn: sqlite3.Connection, scrub: Scrubber) -> list[Any]:
    rows = conn.execute("SELECT * FROM issues WHERE resolved_at IS NULL ORDER BY id")
    return [scrub.data(dict(r)) for r in rows]


def _conflicts(conn: sqlite3.Connection, scrub: Scrubber) -> list[Any]:
    out = []
    for r in conn.execute(
        "SELECT * FROM conflicts WHERE resolved_at IS NULL OR id IN "
        "(SELECT id FROM conflicts ORDER BY id DESC LIMIT 50) ORDER BY id"
    ):
        d = dict(r)
        d["fields"] = _loads(d["fields"])
        d["a_version"] = scrub.event(_loads(d["a_version"]))
        d["b_version"] = scrub.event(_loads(d["b_version"]))
        out.append(scrub.data(d))
    return out


def _overlaps(conn: sqlite3.Connection, scrub: Scrubber) -> list[Any]:
    out = []
    for r in conn.execute("SELECT * FROM overlaps ORDER BY id DESC LIMIT 200"):
        d = dict(r)
        d["a_summary"] = scrub.content_value(d["a_summary"])
        d["b_summary"] = scrub.content_value(d["b_summary"])
        out.append(scrub.data(d))
    return out


def _audit(conn: sqlite3.Connection, scrub: Scrubber) -> list[Any]:
    rows = conn.execute("SELECT * FROM audit ORDER BY id DESC LIMIT ?", (AUDIT_ROWS,))
    return [scrub.data({**dict(r), "details": _loads(r["details"])}) for r in rows]


def _database_report(
    profile: Profile, repo: Repo | None, conn: sqlite3.Connection | None
) -> tuple[str, str | None]:
    """What support asks about the database first; and the failure, if the check failed."""
    path = profile.database
    lines = [f"path: {path.name} in the profile", f"exists: {path.exists()}"]
    if path.exists():
        lines.append(f"size: {path.stat().st_size} bytes")
    for extra in sorted(path.parent.glob(path.name + "*")) if path.parent.exists() else []:
        if extra != path:
            lines.append(f"beside it: {extra.name} ({extra.stat().st_size} bytes)")
    if repo is not None:
        r = repo.db.report
        lines.append(
            f"when opened: created={r.created} migrated_from={r.migrated_from} "
            f"moved_aside={r.moved_aside.name if r.moved_aside else None} reason={r.reason}"
        )
    failure = None
    if conn is not None:
        try:
            lines.append(f"schema version: {conn.execute('PRAGMA user_version').fetchone()[0]}")
            result = [str(r[0]) for r in conn.execute("PRAGMA integrity_check")]
            lines.append("integrity check: " + "; ".join(result[:20]))
            if result != ["ok"]:
                failure = "the integrity check found damage (see database.txt)"
            tables = [
                r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
            ]
            for t in sorted(tables):
                q = f'SELECT count(*) FROM "{t}"'  # noqa: S608 - names from sqlite_master
                lines.append(f"table {t}: {conn.execute(q).fetchone()[0]} rows")
        except sqlite3.DatabaseError as exc:
            failure = f"the integrity check could not run ({exc})"
            lines.append(f"integrity check: FAILED ({exc})")
    return "\n".join(lines) + "\n", failure


def _logs(b: _Bundle, profile: Profile) -> None:
    files = applogs.log_files(profile)
    if not files:
        b.problems.append(f"logs: no log files in {profile.logs.name}/")
        return
    for path in files:
        with b.part(f"logs/{path.name}"):
            raw = path.read_text(encoding="utf-8", errors="replace")
            b.text(f"logs/{path.name}", b.scrub.text(raw))


def _db_copy(conn: sqlite3.Connection) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "state.db"
        dst = sqlite3.connect(target)
        try:
            with dst:
                conn.backup(dst)
        finally:
            dst.close()
        return target.read_bytes()


def _write_zip(
    b: _Bundle, profile: Profile, out_path: Path | None, content: bool, addresses: bool
) -> Path:
    made = dt.datetime.now(dt.UTC)
    if out_path is None:
        out_path = default_bundle_path(profile, made)
    privacy = []
    privacy.append(
        "The person chose to include event titles and descriptions."
        if content
        else "Event titles, descriptions, locations and attendee names are replaced by hashes."
    )
    privacy.append(
        "The person chose to include e-mail addresses."
        if addresses
        else "E-mail addresses and account names are replaced by hashes."
    )
    b.text(
        "README.txt",
        README.format(
            made=made.isoformat(timespec="seconds"),
            version=__version__,
            privacy="\n".join(privacy),
            runs=RUNS,
            audit=AUDIT_ROWS,
            logs_note="" if (content and addresses) else ", content and addresses hashed",
            db_line="state.db         a copy of the state database (the person opted in to "
            "content and addresses).\n"
            if "state.db" in b.files
            else "",
        ),
    )
    b.text("problems.txt", "\n".join(b.problems) + "\n" if b.problems else "none\n")
    b.json(
        "manifest.json",
        {
            "made_at": made.isoformat(timespec="seconds"),
            "version": __version__,
            "include_content": content,
            "include_addresses": addresses,
            "files": sorted([*b.files, "manifest.json"]),
            "problems": len(b.problems),
        },
    )
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out_path.parent, prefix=".bundle-", suffix=".part")
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for name in sorted(b.files):
                zf.writestr(name, b.files[name])
        if os.name == "posix":
            os.chmod(tmp, 0o600)  # it describes the person's calendars: theirs to share
        os.replace(tmp, out_path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out_path


def default_bundle_path(profile: Profile, when: dt.datetime | None = None) -> Path:
    stamp = (when or dt.datetime.now(dt.UTC)).strftime("%Y%m%d-%H%M%S")
    return profile.root / "diagnostics" / f"meridian-diagnostics-{stamp}.zip"


# --- the audit log's upkeep ----------------------------------------------------------------------

_POLICY_KEY = "policy.effective"


def record_policy_change(repo: Repo, policy: EffectivePolicy) -> dict[str, Any]:
    """Audit the effective policy when it differs from the last one seen; returns the changes.

    Call at start and whenever policy is re-read. Secret values are compared by hash only.
    """
    now = {
        k.name: {
            "value": _fingerprint(policy.value(k.name)) if k.secret else policy.value(k.name),
            "locked": policy.locked(k.name),
            "source": policy.source(k.name),
        }
        for k in KEYS
    }
    with repo.db.tx() as c:
        row = c.execute("SELECT value FROM settings WHERE key = ?", (_POLICY_KEY,)).fetchone()
        before = _loads(row[0]) if row else None
        if not isinstance(before, dict):  # first start: compared with the built-in defaults
            before = {k.name: {"value": k.default, "locked": False} for k in KEYS}
        changed = {
            k: {"from": before.get(k, {}).get("value"), **v}
            for k, v in now.items()
            if before.get(k, {}).get("value") != v["value"]
            or before.get(k, {}).get("locked") != v["locked"]
        }
        if row is not None and not changed:
            return {}
        c.execute(
            "INSERT INTO settings (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (_POLICY_KEY, json.dumps(now, sort_keys=True)),
        )
        if row is None and not policy.managed:
            return {}  # the first start without any policy: nothing to tell
        repo.audit(
            "policy",
            "policy.changed",
            why="organization policy applied" if row is None else "organization policy changed",
            details={
                "changed": changed,
                "sources": policy.sources,
                "problems": [str(p) for p in policy.errors],
            },
        )
    return changed


def _fingerprint(value: Any) -> str | None:
    return hashlib.sha256(str(value).encode()).hexdigest()[:12] if value else None


def prune_audit(repo: Repo, retention_days: int, now: dt.datetime | None = None) -> int:
    """Delete audit entries older than the retention (policy key audit_retention_days)."""
    cutoff = (now or dt.datetime.now(dt.UTC)) - dt.timedelta(days=retention_days)
    with repo.db.tx() as c:
        return c.execute(
            "DELETE FROM audit WHERE at < ?", (cutoff.isoformat(timespec="seconds"),)
        ).rowcount
