"""``meridian --selftest``: prove an installed copy works, without the network or the person's data.

In a temporary profile: start the in-process sandbox with the demo seed, sign in to both demo
users headless (the code path ``meridian --sandbox URL accounts add`` uses, with the sandbox's
throwaway secret store, so no keyring is touched), pair them two-way, run one sync and check the
counts; then start Qt offscreen and, when the tray has been built (``app.ui``), create it.
Prints one JSON line and exits 0 when every check passed, 1 otherwise.

Used by the packaging smoke test on the frozen bundle and by IT after a deployment:
``meridian --selftest`` (on Windows ``meridian-cli.exe --selftest``: the tray executable has no
console).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import inspect
import json
import os
import platform
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

from app import APP_ID, __version__

# Where the tray class may live once the UI lands; the first class found is created.
TRAY_MODULES = ("app.ui.tray", "app.ui.app", "app.ui")
SIGN_IN_TIMEOUT = 60.0


def main(argv_args: argparse.Namespace | None = None) -> int:
    started = time.monotonic()
    report: dict[str, Any] = {
        "selftest": APP_ID,
        "version": __version__,
        "python": platform.python_version(),
        "frozen": bool(getattr(sys, "frozen", False)),
        "platform": sys.platform,
    }
    checks: dict[str, Any] = {}
    report["checks"] = checks
    tmp = Path(tempfile.mkdtemp(prefix=f"{APP_ID}-selftest-"))
    qt_app: list[Any] = []  # the QApplication, once the qt step made one
    tray: dict[str, Any] = {"skipped": "the demo sync did not get far enough"}

    def make_tray(svc: Any, profile_dir: Path) -> None:
        if qt_app:
            tray.clear()
            tray.update(_tray(qt_app[0], svc, profile_dir))

    try:
        _step(checks, "qt", lambda: _qt(qt_app))
        _step(checks, "sync", lambda: _sync(tmp / "profile", make_tray))
        _step(checks, "keyring", _keyring)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if checks["qt"].get("ok") and "skipped" not in checks["qt"]:
        checks["qt"]["tray"] = tray
        if tray.get("error"):
            checks["qt"]["ok"] = False
    report["ok"] = all(c.get("ok") for c in checks.values())
    report["seconds"] = round(time.monotonic() - started, 2)
    print(json.dumps(report, sort_keys=True), flush=True)
    return 0 if report["ok"] else 1


def _step(checks: dict[str, Any], name: str, fn: Any) -> None:
    try:
        checks[name] = fn()
    except Exception as err:
        checks[name] = {
            "ok": False,
            "error": f"{type(err).__name__}: {err}",
            "where": traceback.format_exc(limit=-3).strip().splitlines()[-3:],
        }


# --- one sync of the demo pair ----------------------------------------------------------------


def _sync(profile_dir: Path, with_services: Any = None) -> dict[str, Any]:
    """Sign in to both demo users, pair them, sync once; ``with_services(svc, profile_dir)`` then
    runs while the services are still open (the tray is built with them)."""
    from app.commands.accounts import AppContext
    from app.core.rules import Direction, PairRules
    from app.sandbox.admin import SandboxAdmin
    from app.sandbox.seed import HOME_EMAIL, WORK_EMAIL, seed_if_empty
    from app.sandbox.server import Sandbox
    from app.services.sync_service import Endpoints, SyncService

    sandbox = Sandbox().start()  # throwaway state in a temporary folder, loopback only
    try:
        seeded = seed_if_empty(sandbox)
        root = sandbox.urls.root
        admin = SandboxAdmin(root, sandbox.ca_cert)
        admin.auto_approve("microsoft", seeded["microsoft"]["id"])
        admin.auto_approve("google", seeded["google"]["id"])

        def context(email: str | None = None) -> AppContext:
            # The namespace `meridian --profile-dir P --sandbox URL ... --sandbox-ca CA` parses to.
            args = argparse.Namespace(
                profile_dir=profile_dir,
                sandbox=root,
                sandbox_ca=sandbox.ca_cert,
                allow_file_store=False,
                email=email,
            )
            return AppContext(args)

        signed_in = {}
        for provider, email in (("microsoft", WORK_EMAIL), ("google", HOME_EMAIL)):
            ctx = context(email)  # one context per sign-in, as one CLI process per `accounts add`
            try:
                account = ctx.service.add(
                    provider, login_hint=email, timeout=SIGN_IN_TIMEOUT, cancel=ctx.cancel
                )
                signed_in[provider] = account.email
            finally:
                ctx.close()

        ctx = context()
        try:
            assert ctx.sandbox is not None
            urls, ca_cert = ctx.sandbox
            svc = SyncService(ctx.service.repo, ctx.service, Endpoints.sandbox(urls, str(ca_cert)))
            svc.add_pair(
                "selftest",
                WORK_EMAIL,
                "primary",
                HOME_EMAIL,
                "primary",
                PairRules(direction=Direction.BOTH),
            )
            results = svc.run()
            if with_services is not None:
                with_services(svc, profile_dir)
        finally:
            ctx.close()
        outbox = admin.outbox()
    finally:
        sandbox.stop()

    keys = ("created", "updated", "deleted", "linked", "conflicts", "errors")
    counts = {k: sum(r.counts.get(k, 0) for r in results) for k in keys}
    statuses = [r.status for r in results]
    messages = [r.message for r in results if r.message]
    ok = (
        signed_in == {"microsoft": WORK_EMAIL, "google": HOME_EMAIL}
        and statuses == ["ok"]
        and counts["created"] > 0
        and counts["errors"] == 0
        and counts["linked"] >= 1  # the demo meeting on both calendars is linked, not copied
        and outbox == []  # copies never e-mail anyone
    )
    out: dict[str, Any] = {"ok": ok, "status": statuses, **counts, "mails": len(outbox)}
    if messages:
        out["messages"] = messages
    return out


# --- keyring backends bundled -----------------------------------------------------------------


def _keyring() -> dict[str, Any]:
    """Which keyring backends this copy carries (the frozen bundle must carry the OS's own)."""
    import pkgutil

    import keyring.backends

    modules = sorted(m.name for m in pkgutil.iter_modules(keyring.backends.__path__))
    wanted = {"win32": "Windows", "darwin": "macOS"}.get(sys.platform, "SecretService")
    # Naming the chosen backend asks the OS (D-Bus on Linux): cheap, and useful in a bug report.
    chosen = type(keyring.get_keyring()).__module__ + "." + type(keyring.get_keyring()).__name__
    return {"ok": wanted in modules, "os_backend": wanted, "modules": modules, "active": chosen}


# --- Qt offscreen and the tray ----------------------------------------------------------------


def _qt(made: list[Any]) -> dict[str, Any]:
    if importlib.util.find_spec("PySide6") is None:
        return {"ok": True, "skipped": "PySide6 is not installed"}
    # Headless wherever it runs: a self-test never opens a window on the person's screen.
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    qtcore = importlib.import_module("PySide6.QtCore")
    qtwidgets = importlib.import_module("PySide6.QtWidgets")
    app = qtwidgets.QApplication.instance() or qtwidgets.QApplication([APP_ID])
    made.append(app)
    return {"ok": True, "pyside6": qtcore.__version__, "platform": app.platformName()}


class _Unsatisfied(Exception):
    """A constructor argument the self-test cannot provide."""


def _tray(app: Any, svc: Any = None, profile_dir: Path | None = None) -> dict[str, Any]:
    """Create the tray if the UI package has one (the UI is optional for this check).

    The tray's constructor arguments are found by name: the app service (made from the live
    SyncService of the demo sync), the Qt signal bridge; anything else with no default means
    "skipped", not failed. A tray that raises while being created fails the self-test.
    """
    try:
        if importlib.util.find_spec("app.ui") is None:
            return {"skipped": "no app.ui package"}
    except (ImportError, ValueError):
        return {"skipped": "no app.ui package"}
    for name in TRAY_MODULES:
        try:
            if importlib.util.find_spec(name) is None:
                continue
        except (ImportError, ValueError):
            continue
        module = importlib.import_module(name)  # a broken UI module is an error, not a skip
        cls = _tray_class(module)
        if cls is None:
            continue
        label = f"{module.__name__}.{cls.__name__}"
        try:
            kwargs = _arguments(cls, _providers(svc, profile_dir))
        except _Unsatisfied as missing:
            return {"skipped": f"{label} needs {missing}", "class": label}
        tray = cls(**kwargs)
        app.processEvents()
        for closer in ("shutdown", "close", "hide"):
            if callable(getattr(tray, closer, None)):
                getattr(tray, closer)()
                break
        if callable(getattr(tray, "deleteLater", None)):
            tray.deleteLater()
        app.processEvents()
        return {"created": True, "class": label, "with": sorted(kwargs)}
    return {"skipped": "app.ui has no tray class yet"}


def _required(fn: Any) -> list[str]:
    return [
        p.name
        for p in inspect.signature(fn).parameters.values()
        if p.default is p.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]


def _arguments(fn: Any, providers: dict[str, Any]) -> dict[str, Any]:
    kwargs = {}
    for name in _required(fn):
        if name not in providers:
            raise _Unsatisfied(name)
        kwargs[name] = providers[name]()
    return kwargs


def _providers(svc: Any, profile_dir: Path | None) -> dict[str, Any]:
    def app_service() -> Any:
        if svc is None or profile_dir is None:
            raise _Unsatisfied("the app service (no sync ran)")
        try:
            cls = importlib.import_module("app.services.app_service").AppService
        except (ImportError, AttributeError):
            raise _Unsatisfied("an app service (app.services.app_service.AppService)") from None
        given = {"sync": lambda: svc, "settings_path": lambda: profile_dir / "settings.json"}
        kwargs = _arguments(cls, given)
        if "demo" in inspect.signature(cls).parameters:
            kwargs["demo"] = True
        return cls(**kwargs)

    def bridge() -> Any:
        try:
            cls = importlib.import_module("app.ui.bridge").Bridge
        except (ImportError, AttributeError):
            raise _Unsatisfied("a bridge (app.ui.bridge.Bridge)") from None
        return cls(**_arguments(cls, {}))

    return {
        "svc": app_service,
        "service": app_service,
        "app_service": app_service,
        "bridge": bridge,
    }


def _tray_class(module: Any) -> type | None:
    for attr in sorted(vars(module)):
        obj = getattr(module, attr)
        if (
            isinstance(obj, type)
            and "Tray" in attr
            and obj.__module__.startswith("app.ui")
            and not attr.startswith("_")
        ):
            return obj
    return None


if __name__ == "__main__":
    sys.exit(main())
