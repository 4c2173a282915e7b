"""``meridian pairs|sync|status|conflicts``: the same services the tray app uses."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from app.commands.accounts import AppContext, common_options
from app.core.rules import ConflictPolicy, Direction, PairRules, PrivacyMode, Side
from app.errors import MeridianError


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    common = common_options()

    pairs = sub.add_parser("pairs", help="calendar pairs: which calendars sync, and how")
    ps = pairs.add_subparsers(dest="pairs_command", metavar="SUBCOMMAND", required=True)
    add = ps.add_parser("add", parents=[common], help="pair an Outlook and a Google calendar")
    add.add_argument("name")
    add.add_argument("--outlook", required=True, metavar="ACCOUNT", help="Microsoft account")
    add.add_argument("--outlook-calendar", default="primary", metavar="NAME|ID")
    add.add_argument("--google", required=True, metavar="ACCOUNT", help="Google account")
    add.add_argument("--google-calendar", default="primary", metavar="NAME|ID")
    add.add_argument("--direction", choices=[d.value for d in Direction], default="both")
    add.add_argument("--privacy", choices=[p.value for p in PrivacyMode], default="full")
    add.add_argument(
        "--conflicts", choices=[c.value for c in ConflictPolicy], default="ask", dest="policy"
    )
    add.add_argument("--past-days", type=int, default=30)
    add.add_argument("--future-days", type=int, default=180)
    add.set_defaults(handler=_pairs_add)
    ls = ps.add_parser("list", parents=[common], help="list the pairs")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(handler=_pairs_list)
    rm = ps.add_parser("remove", parents=[common], help="remove a pair (no event is deleted)")
    rm.add_argument("pair")
    rm.set_defaults(handler=_pairs_remove)
    for verb, approve in (("confirm-deletions", True), ("refuse-deletions", False)):
        h = ps.add_parser(verb, parents=[common], help=f"{verb.split('-')[0]} held deletions")
        h.add_argument("pair")
        h.set_defaults(handler=lambda a, approve=approve: _decide(a, approve))

    sync = sub.add_parser("sync", parents=[common], help="sync now")
    sync.add_argument("--once", action="store_true", help="one run of each pair, then exit")
    sync.add_argument("--pair", help="only this pair")
    sync.add_argument("--dry-run", action="store_true", help="print the plan, write nothing")
    sync.add_argument("--json", action="store_true", help="one JSON object with the counts")
    sync.set_defaults(handler=_sync)

    status = sub.add_parser("status", parents=[common], help="accounts, pairs, last runs")
    status.add_argument("--json", action="store_true")
    status.set_defaults(handler=_status)

    conf = sub.add_parser("conflicts", help="events changed on both sides, waiting for you")
    cs = conf.add_subparsers(dest="conflicts_command", metavar="SUBCOMMAND", required=True)
    cl = cs.add_parser("list", parents=[common])
    cl.add_argument("--json", action="store_true")
    cl.set_defaults(handler=_conflicts_list)
    cr = cs.add_parser("resolve", parents=[common])
    cr.add_argument("id", type=int)
    cr.add_argument("--keep", choices=["outlook", "google"], required=True)
    cr.add_argument("--always", action="store_true", help="do this for every conflict of the pair")
    cr.set_defaults(handler=_conflicts_resolve)


def _service(ctx: AppContext) -> Any:
    from app.commands.policy import policy_for
    from app.services.sync_service import Endpoints, SyncService

    endpoints = Endpoints.sandbox(*ctx.sandbox) if ctx.sandbox else Endpoints()
    return SyncService(ctx.service.repo, ctx.service, endpoints, policy=policy_for(ctx.args))


def _with(args: argparse.Namespace, action: Any, *, need_vault: bool = True) -> int:
    try:
        ctx = AppContext(args, need_vault=need_vault)
    except MeridianError as err:
        print(f"meridian: {err.title}: {err.message}", file=sys.stderr)
        return 1
    try:
        return int(action(_service(ctx)))
    except MeridianError as err:
        print(f"meridian: {err.title}: {err.message}", file=sys.stderr)
        return 1
    finally:
        ctx.close()


def _pairs_add(args: argparse.Namespace) -> int:
    def act(svc: Any) -> int:
        rules = PairRules(
            direction=Direction(args.direction),
            privacy=PrivacyMode(args.privacy),
            conflict_policy=ConflictPolicy(args.policy),
            window_past_days=args.past_days,
            window_future_days=args.future_days,
        )
        row = svc.add_pair(
            args.name, args.outlook, args.outlook_calendar, args.google, args.google_calendar, rules
        )
        for note in getattr(svc, "notes", []):
            print(f"Set by your organization: {note}")
        print(f"Pair {row.name!r} added ({row.id}). Run `meridian sync --once` to start.")
        return 0

    try:
        return _with(args, act)
    except ValueError as exc:
        print(f"meridian: Invalid setting: {exc}", file=sys.stderr)
        return 2


def _pairs_list(args: argparse.Namespace) -> int:
    def act(svc: Any) -> int:
        rows = svc.pairs()
        if args.json:
            print(json.dumps([{"id": r.id, "name": r.name, **r.config} for r in rows], indent=2))
            return 0
        for r in rows:
            rules = r.config.get("rules", {})
            a, b = r.config.get("a", {}), r.config.get("b", {})
            print(
                f"{r.name}  [{rules.get('direction')}, {rules.get('privacy')}]  "
                f"Outlook:{a.get('calendar_name')} <-> Google:{b.get('calendar_name')}"
                + (f"  (paused: {r.paused_reason})" if r.paused_reason else "")
            )
        if not rows:
            print("No pairs yet: `meridian pairs add NAME --outlook ... --google ...`.")
        return 0

    return _with(args, act, need_vault=False)


def _pairs_remove(args: argparse.Namespace) -> int:
    def act(svc: Any) -> int:
        svc.remove_pair(args.pair)
        print(f"Pair {args.pair!r} removed. No event was deleted on either calendar.")
        return 0

    return _with(args, act, need_vault=False)


def _decide(args: argparse.Namespace, approve: bool) -> int:
    def act(svc: Any) -> int:
        svc.decide_hold(args.pair, approve)
        print("Noted. The next sync " + ("deletes them." if approve else "keeps them."))
        return 0

    return _with(args, act, need_vault=False)


def _sync(args: argparse.Namespace) -> int:
    def act(svc: Any) -> int:
        results = svc.run(args.pair, dry_run=args.dry_run)
        if args.json:
            keys = ("created", "updated", "deleted", "linked", "conflicts", "overlaps", "skipped")
            total = {k: sum(r.counts.get(k, 0) for r in results) for k in keys}
            total["errors"] = sum(
                r.counts.get("errors", 0) + (r.status in ("error", "failed")) for r in results
            )
            requests = {side: sum(r.requests.get(side, 0) for r in results) for side in ("a", "b")}
            out = {
                **total,
                "requests": {"outlook": requests["a"], "google": requests["b"]},
                "pairs": [r.as_dict() for r in results],
            }
            if args.dry_run:
                out["plan"] = [a.describe() for r in results if r.plan for a in r.plan.actions]
            print(json.dumps(out, indent=2))
        else:
            for r in results:
                name = svc.pair(r.pair_id).name
                counts = ", ".join(f"{v} {k}" for k, v in sorted(r.counts.items()) if v)
                print(
                    f"{name}: {r.status}"
                    + (f" ({counts})" if counts else "")
                    + (f" - {r.message}" if r.message else "")
                )
                if args.dry_run and r.plan:
                    for a in r.plan.actions:
                        print(f"  would {a.describe()}")
        bad = [r for r in results if r.status in ("error", "failed", "needs-sign-in", "offline")]
        return 1 if bad else 0

    return _with(args, act)


def _status(args: argparse.Namespace) -> int:
    def act(svc: Any) -> int:
        st = svc.status()
        if args.json:
            print(json.dumps(st, indent=2, default=str))
            return 0
        for a in st["accounts"]:
            print(f"{a['provider']:9} {a['email']}  {a['status']}")
        for p in st["pairs"]:
            last = p["last_run"]
            when = last["finished_at"] if last else "never"
            state = p["held"] or p["paused"] or (last["status"] if last else "not synced yet")
            print(
                f"pair {p['name']}: {state}; last sync {when}; {p['links']} linked, "
                f"{p['issues']} issues, {p['conflicts']} conflicts"
            )
        return 0

    return _with(args, act, need_vault=False)


def _conflicts_list(args: argparse.Namespace) -> int:
    def act(svc: Any) -> int:
        rows = svc.conflicts()
        if args.json:
            print(json.dumps(rows, indent=2, default=str))
            return 0
        for c in rows:
            title = (c["a_version"] or {}).get("title", "")
            print(f"{c['id']}: {title!r} changed on both sides ({', '.join(c['fields'])})")
        if not rows:
            print("No conflicts waiting.")
        return 0

    return _with(args, act, need_vault=False)


def _conflicts_resolve(args: argparse.Namespace) -> int:
    def act(svc: Any) -> int:
        keep = Side.A if args.keep == "outlook" else Side.B
        svc.resolve_conflict(args.id, keep, remember=args.always)
        print("Resolved; the next sync writes your choice to both calendars.")
        return 0

    return _with(args, act, need_vault=False)
