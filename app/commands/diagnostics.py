"""``meridian diagnostics export``: the bundle support asks for (see services/diagnostics.py).

    meridian diagnostics export [-o FILE] [--include-content] [--include-addresses]

Event titles and descriptions, and e-mail addresses, are replaced by hashes unless the person
includes them; secrets are never included. Works on a broken profile: what failed is listed in
the bundle's problems.txt.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("diagnostics", help="make a diagnostic bundle for support")
    ps = p.add_subparsers(dest="diagnostics_command", metavar="SUBCOMMAND", required=True)
    ex = ps.add_parser("export", help="write the diagnostic bundle (a zip)", description=__doc__)
    ex.add_argument("-o", "--output", type=Path, metavar="FILE", help="where to write the zip")
    ex.add_argument(
        "--include-content",
        action="store_true",
        help="keep event titles, descriptions and locations (hashed otherwise)",
    )
    ex.add_argument(
        "--include-addresses",
        action="store_true",
        help="keep e-mail addresses and account names (hashed otherwise)",
    )
    ex.set_defaults(handler=_export)


def _export(args: argparse.Namespace) -> int:
    from app.paths import profile
    from app.services.diagnostics import export_bundle
    from app.services.logs import pin_library_loggers

    pin_library_loggers()
    prof = profile(args.profile_dir)
    try:
        from app.commands.policy import policy_for

        policy = policy_for(args)
    except Exception as exc:  # the bundle lists it; support needs the bundle most then
        print(f"meridian: the policy could not be read ({type(exc).__name__})", file=sys.stderr)
        policy = None
    try:
        path = export_bundle(
            prof,
            None,
            policy,
            args.output,
            include_content=args.include_content,
            include_addresses=args.include_addresses,
        )
    except OSError as exc:
        print(f"meridian: could not write the bundle: {exc}", file=sys.stderr)
        return 1
    print(path)
    return 0
