"""``meridian audit export``: the audit log (calendar writes, sign-ins, policy changes) as CSV/JSON.

    meridian audit export --csv|--json [--since 2026-11-01] [-o FILE]

Reads the state database read-only (a damaged database is reported, not repaired here).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import sys
from pathlib import Path
from typing import Any

from app.errors import MeridianError, UsageError

COLUMNS = ("id", "at", "actor", "action", "pair_id", "side", "item_id", "why", "details")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("audit", help="export the audit log", description=__doc__)
    ps = p.add_subparsers(dest="audit_command", metavar="SUBCOMMAND", required=True)
    ex = ps.add_parser("export", help="write the audit log as CSV or JSON")
    fmt = ex.add_mutually_exclusive_group(required=True)
    fmt.add_argument("--csv", action="store_const", dest="format", const="csv")
    fmt.add_argument("--json", action="store_const", dest="format", const="json")
    ex.add_argument(
        "--since", metavar="ISO", help="only entries at or after this date or time (UTC if no zone)"
    )
    ex.add_argument("-o", "--output", type=Path, metavar="FILE", help="default: standard output")
    ex.set_defaults(handler=_export)


def parse_since(text: str | None) -> str | None:
    """An ISO date or time as the audit table stores it (UTC, seconds), for comparing."""
    if not text:
        return None
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--since {text!r} is not an ISO date or time (2026-11-01).") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.astimezone(dt.UTC).isoformat(timespec="seconds")


def audit_rows(args: argparse.Namespace, since: str | None) -> list[dict[str, Any]]:
    from app.paths import profile
    from app.services.diagnostics import open_readonly

    conn = open_readonly(profile(args.profile_dir).database)
    if conn is None:
        return []
    try:
        q = "SELECT * FROM audit" + (" WHERE at >= ?" if since else "") + " ORDER BY id"  # noqa: S608
        return [
            {**dict(r), "details": json.loads(r["details"] or "{}")}
            for r in conn.execute(q, (since,) if since else ())
        ]
    finally:
        conn.close()


def to_csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(COLUMNS)
    for r in rows:
        cells = [r[c] if c != "details" else json.dumps(r[c], sort_keys=True) for c in COLUMNS]
        w.writerow([_cell(v) for v in cells])
    return out.getvalue()


def _cell(value: Any) -> Any:
    # A spreadsheet runs cells that start like a formula; the audit log is opened in them.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return "" if value is None else value


def _export(args: argparse.Namespace) -> int:
    import sqlite3

    try:
        since = parse_since(args.since)
        try:
            rows = audit_rows(args, since)
        except sqlite3.DatabaseError as exc:
            raise MeridianError(f"The state database could not be read ({exc}).") from None
        if args.format == "csv":
            text = to_csv(rows)
        else:
            doc = {
                "exported_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "since": since,
                "entries": rows,
            }
            text = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
        if args.output:
            args.output.write_text(text, encoding="utf-8", newline="")
            print(f"{len(rows)} entries written to {args.output}", file=sys.stderr)
        else:
            sys.stdout.write(text)
    except MeridianError as err:
        print(f"meridian: {err.title}: {err.message}", file=sys.stderr)
        return 1
    return 0
