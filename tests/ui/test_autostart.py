"""Start at login on each OS, against fake locations (never the machine's real ones)."""

from __future__ import annotations

import plistlib
from pathlib import Path
from typing import Any

from app.services.autostart import (
    LaunchAgent,
    WindowsRunKey,
    XdgAutostart,
    default_command,
    for_os,
)

CMD = ["/opt/Meridian Sync/meridian", "--profile-dir", "/home/a/$HOME"]


def test_xdg_desktop_entry(tmp_path: Path) -> None:
    a = XdgAutostart(tmp_path)
    assert not a.enabled()
    a.enable(CMD)
    assert a.enabled()
    text = (tmp_path / "autostart" / "meridian.desktop").read_text()
    assert "Type=Application" in text
    assert 'Exec="/opt/Meridian Sync/meridian" --profile-dir "/home/a/\\$HOME"' in text
    a.disable()
    assert not a.enabled()
    a.disable()  # twice is fine


def test_xdg_entry_hidden_by_the_desktop_counts_as_off(tmp_path: Path) -> None:
    a = XdgAutostart(tmp_path)
    a.enable(CMD)
    a.path.write_text(a.path.read_text() + "Hidden=true\n")
    assert not a.enabled()


def test_macos_launch_agent(tmp_path: Path) -> None:
    a = LaunchAgent(tmp_path)
    assert not a.enabled()
    a.enable(CMD)
    data = plistlib.loads(a.path.read_bytes())
    assert data["ProgramArguments"] == CMD
    assert data["RunAtLoad"] is True and data["KeepAlive"] is False
    assert data["Label"] == "com.meridian.app"
    assert a.enabled()
    a.disable()
    assert not a.enabled()


class FakeKey:
    def __init__(self, reg: FakeWinreg, path: str) -> None:
        self.reg, self.path = reg, path

    def __enter__(self) -> FakeKey:
        return self

    def __exit__(self, *exc: Any) -> None:
        pass


class FakeWinreg:
    HKEY_CURRENT_USER = "HKCU"
    KEY_READ = 1
    KEY_SET_VALUE = 2
    REG_SZ = 1

    def __init__(self) -> None:
        self.keys: dict[str, dict[str, Any]] = {}

    def OpenKey(self, root: str, path: str, reserved: int, access: int) -> FakeKey:
        if f"{root}\\{path}" not in self.keys:
            raise FileNotFoundError(path)
        return FakeKey(self, f"{root}\\{path}")

    def CreateKeyEx(self, root: str, path: str, reserved: int, access: int) -> FakeKey:
        self.keys.setdefault(f"{root}\\{path}", {})
        return FakeKey(self, f"{root}\\{path}")

    def QueryValueEx(self, key: FakeKey, name: str) -> tuple[Any, int]:
        values = self.keys[key.path]
        if name not in values:
            raise FileNotFoundError(name)
        return values[name], self.REG_SZ

    def SetValueEx(self, key: FakeKey, name: str, reserved: int, kind: int, value: str) -> None:
        self.keys[key.path][name] = value

    def DeleteValue(self, key: FakeKey, name: str) -> None:
        if name not in self.keys[key.path]:
            raise FileNotFoundError(name)
        del self.keys[key.path][name]


def test_windows_run_key() -> None:
    reg = FakeWinreg()
    a = WindowsRunKey(reg)
    assert not a.enabled()
    a.enable(["C:\\Program Files\\Meridian\\meridian.exe"])
    run = reg.keys["HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run"]
    assert run == {"Meridian": '"C:\\Program Files\\Meridian\\meridian.exe"'}
    assert a.enabled()
    a.disable()
    assert not a.enabled()
    a.disable()


def test_backend_per_os(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    assert isinstance(for_os("win32"), WindowsRunKey)
    mac = for_os("darwin", tmp_path)
    assert isinstance(mac, LaunchAgent)
    assert mac.path == tmp_path / "Library/LaunchAgents/com.meridian.app.plist"
    linux = for_os("linux", tmp_path)
    assert isinstance(linux, XdgAutostart)
    assert linux.path == tmp_path / ".config/autostart/meridian.desktop"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert for_os("linux", tmp_path).path == tmp_path / "xdg/autostart/meridian.desktop"  # type: ignore[attr-defined]
    assert default_command()[-2:] == ["-m", "app"]
