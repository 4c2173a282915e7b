"""The ``meridian`` command: the tray app by default, sub-commands for support and IT."""

from __future__ import annotations

import argparse
import importlib
import platform
import sys
from pathlib import Path

from app import APP_ID, __version__

# Each module in app/commands registers its own sub-commands.
COMMAND_MODULES = ("sandbox", "accounts", "sync", "policy", "diagnostics", "audit")


def version_line() -> str:
    return f"{APP_ID} {__version__} (Python {platform.python_version()}, {platform.system()})"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=APP_ID, description="Meridian calendar sync.")
    p.add_argument("--version", action="version", version=version_line())
    p.add_argument(
        "--selftest",
        action="store_true",
        help="sync the built-in demo in a temporary profile, print one JSON line, exit 0 if sound",
    )
    p.add_argument("--profile-dir", type=Path, help="keep settings and state in DIR")
    p.add_argument(
        "--sandbox",
        nargs="?",
        const="local",
        metavar="URL",
        help="use the local sandbox instead of Google and Microsoft (no URL: start one in-process)",
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"app.commands.{name}").register(sub)
    return p


def run(argv: list[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.selftest:
        from app.selftest import main as selftest

        return selftest(args)
    handler = getattr(args, "handler", None)
    if handler is not None:
        return int(handler(args))
    return launch_app(args)


def launch_app(args: argparse.Namespace) -> int:
    if args.sandbox == "local":
        from app.commands.sandbox import serve_sandbox

        # The tray app arrives with the tray issue; until then demo mode serves the seeded sandbox.
        return serve_sandbox(None, 0, 0, "demo")
    print(
        "meridian: the tray app is not built yet. Try `meridian sandbox serve --seed demo`.",
        file=sys.stderr,
    )
    return 2
