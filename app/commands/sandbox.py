"""``meridian sandbox serve``: the local stand-in for Google Calendar and Microsoft Graph."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    sb = sub.add_parser(
        "sandbox", help="the local stand-in for Google Calendar and Microsoft Graph"
    )
    sb_sub = sb.add_subparsers(dest="sandbox_command", metavar="SUBCOMMAND", required=True)
    serve = sb_sub.add_parser("serve", help="run the sandbox until interrupted")
    serve.add_argument("--state", type=Path, help="keep the sandbox's data in DIR across restarts")
    serve.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: any free)")
    serve.add_argument("--latency-ms", type=int, default=0, help="added to every request")
    serve.add_argument("--seed", choices=["demo", "empty"], default="empty")
    serve.set_defaults(handler=lambda a: serve_sandbox(a.state, a.port, a.latency_ms, a.seed))


def serve_sandbox(state: Path | None, port: int, latency_ms: int, seed: str) -> int:
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
