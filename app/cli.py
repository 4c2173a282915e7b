"""The ``meridian`` command: the tray app by default, sub-commands for support and IT."""

from __future__ import annotations

import argparse
import importlib
import platform
from pathlib import Path
from typing import Any

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
    """The tray app; ``--sandbox`` without a URL: a demo against an in-process sandbox."""
    import shutil
    import tempfile

    from app.paths import profile
    from app.ui.app import run_gui

    demo = args.sandbox == "local"
    # A demo without --profile-dir lives in a throwaway profile, never the person's own.
    tmp = Path(tempfile.mkdtemp(prefix="meridian-demo-")) if demo and not args.profile_dir else None
    root = tmp or profile(args.profile_dir).root
    cleanups: list[Any] = []

    def make_service() -> Any:
        # Called by run_gui once it knows this is the only instance (a second launch of the
        # same profile only brings the first forward, without starting anything).
        if demo:
            svc, cleanup = _demo_service(root)
            cleanups.append(cleanup)
            return svc
        return _app_service(args)

    try:
        return run_gui(make_service, profile_root=root)
    finally:
        for cleanup in cleanups:
            cleanup()
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def _app_service(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """The services for the person's profile (or a sandbox given by URL), as the CLI has them."""
    from app.commands.accounts import AppContext
    from app.paths import profile
    from app.services.app_service import AppService
    from app.services.autostart import for_os
    from app.services.sync_service import Endpoints, SyncService

    # The GUI has none of the sub-commands' options: their defaults (and the environment).
    for name, default in (("sandbox_ca", None), ("allow_file_store", False), ("email", None)):
        if not hasattr(args, name):
            setattr(args, name, default)
    ctx = AppContext(args)
    prof = profile(args.profile_dir)
    endpoints = (
        Endpoints.sandbox(ctx.sandbox[0], str(ctx.sandbox[1])) if ctx.sandbox else Endpoints()
    )
    from app.commands.policy import policy_for

    sync = SyncService(ctx.service.repo, ctx.service, endpoints, policy=policy_for(args))
    return AppService(sync, prof.settings, autostart=for_os())


def _demo_service(root: Path):  # type: ignore[no-untyped-def]
    """An in-process sandbox with the demo seed, both demo users signed in, a two-way pair.

    Secrets stay in memory and the sandbox in a temporary folder: the demo never touches the
    person's keyring or the real clouds.
    """
    from app.auth.google_oauth import GoogleConfig
    from app.auth.microsoft_oauth import MicrosoftConfig
    from app.auth.vault import MemoryVault
    from app.core.rules import PairRules
    from app.paths import Profile
    from app.sandbox.admin import SandboxAdmin
    from app.sandbox.browser import SandboxBrowser
    from app.sandbox.seed import seed_if_empty
    from app.sandbox.server import Sandbox
    from app.services.accounts import AuthConfig
    from app.services.app_service import build
    from app.services.sync_service import Endpoints

    sandbox = Sandbox().start()
    try:
        seeded = seed_if_empty(sandbox)
        admin = SandboxAdmin(sandbox.urls.root, sandbox.ca_cert)
        for service in ("microsoft", "google"):
            admin.auto_approve(service, seeded[service]["id"])
        browser = SandboxBrowser(sandbox.ca_cert)
        auth = AuthConfig(
            GoogleConfig.for_sandbox(sandbox.urls, sandbox.ca_cert),
            MicrosoftConfig.for_sandbox(sandbox.urls, sandbox.ca_cert),
        )
        endpoints = Endpoints.sandbox(sandbox.urls, str(sandbox.ca_cert))
        svc = build(Profile(root), MemoryVault(), auth, endpoints, opener=browser.open, demo=True)
        work = svc.add_account("microsoft")
        home = svc.add_account("google")
        if not svc.pairs():
            name = "Work \u2194 Home"
            svc.add_pair(work.id, "primary", home.id, "primary", PairRules(), name=name)
        svc.finish_setup()
    except BaseException:
        sandbox.stop()
        raise

    def cleanup() -> None:
        svc.close()
        sandbox.stop()

    return svc, cleanup
