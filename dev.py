#!/usr/bin/env python3
"""One entry point for newcomers and CI; needs nothing but Python 3.11+.

    python3 dev.py run     set up .venv and launch Meridian against the local sandbox
    python3 dev.py test    set up .venv, then lint, type-check and run the whole test suite
    python3 dev.py bench   set up .venv and run the benchmarks
    python3 dev.py build   set up .venv and build the desktop bundle with PyInstaller (build.spec);
                           on Linux also self-test it and make the .deb (installer/README.md)

Set-up is skipped when .venv already matches pyproject.toml.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".meridian-setup"


def _run(*cmd: str | Path, env: dict[str, str] | None = None) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    rc = subprocess.call([str(c) for c in cmd], cwd=ROOT, env=env)
    if rc != 0:
        sys.exit(rc)


def setup() -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - dev.py may be run by an older python3
        sys.exit(f"Meridian needs Python 3.11 or newer; this is {sys.version.split()[0]}.")
    want = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == want and PY.exists():
        return
    if not PY.exists():
        print(f"+ creating {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    _run(PY, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    _run(PY, "-m", "pip", "install", "--quiet", "-e", ".[test,build]")
    STAMP.write_text(want)


def test(extra: list[str]) -> None:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    _run(PY, "-m", "ruff", "check", "app", "tests", "bench", "dev.py")
    _run(PY, "-m", "ruff", "format", "--check", "app", "tests", "bench", "dev.py")
    _run(PY, "-m", "mypy", "app/core")
    _run(PY, "-m", "pytest", *extra, env=env)


def build(extra: list[str]) -> None:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    _run(PY, "-m", "PyInstaller", "--noconfirm", "--clean", "build.spec", *extra, env=env)
    if sys.platform.startswith("linux"):
        # Self-tests the bundle, checks its size, packages it: dist/meridian_<version>_<arch>.deb
        _run("bash", "installer/linux/build_deb.sh", "dist/meridian", env=env)
    else:
        print("Bundle in dist/. The installer: installer/README.md (Windows: build.ps1, macOS:")
        print("build_pkg.sh, both in installer/<os>/, run the whole build on that OS).")


def main() -> None:
    cmd, extra = (sys.argv[1], sys.argv[2:]) if len(sys.argv) > 1 else ("help", [])
    if cmd == "run":
        setup()
        _run(PY, "-m", "app", "--sandbox", *extra)
    elif cmd == "test":
        setup()
        test(extra)
    elif cmd == "bench":
        setup()
        _run(PY, "-m", "bench", *extra)
    elif cmd == "build":
        setup()
        build(extra)
    else:
        print(__doc__)
        sys.exit(0 if cmd in ("help", "-h", "--help") else 2)


if __name__ == "__main__":
    main()
