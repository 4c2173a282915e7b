"""``meridian policy``: show the effective policy, check a policy file, ask if a change is allowed.

    meridian policy show [--json]          every key: value, locked or default, and its source
    meridian policy check FILE... [--json] validate files for IT before they push them (exit 1
                                           when any problem is found, each with file, key, reason)
    meridian policy allows KEY VALUE       may the person set KEY to VALUE? (exit 1: refused)

Other commands that change settings call ``policy_for(args).guard_change(key, value)`` and let
its PolicyLocked / PolicyForbidden reach their MeridianError handler, so locked settings are
refused the same way everywhere.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from app.errors import MeridianError, UsageError


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "policy",
        help="the organization's policy: show it, check a policy file",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ps = p.add_subparsers(dest="policy_command", metavar="SUBCOMMAND", required=True)
    show = ps.add_parser("show", help="the effective policy with the source of each value")
    show.add_argument("--json", action="store_true", help="one JSON document")
    show.set_defaults(handler=_show)
    check = ps.add_parser("check", help="validate policy files (JSON, plist, .mobileconfig)")
    check.add_argument("files", nargs="+", type=Path, metavar="FILE")
    check.add_argument("--json", action="store_true", help="one JSON document")
    check.set_defaults(handler=_check)
    allows = ps.add_parser("allows", help="whether the person may set KEY to VALUE")
    allows.add_argument("key", metavar="KEY")
    allows.add_argument("value", metavar="VALUE", help="lists: comma-separated")
    allows.set_defaults(handler=_allows)


def policy_for(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """The effective policy for the command's profile (``--profile-dir``)."""
    from app.paths import profile
    from app.policy import Locations, load_policy

    return load_policy(Locations.for_profile(profile(getattr(args, "profile_dir", None))))


def _show(args: argparse.Namespace) -> int:
    from app.policy import describe

    policy = policy_for(args)
    if args.json:
        print(json.dumps(policy.as_dict(), indent=2))
        return 0
    if policy.sources:
        print("Policy sources, highest precedence first:")
        for name in policy.sources:
            print(f"  {name}")
    else:
        print("No organization policy on this computer: built-in defaults apply.")
    if policy.disabled:
        print("Meridian is turned off on this computer by policy.")
    print()
    print("\n".join(describe(policy)))
    if policy.errors:
        print("\nProblems (the safest value applies to each):")
        for p in policy.errors:
            print(f"  {p}")
    return 0


def _check(args: argparse.Namespace) -> int:
    from app.policy import merge
    from app.policy.sources import read_any_file

    report: dict[str, list[dict[str, object]]] = {}
    for path in args.files:
        source = read_any_file(path)
        if source is None:
            report[str(path)] = [
                {"source": str(path), "key": None, "reason": "does not exist", "kind": "missing"}
            ]
            continue
        # Merging alone finds what is wrong between keys (a default beyond its bound, ...).
        problems = merge([source]).errors if not source.failed else source.problems
        report[str(path)] = [p.as_dict() for p in problems]
    bad = any(report.values())
    if args.json:
        print(json.dumps({"ok": not bad, "files": report}, indent=2))
        return 1 if bad else 0
    for name, found in report.items():
        if not found:
            print(f"{name}: OK")
        for p in found:
            key = f"{p['key']}: " if p["key"] else ""
            print(f"{name}: {key}{p['reason']} [{p['kind']}]")
    return 1 if bad else 0


def _allows(args: argparse.Namespace) -> int:
    from app.policy import BY_NAME
    from app.policy.schema import Invalid, parse_cli_value

    try:
        key = BY_NAME.get(args.key)
        if key is None:
            raise UsageError(f"There is no policy key {args.key!r}; see `meridian policy show`.")
        try:
            value = parse_cli_value(key, args.value)
        except Invalid as exc:
            raise UsageError(f"{args.key}: {exc.reason}.") from None
        policy_for(args).guard_change(key.name, value)
    except MeridianError as err:
        print(f"meridian: {err.title}: {err.message}", file=sys.stderr)
        return 1
    print(f"Allowed: {key.name} = {json.dumps(value)}")
    return 0
