"""Packaging: ``meridian --selftest``, the installer files, and the Linux bundle built and run.

    .venv/bin/pytest tests/test_packaging.py               # fast checks (part of `dev.py test`)
    .venv/bin/pytest -m packaging tests/test_packaging.py  # build the bundle and the .deb, run them

The ``packaging`` tests build with PyInstaller into a temporary folder (about 30 s), then run the
frozen program and package it (about 10 s with gzip); they write what they measured to
test-artifacts/packaging.json. The Windows and macOS installers cannot be built here: their
files are checked for consistency with build.spec and app/ only.
"""

from __future__ import annotations

import ast
import configparser
import importlib.machinery
import json
import os
import plistlib
import re
import shutil
import subprocess
import sys
import time
import types
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app import APP_ID, APP_NAME, __version__
from app.policy.sources import MACOS_BUNDLE_ID

ROOT = Path(__file__).resolve().parents[1]
INSTALLER = ROOT / "installer"
LINUX = INSTALLER / "linux"
MACOS = INSTALLER / "macos"
WINDOWS = INSTALLER / "windows"
POLICY = INSTALLER / "policy"
DESKTOP_ID = MACOS_BUNDLE_ID  # one reverse-DNS id: macOS bundle, MDM payload, desktop file
MAX_BUNDLE_BYTES = 120 * 1024 * 1024
ARTIFACTS = ROOT / "test-artifacts"


def _selftest_report(stdout: str) -> dict[str, Any]:
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    assert lines, f"no JSON line in: {stdout!r}"
    report: dict[str, Any] = json.loads(lines[-1])
    return report


def _assert_sound(report: dict[str, Any]) -> None:
    assert report["ok"] is True, report
    sync = report["checks"]["sync"]
    assert sync["created"] > 0 and sync["errors"] == 0 and sync["linked"] >= 1, sync
    assert sync["mails"] == 0, sync
    assert report["checks"]["keyring"]["ok"], report["checks"]["keyring"]
    assert report["checks"]["qt"]["ok"], report["checks"]["qt"]


# --- the self-test, from the source tree ----------------------------------------------------------


def test_selftest_from_the_source_tree(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}  # it sets offscreen
    env["HOME"] = str(tmp_path)  # nothing of the person's is read or written
    r = subprocess.run(
        [sys.executable, "-m", "app", "--selftest"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env=env,
        check=False,
    )
    assert r.returncode == 0, f"stdout: {r.stdout}\nstderr: {r.stderr}"
    report = _selftest_report(r.stdout)
    _assert_sound(report)
    assert report["version"] == __version__
    assert report["frozen"] is False
    assert report["checks"]["qt"]["platform"] == "offscreen"
    assert list(tmp_path.iterdir()) == [], "the self-test left files in the home folder"


def test_selftest_fails_loudly(monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    from app import selftest

    def broken(_profile: Path, _with_services: Any) -> dict[str, Any]:
        raise RuntimeError("the sandbox did not start")

    monkeypatch.setattr(selftest, "_sync", broken)
    monkeypatch.setattr(selftest, "_qt", lambda made: {"ok": True, "skipped": "test"})
    assert selftest.main() == 1
    report = _selftest_report(capsys.readouterr().out)
    assert report["ok"] is False
    assert report["checks"]["sync"] == {
        "ok": False,
        "error": "RuntimeError: the sandbox did not start",
        "where": report["checks"]["sync"]["where"],
    }


def _fake_tray_module(monkeypatch: pytest.MonkeyPatch, cls: type) -> None:
    module = types.ModuleType("app.ui.tray")
    module.__spec__ = importlib.machinery.ModuleSpec("app.ui.tray", None)
    cls.__module__ = "app.ui.tray"
    setattr(module, cls.__name__, cls)
    monkeypatch.setitem(sys.modules, "app.ui.tray", module)


def test_selftest_creates_the_tray_when_the_ui_has_one(
    monkeypatch: pytest.MonkeyPatch, qapp: Any
) -> None:
    from app import selftest

    made: list[str] = []

    class FakeTray:
        def __init__(self, service: object = None) -> None:
            made.append("created")

        def hide(self) -> None:
            made.append("hidden")

    _fake_tray_module(monkeypatch, FakeTray)
    assert selftest._tray(qapp) == {"created": True, "class": "app.ui.tray.FakeTray", "with": []}
    assert made == ["created", "hidden"]

    class ExoticTray:
        def __init__(self, frobnicator: object) -> None:
            raise AssertionError("never called without its arguments")

    _fake_tray_module(monkeypatch, ExoticTray)
    assert selftest._tray(qapp) == {
        "skipped": "app.ui.tray.ExoticTray needs frobnicator",
        "class": "app.ui.tray.ExoticTray",
    }

    class BrokenTray:
        def __init__(self) -> None:
            raise RuntimeError("no icon")

    _fake_tray_module(monkeypatch, BrokenTray)
    with pytest.raises(RuntimeError):  # main() reports it as a failed check
        selftest._tray(qapp)


# --- names and versions agree everywhere --------------------------------------------------------


def test_spec_takes_names_from_the_app() -> None:
    source = (ROOT / "build.spec").read_text(encoding="utf-8")
    ast.parse(source)  # plain Python
    assert "app.APP_NAME" in source and "app.APP_ID" in source and "app.__version__" in source
    assert "MACOS_BUNDLE_ID" in source and '"LSUIElement": True' in source
    assert 'return parts[-1] == "calendar.v3.json"' in source


def test_windows_version_resource(monkeypatch: pytest.MonkeyPatch) -> None:
    # PyInstaller's versioninfo imports pefile and win32api (Windows only) for reading and writing
    # executables; building and serialising the resource, checked here, uses neither.
    compat = pytest.importorskip("PyInstaller.compat")
    if "pefile" not in sys.modules:
        monkeypatch.setitem(sys.modules, "pefile", types.ModuleType("pefile"))
    if not hasattr(compat, "win32api"):
        monkeypatch.setattr(compat, "win32api", None, raising=False)
    sys.path.insert(0, str(WINDOWS))
    try:
        from version_info import numeric, version_info  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(WINDOWS))
    assert numeric("1.2.3") == (1, 2, 3, 0)
    assert numeric("2.0rc1") == (2, 0, 0, 0)
    assert numeric("1.2.3.4.5") == (1, 2, 3, 4)
    info = version_info(APP_NAME, APP_ID, __version__)
    text = str(info)
    assert f"StringStruct('ProductVersion', '{__version__}')" in text
    assert f"StringStruct('OriginalFilename', '{APP_NAME}.exe')" in text
    assert len(info.toRaw()) > 500  # what PyInstaller writes into the .exe


def test_inno_setup_script() -> None:
    iss = (WINDOWS / "meridian.iss").read_text(encoding="utf-8")
    assert f'#define AppName "{APP_NAME}"' in iss
    assert f'#define AppExe "{APP_NAME}.exe"' in iss  # build.spec: the windowed EXE
    assert f'#define CliExe "{APP_ID}-cli.exe"' in iss  # build.spec: the console twin
    assert "PrivilegesRequired=admin" in iss
    assert "ArchitecturesInstallIn64BitMode=x64compatible" in iss
    assert re.search(
        r"^Root: HKLM; Subkey: \"Software\\Microsoft\\Windows\\CurrentVersion\\Run\"", iss, re.M
    )
    assert "HasSwitch('/REMOVEDATA')" in iss and "UninstallSilent()" in iss
    # The data is deleted only when asked: the default button of the question is No.
    assert "MB_YESNO or MB_DEFBUTTON2" in iss
    for rel in ("meridian.admx", "en-US/meridian.adml"):
        assert rel.replace("/", "\\") in iss
        assert (POLICY / rel).is_file(), f"installer/policy/{rel} is missing"
    build = (WINDOWS / "build.ps1").read_text(encoding="utf-8")
    assert "--selftest" in build and "meridian.iss" in build


def test_macos_launch_agent_and_scripts() -> None:
    agent = plistlib.loads((MACOS / f"{MACOS_BUNDLE_ID}.plist").read_bytes())
    assert agent["Label"] == MACOS_BUNDLE_ID
    assert agent["ProgramArguments"] == [f"/Applications/{APP_NAME}.app/Contents/MacOS/{APP_ID}"]
    assert agent["RunAtLoad"] is True and agent["KeepAlive"] is False
    assert agent["AssociatedBundleIdentifiers"] == [MACOS_BUNDLE_ID]
    entitlements = plistlib.loads((MACOS / "entitlements.plist").read_bytes())
    assert "com.apple.security.app-sandbox" not in entitlements
    for script in ("scripts/preinstall", "scripts/postinstall", "uninstall.sh"):
        path = MACOS / script
        assert os.access(path, os.X_OK), f"{script} is not executable"
        subprocess.run(["sh", "-n", str(path)], check=True)
        assert f"LABEL={MACOS_BUNDLE_ID}" in path.read_text()
    subprocess.run(["bash", "-n", str(MACOS / "build_pkg.sh")], check=True)
    build = (MACOS / "build_pkg.sh").read_text()
    assert '--identifier "$LABEL.pkg"' in build and "BundleIsRelocatable false" in build
    assert (POLICY / "meridian.mobileconfig").is_file()


def test_linux_desktop_entries() -> None:
    for name in (f"{DESKTOP_ID}.desktop", f"{DESKTOP_ID}.autostart.desktop"):
        entry = configparser.ConfigParser(interpolation=None)
        entry.optionxform = str  # type: ignore[assignment,method-assign]
        entry.read(LINUX / name, encoding="utf-8")
        d = entry["Desktop Entry"]
        assert d["Type"] == "Application" and d["Name"] == APP_NAME
        assert d["Exec"] == APP_ID and d["Icon"] == DESKTOP_ID
        if shutil.which("desktop-file-validate"):
            r = subprocess.run(
                ["desktop-file-validate", str(LINUX / name)], capture_output=True, text=True
            )
            assert r.returncode == 0 and not r.stdout.strip(), r.stdout


def test_linux_appstream_metainfo(tmp_path: Path) -> None:
    source = (LINUX / f"{DESKTOP_ID}.metainfo.xml").read_text(encoding="utf-8")
    filled = source.replace("@VERSION@", __version__).replace("@DATE@", "2026-01-01")
    root = ET.fromstring(filled)  # noqa: S314 - our own file
    assert root.findtext("id") == DESKTOP_ID
    assert root.findtext("launchable") == f"{DESKTOP_ID}.desktop"
    assert root.find("provides/binary") is not None
    if shutil.which("appstreamcli"):
        path = tmp_path / f"{DESKTOP_ID}.metainfo.xml"
        path.write_text(filled, encoding="utf-8")
        r = subprocess.run(
            ["appstreamcli", "validate", "--no-net", str(path)], capture_output=True, text=True
        )
        assert r.returncode == 0, r.stdout + r.stderr


def test_linux_build_script_parses() -> None:
    script = LINUX / "build_deb.sh"
    assert os.access(script, os.X_OK)
    subprocess.run(["bash", "-n", str(script)], check=True)
    assert _depends(), "installer/linux/depends.txt is empty"


def _depends() -> list[list[str]]:
    """depends.txt as a list of alternatives: [["libssl3t64", "libssl3"], ["libx11-6"], ...]."""
    out = []
    for line in (LINUX / "depends.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            out.append([re.sub(r"\s*\(.*\)", "", p).strip() for p in line.split("|")])
    return out


# --- the Linux bundle, built and run (opt-in: -m packaging) -------------------------------------

packaging = pytest.mark.packaging
needs_linux = pytest.mark.skipif(
    not sys.platform.startswith("linux") or shutil.which("dpkg-deb") is None,
    reason="builds the Linux bundle and .deb (Debian or Ubuntu)",
)


@pytest.fixture(scope="module")
def measured() -> Iterator[dict[str, Any]]:
    facts: dict[str, Any] = {}
    yield facts
    if facts:
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / "packaging.json").write_text(json.dumps(facts, indent=2) + "\n")


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory, measured: dict[str, Any]) -> Path:
    pytest.importorskip("PyInstaller")
    work = tmp_path_factory.mktemp("pyinstaller")
    started = time.monotonic()
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "PyInstaller",
            "--noconfirm",
            "--clean",
            "--distpath",
            str(work / "dist"),
            "--workpath",
            str(work / "build"),
            str(ROOT / "build.spec"),
        ],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=ROOT,
        check=False,
    )
    assert r.returncode == 0, r.stderr[-5000:]
    measured["pyinstaller_seconds"] = round(time.monotonic() - started, 1)
    return work / "dist" / APP_ID


def _run(exe: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(exe), *args], capture_output=True, text=True, timeout=timeout, check=False
    )


@packaging
@needs_linux
def test_bundle_prints_its_version(bundle: Path) -> None:
    r = _run(bundle / APP_ID, "--version")
    assert r.returncode == 0 and r.stdout.startswith(f"{APP_ID} {__version__} "), r


@packaging
@needs_linux
def test_bundle_passes_its_selftest(bundle: Path, measured: dict[str, Any]) -> None:
    r = _run(bundle / APP_ID, "--selftest")
    assert r.returncode == 0, f"stdout: {r.stdout}\nstderr: {r.stderr}"
    report = _selftest_report(r.stdout)
    _assert_sound(report)
    assert report["frozen"] is True
    assert "SecretService" in report["checks"]["keyring"]["modules"]
    measured["selftest"] = report


@packaging
@needs_linux
def test_bundle_is_slim(bundle: Path, measured: dict[str, Any]) -> None:
    files = [p for p in bundle.rglob("*") if p.is_file() and not p.is_symlink()]
    size = sum(p.stat().st_size for p in files)
    measured["bundle_bytes"] = size
    measured["bundle_files"] = len(files)
    assert size < MAX_BUNDLE_BYTES, f"{size / 2**20:.1f} MiB"
    names = [str(p.relative_to(bundle)) for p in files]
    unwanted = [n for n in names if re.search(r"Qt6?(Qml|Quick|Pdf|VirtualKeyboard)|/qml/", n)]
    assert unwanted == []
    discovery = [n for n in names if "discovery_cache/documents/" in n]
    assert [Path(n).name for n in discovery] == ["calendar.v3.json"]
    assert not [n for n in names if re.search(r"libgtk|libcairo|libpango", n)]
    # resources/ travels when the UI has created it (app.paths.resource finds it there).
    if (ROOT / "resources").is_dir():
        assert (bundle / "_internal" / "resources").is_dir()


def _needed(path: Path) -> list[str]:
    r = subprocess.run(["readelf", "-d", str(path)], capture_output=True, text=True, check=False)
    return re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]", r.stdout)


def _packages_of(sonames: set[str]) -> dict[str, str]:
    """The Debian package of each library: what dpkg says where it is installed, else the name
    Debian gives it (libxcb-icccm.so.4 -> libxcb-icccm4; libfoo2.so.1 -> libfoo2-1)."""
    r = subprocess.run(
        ["dpkg", "-S", *(f"*/{s}" for s in sorted(sonames))],
        capture_output=True,
        text=True,
        check=False,
    )
    found = {}
    for line in r.stdout.splitlines():
        package, _, path = line.partition(": ")
        found.setdefault(Path(path.strip()).name, package.split(":")[0].split(",")[0].strip())
    out = {}
    for soname in sonames:
        if soname in found:
            out[soname] = found[soname]
            continue
        m = re.match(r"(lib.+?)\.so\.(\d+)", soname)
        assert m, soname
        base, major = m.group(1).lower(), m.group(2)
        out[soname] = f"{base}-{major}" if base[-1].isdigit() else f"{base}{major}"
    return out


@packaging
@needs_linux
def test_libraries_it_does_not_carry_are_in_the_deb_depends(bundle: Path) -> None:
    if shutil.which("readelf") is None:
        pytest.skip("needs readelf (binutils)")
    inside = {p.name for p in bundle.rglob("*")}
    outside: set[str] = set()
    for path in bundle.rglob("*"):
        if (
            path.is_file()
            and not path.is_symlink()
            and (".so" in path.name or path == bundle / APP_ID)
        ):
            outside.update(n for n in _needed(path) if n not in inside)
    allowed = {name for alternatives in _depends() for name in alternatives} | {"libc6"}
    missing = {
        soname: package
        for soname, package in _packages_of(outside).items()
        if package not in allowed and f"{package}t64" not in allowed
    }
    assert missing == {}, "add these to installer/linux/depends.txt (or bundle them)"


@packaging
@needs_linux
def test_deb_installs_a_working_copy(
    bundle: Path, tmp_path: Path, measured: dict[str, Any]
) -> None:
    out = tmp_path / "out"
    started = time.monotonic()
    r = subprocess.run(
        ["bash", str(LINUX / "build_deb.sh"), str(bundle), str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        env=dict(os.environ, MERIDIAN_DEB_COMPRESS="gzip"),
        check=False,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    measured["deb_seconds_gzip"] = round(time.monotonic() - started, 1)
    (deb,) = out.glob(f"{APP_ID}_*.deb")
    measured["deb_bytes_gzip"] = deb.stat().st_size
    info = subprocess.run(["dpkg-deb", "-f", str(deb)], capture_output=True, text=True).stdout
    assert f"Package: {APP_ID}\n" in info and f"Version: {__version__}\n" in info
    assert re.search(r"Depends: libc6 \(>= 2\.\d+\), ", info)
    listing = subprocess.run(["dpkg-deb", "-c", str(deb)], capture_output=True, text=True).stdout
    for path in (
        f"./opt/{APP_ID}/{APP_ID}",
        f"./usr/bin/{APP_ID} -> /opt/{APP_ID}/{APP_ID}",
        f"./usr/share/applications/{DESKTOP_ID}.desktop",
        f"./etc/xdg/autostart/{DESKTOP_ID}.desktop",
        f"./usr/share/metainfo/{DESKTOP_ID}.metainfo.xml",
        "./etc/meridian/policy.d/",
    ):
        assert path in listing, path
    conffiles = subprocess.run(
        ["dpkg-deb", "-I", str(deb), "conffiles"], capture_output=True, text=True
    ).stdout
    assert conffiles.strip() == f"/etc/xdg/autostart/{DESKTOP_ID}.desktop"
    # What dpkg would put on disk runs, from where it would be.
    unpacked = tmp_path / "unpacked"
    subprocess.run(["dpkg-deb", "-x", str(deb), str(unpacked)], check=True)
    r2 = _run(unpacked / "opt" / APP_ID / APP_ID, "--selftest")
    assert r2.returncode == 0, r2.stdout + r2.stderr
    _assert_sound(_selftest_report(r2.stdout))
