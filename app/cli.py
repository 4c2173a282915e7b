"""The ``meridian`` command: the tray app by default, sub-commands for support and IT."""

from __future__ import annotations

import argparse
import json
import platform
import signal
import sys
import threading
from pathlib import Path

from app import APP_ID, __version__


def version_line() -> str:
    return f"{APP_ID} {__version__} (Python {platform.python_version()}, {platform.system()})"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=APP_ID, description="Meridian calendar sync.")
    p.add_argument("--version", action="version", version=version_line())
    p.add_argument("--profile-dir", type=Path, help="keep settings and state in DIR")
    p.add_argument(
        "--sandbox",
        nargs="?",
        const="local",
        metavar="URL",
        help="use the local sandbox instead of Google and Microsoft (no URL: start one in-process)",
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    sb = sub.add_parser(
        "sandbox", help="the local stand-in for Google Calendar and Microsoft Graph"
    )
    sb_sub = sb.add_subparsers(dest="sandbox_command", metavar="SUBCOMMAND", required=True)
    serve = sb_sub.add_parser("serve", help="run the sandbox until interrupted")
    serve.add_argument("--state", type=Path, help="keep the sandbox's data in DIR across restarts")
    serve.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: any free)")
    serve.add_argument("--latency-ms", type=int, default=0, help="added to every request")
    serve.add_argument("--seed", choices=["demo", "empty"], default="empty")
    return p


def run(argv: list[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "sandbox":
        return sandbox_serve(args.state, args.port, args.latency_ms, args.seed)
    if args.command is None:
        return launch_app(args)
    parser.error(f"unknown command {args.command}")
    return 2


def sandbox_serve(state: Path | None, port: int, latency_ms: int, seed: str) -> int:
    from app.sandbox.seed import seed_if_empty
    from app.sandbox.server import Sandbox

    if port < 0 or port > 65535:
        print("meridian: --port must be between 0 and 65535", file=sys.stderr)
        return 2
    if latency_ms < 0:
        print("meridian: --latency-ms must not be negative", file=sys.stderr)
        return 2
    try:
        sandbox = Sandbox(state, port=port, latency_ms=latency_ms).start()
    except OSError as exc:
        print(f"meridian: cannot start the sandbox on port {port}: {exc.strerror}", file=sys.stderr)
        return 1
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        info = sandbox.ready_info()
        if seed == "demo":
            info["seed"] = seed_if_empty(sandbox)
        print(json.dumps(info), flush=True)
        stop.wait()
    finally:
        sandbox.stop()
    return 0


def launch_app(args: argparse.Namespace) -> int:
    if args.sandbox == "local":
        # The tray app arrives with the tray issue; until then demo mode serves the seeded sandbox.
        return sandbox_serve(None, 0, 0, "demo")
    print(
        "meridian: the tray app is not built yet. Try `meridian sandbox serve --seed demo`.",
        file=sys.stderr,
    )
    return 2
