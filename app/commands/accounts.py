"""``meridian accounts``: add (sign in), list and remove (sign out) Google and Microsoft accounts.

With ``--sandbox URL`` (the sandbox's root, e.g. https://127.0.0.1:8443) the sign-in runs
headless against the sandbox: a loopback-only headless browser follows the sign-in pages (the
sandbox approves automatically when ``PUT /_sandbox/auto-approve`` names a user; otherwise the
browser picks ``--email`` on the consent page), the sandbox CA is trusted and the tokens go to a
throwaway store labelled as such, kept apart from real secrets.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from pathlib import Path
from typing import Any

from app.errors import MeridianError, UsageError

_DESCRIPTION = """\
Sign in to Google and Microsoft accounts (add), list them, and sign out (remove).

Secrets go to the OS keyring (a key) and encrypted files in the profile. Without a keyring
nothing is signed in, unless --allow-file-store (insecure) is given.

Against the sandbox (options before "accounts"):
  meridian --sandbox https://127.0.0.1:PORT accounts add google --sandbox-ca CA.pem
runs headless: a loopback-only headless browser follows the sign-in pages (the sandbox approves
by itself after PUT /_sandbox/auto-approve; otherwise --email picks the user on its consent
page), only the sandbox CA is trusted, and the tokens go to a throwaway store kept apart from
real secrets. CA.pem is the ca_cert path in the ready line of `meridian sandbox serve`.
"""
ENV_SANDBOX_CA = "MERIDIAN_SANDBOX_CA"
ENV_ALLOW_FILE_STORE = "MERIDIAN_ALLOW_FILE_STORE"


def common_options() -> argparse.ArgumentParser:
    """Options every command that talks to the clouds takes (a parent parser)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--sandbox-ca",
        type=Path,
        metavar="FILE",
        help="with --sandbox URL: the sandbox's CA certificate, the ca_cert path in the ready "
        f"line of `meridian sandbox serve` (default: ${ENV_SANDBOX_CA})",
    )
    common.add_argument(
        "--allow-file-store",
        action="store_true",
        help="without an OS keyring, keep secrets in a file only your user can read (insecure; "
        f"also ${ENV_ALLOW_FILE_STORE}=1)",
    )
    return common


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    common = common_options()
    acc = sub.add_parser(
        "accounts",
        help="sign in to, list and sign out of Google and Microsoft accounts",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    acc_sub = acc.add_subparsers(dest="accounts_command", metavar="SUBCOMMAND", required=True)

    add = acc_sub.add_parser("add", parents=[common], help="sign in to an account")
    add.add_argument("provider", choices=["google", "microsoft"])
    add.add_argument(
        "--device-code",
        action="store_true",
        help="Microsoft: sign in on another device with a code (no browser needed here)",
    )
    add.add_argument("--email", metavar="ADDRESS", help="the account to sign in as (a hint)")
    add.add_argument(
        "--read-only",
        action="store_true",
        help="Google: ask for read access only (pairs that only copy from Google)",
    )
    add.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for sign-in")
    add.set_defaults(handler=_add)

    ls = acc_sub.add_parser("list", parents=[common], help="list the accounts")
    ls.add_argument("--json", action="store_true", help="one JSON document")
    ls.set_defaults(handler=_list)

    rm = acc_sub.add_parser(
        "remove", parents=[common], help="sign out: delete its secrets, pause its pairs"
    )
    rm.add_argument("account", metavar="ID|EMAIL")
    rm.add_argument(
        "--forget", action="store_true", help="also delete the account entry (no pair may use it)"
    )
    rm.set_defaults(handler=_remove)


# --- wiring ----------------------------------------------------------------------------------


class AppContext:
    """The service and, against the sandbox, the headless browser it signs in with."""

    def __init__(self, args: argparse.Namespace, *, need_vault: bool = True) -> None:
        from app.auth.vault import MemoryVault, Vault, open_vault
        from app.paths import profile
        from app.services.accounts import AccountService, AuthConfig
        from app.store.db import Database
        from app.store.repo import Repo

        self.args = args
        self.browser: Any = None
        self.sandbox: tuple[Any, Path] | None = None  # (urls, CA file) against a sandbox
        # Set when the sandbox's headless browser gives up, so the sign-in stops waiting.
        self.cancel = threading.Event()
        sandbox_url = getattr(args, "sandbox", None)
        prof = profile(args.profile_dir)
        config = AuthConfig()
        opener = None
        if sandbox_url is not None:
            config, opener = self._sandbox(args, sandbox_url)
        allow = args.allow_file_store or os.environ.get(ENV_ALLOW_FILE_STORE) == "1"
        # The vault first: without a keyring nothing is created, not even the profile. Listing
        # reads no secret, so it works without one.
        vault: Vault = MemoryVault()
        if need_vault:
            vault = open_vault(prof, allow_file_store=allow, sandbox=sandbox_url is not None)
        prof.ensure()
        self.db = Database(prof.database)
        kwargs = {"opener": opener} if opener else {}
        self.service = AccountService(
            Repo(self.db),
            vault,
            config,
            on_url=_print_url,
            on_device_code=_print_device_code,
            **kwargs,
        )
        self.vault = vault

    def _sandbox(self, args: argparse.Namespace, url: str):  # type: ignore[no-untyped-def]
        from app.auth.google_oauth import GoogleConfig
        from app.auth.microsoft_oauth import MicrosoftConfig
        from app.sandbox.browser import SandboxBrowser
        from app.sandbox.server import SandboxUrls
        from app.services.accounts import AuthConfig

        if url == "local":
            raise UsageError(
                "accounts needs a running sandbox: start `meridian sandbox serve` and pass "
                "--sandbox URL --sandbox-ca FILE from its ready line."
            )
        ca = args.sandbox_ca or (
            Path(os.environ[ENV_SANDBOX_CA]) if os.environ.get(ENV_SANDBOX_CA) else None
        )
        if ca is None or not ca.is_file():
            raise UsageError(
                "--sandbox URL needs the sandbox's CA certificate: --sandbox-ca FILE (the ca_cert "
                f"path in the sandbox's ready line) or ${ENV_SANDBOX_CA}."
            )
        urls = SandboxUrls(url.rstrip("/"))
        self.sandbox = (urls, ca)
        self.browser = SandboxBrowser(ca, user=getattr(args, "email", None))
        config = AuthConfig(
            google=GoogleConfig.for_sandbox(urls, ca),
            microsoft=MicrosoftConfig.for_sandbox(urls, ca),
        )
        return config, self._open_headless

    def _open_headless(self, url: str) -> bool:
        self.browser.open(url)

        def watch() -> None:
            try:
                self.browser.wait(None)
            except Exception:
                self.cancel.set()

        threading.Thread(target=watch, name="sandbox-browser-watch", daemon=True).start()
        return True

    def close(self) -> None:
        if self.browser is not None:
            try:
                self.browser.wait(5)
            except Exception as err:  # its messages name pages, never codes or tokens
                print(f"meridian: the sandbox browser stopped: {err}", file=sys.stderr)
        self.db.close()


def _print_url(url: str) -> None:
    print(f"Open this address in a browser on this computer to sign in:\n  {url}", file=sys.stderr)


def _print_device_code(prompt: object) -> None:
    print(getattr(prompt, "message", ""), file=sys.stderr, flush=True)


def _run(args: argparse.Namespace, action, *, need_vault: bool = True) -> int:  # type: ignore[no-untyped-def]
    try:
        ctx = AppContext(args, need_vault=need_vault)
    except MeridianError as err:
        print(f"meridian: {err.title}: {err.message}", file=sys.stderr)
        return 1
    try:
        return int(action(ctx))
    except MeridianError as err:
        print(f"meridian: {err.title}: {err.message}", file=sys.stderr)
        return 1
    finally:
        ctx.close()


# --- the commands ---------------------------------------------------------------------------


def _add(args: argparse.Namespace) -> int:
    def action(ctx: AppContext) -> int:
        if not ctx.vault.secure:
            print(f"meridian: secrets go to the {ctx.vault.label}", file=sys.stderr)
        account = ctx.service.add(
            args.provider,
            device_code=args.device_code,
            login_hint=args.email,
            read_only=args.read_only,
            timeout=args.timeout,
            cancel=ctx.cancel,
        )
        print(f"Signed in: {account.label} [{account.id}]")
        return 0

    return _run(args, action)


def _list(args: argparse.Namespace) -> int:
    def action(ctx: AppContext) -> int:
        accounts = ctx.service.accounts()
        if args.json:
            print(json.dumps({"accounts": [a.as_dict() for a in accounts]}, indent=2))
            return 0
        if not accounts:
            print("No accounts. Add one with `meridian accounts add google|microsoft`.")
        for a in accounts:
            status = a.status.value.replace("_", " ")
            print(f"{a.id}  {a.provider:<9}  {a.email:<40}  {status}")
        return 0

    return _run(args, action, need_vault=False)


def _remove(args: argparse.Namespace) -> int:
    def action(ctx: AppContext) -> int:
        out = ctx.service.remove(args.account)
        what = {True: ", access revoked", False: ", revoking failed (it stays until it expires)"}
        print(f"Signed out: {out.account.label}{what.get(out.revoked, '')}")  # type: ignore[arg-type]
        if out.paused_pairs:
            print(f"Paused pairs: {', '.join(out.paused_pairs)}")
        if args.forget:
            ctx.service.forget(out.account.id)
            print("Forgotten.")
        return 0

    return _run(args, action)
