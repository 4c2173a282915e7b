"""The rules of the house in ARCHITECTURE.md, checked on every run."""

from __future__ import annotations

import ast
from pathlib import Path

APP = Path(__file__).resolve().parents[1] / "app"

# What each package may import from the project. Imports point inward:
# ui -> services -> sync -> {core, providers, auth, store, policy}; core imports only itself.
# (ARCHITECTURE.md had the engine inside core; it orchestrates I/O, so it lives in app/sync and
# core stays pure: model, rules, planner.)
ALLOWED: dict[str, set[str]] = {
    "core": {"core"},
    "sandbox": {"sandbox", "core"},
    "providers": {"providers", "core", "errors"},
    "auth": {"auth", "core", "errors", "paths"},
    "store": {"store", "core", "errors", "paths"},
    "policy": {"policy", "core", "errors", "paths"},
    "sync": {"sync", "core", "providers", "store", "errors"},
    "services": {
        "services",
        "sync",
        "core",
        "providers",
        "auth",
        "store",
        "policy",
        "errors",
        "paths",
    },
    "ui": {"ui", "services", "core", "errors", "paths"},
}
# The composition root may wire anything together (it launches the GUI and the sandbox).
ROOT_MODULES = {"__main__", "cli", "commands", "selftest"}


def _modules() -> list[tuple[Path, str, list[str]]]:
    out = []
    for path in sorted(APP.rglob("*.py")):
        rel = path.relative_to(APP)
        package = rel.parts[0].removesuffix(".py")
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names: list[str] = []
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names += [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.append(node.module)
        out.append((rel, package, names))
    return out


def test_imports_point_inward() -> None:
    bad = []
    for rel, package, names in _modules():
        if package in ROOT_MODULES or package not in ALLOWED:
            continue
        for name in names:
            if name == "app" or not name.startswith("app."):
                continue
            target = name.split(".")[1]
            if target not in ALLOWED[package] and target != "__init__":
                bad.append(f"{rel} imports {name}")
    assert bad == []


def test_only_ui_imports_qt() -> None:
    bad = [
        f"{rel} imports {name}"
        for rel, package, names in _modules()
        for name in names
        if name.split(".")[0] in ("PySide6", "shiboken6") and package != "ui"
    ]
    assert bad == []


def test_nothing_but_the_root_imports_ui() -> None:
    bad = [
        f"{rel} imports {name}"
        for rel, package, names in _modules()
        for name in names
        if name.startswith("app.ui") and package not in ROOT_MODULES | {"ui"}
    ]
    assert bad == []


LOOPBACK = {"127.0.0.1", "localhost", "::1"}
WILDCARDS = {"0.0.0.0", "::", ""}


def test_listeners_bind_loopback_only() -> None:
    """No server socket in the app binds to anything but loopback, nor names a wildcard address."""
    bad = []
    for path in APP.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and node.value in ("0.0.0.0", "::"):
                bad.append(f"{path.relative_to(APP)}:{node.lineno} names {node.value!r}")
            if not isinstance(node, ast.Call) or not node.args:
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if not (name.endswith("Server") or name in ("bind", "create_server")):
                continue
            addr = node.args[0]
            if isinstance(addr, ast.Tuple) and addr.elts and isinstance(addr.elts[0], ast.Constant):
                host = addr.elts[0].value
                if host in WILDCARDS or host not in LOOPBACK:
                    bad.append(f"{path.relative_to(APP)}:{node.lineno} binds {host!r}")
    assert bad == []
