"""Start at login: the Windows Run key, a macOS LaunchAgent, an XDG autostart entry.

Each backend takes its location as an argument so tests never touch the real ones; ``for_os``
picks the backend and the default location for this machine. The command is what the desktop
runs at login (the installed ``meridian`` executable, or ``python -m app`` from a checkout).
"""

from __future__ import annotations

import os
import plistlib
import sys
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

from app import APP_ID, APP_NAME

RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"
LAUNCH_AGENT_LABEL = f"com.{APP_ID}.app"


class Autostart(Protocol):
    def enabled(self) -> bool: ...
    def enable(self, command: list[str]) -> None: ...
    def disable(self) -> None: ...


def default_command() -> list[str]:
    """What to run at login: the frozen executable, else this interpreter with ``-m app``."""
    if getattr(sys, "frozen", False):
        return [sys.executable]
    return [sys.executable, "-m", "app"]


class XdgAutostart:
    """``$XDG_CONFIG_HOME/autostart/meridian.desktop`` (the freedesktop autostart spec)."""

    def __init__(self, config_home: Path) -> None:
        self.path = config_home / "autostart" / f"{APP_ID}.desktop"

    def enabled(self) -> bool:
        if not self.path.is_file():
            return False
        # A desktop may switch an entry off without deleting it.
        return "Hidden=true" not in self.path.read_text(encoding="utf-8").splitlines()

    def enable(self, command: list[str]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        exec_line = " ".join(_desktop_quote(part) for part in command)
        self.path.write_text(
            "[Desktop Entry]\n"
            "Type=Application\n"
            f"Name={APP_NAME}\n"
            "Comment=Keeps your Outlook and Google calendars in sync\n"
            f"Exec={exec_line}\n"
            f"Icon={APP_ID}\n"
            "Terminal=false\n"
            "X-GNOME-Autostart-enabled=true\n",
            encoding="utf-8",
        )

    def disable(self) -> None:
        self.path.unlink(missing_ok=True)


def _desktop_quote(arg: str) -> str:
    # The Exec key's quoting rules: double quotes, with " ` $ \ escaped inside them.
    if arg and all(c.isalnum() or c in "-_./=:@" for c in arg):
        return arg
    escaped = "".join("\\" + c if c in '"`$\\' else c for c in arg)
    return f'"{escaped}"'


class LaunchAgent:
    """``~/Library/LaunchAgents/com.meridian.app.plist``, loaded by launchd at the next login."""

    def __init__(self, agents_dir: Path) -> None:
        self.path = agents_dir / f"{LAUNCH_AGENT_LABEL}.plist"

    def enabled(self) -> bool:
        if not self.path.is_file():
            return False
        with self.path.open("rb") as f:
            data = plistlib.load(f)
        return bool(data.get("RunAtLoad")) and not data.get("Disabled", False)

    def enable(self, command: list[str]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {
            "Label": LAUNCH_AGENT_LABEL,
            "ProgramArguments": command,
            "RunAtLoad": True,
            # Quitting from the tray means quit: launchd must not start it again.
            "KeepAlive": False,
            "ProcessType": "Interactive",
        }
        with self.path.open("wb") as f:
            plistlib.dump(data, f)

    def disable(self) -> None:
        self.path.unlink(missing_ok=True)


class WindowsRunKey:
    """``HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run``, value ``Meridian``."""

    def __init__(self, winreg: ModuleType | Any | None = None, key: str = RUN_KEY) -> None:
        self._winreg = winreg
        self.key = key

    @property
    def winreg(self) -> Any:
        if self._winreg is None:  # only on Windows: imported when first used
            import winreg

            self._winreg = winreg
        return self._winreg

    def enabled(self) -> bool:
        reg = self.winreg
        try:
            with reg.OpenKey(reg.HKEY_CURRENT_USER, self.key, 0, reg.KEY_READ) as k:
                reg.QueryValueEx(k, APP_NAME)
        except OSError:  # FileNotFoundError: no such key or value
            return False
        return True

    def enable(self, command: list[str]) -> None:
        reg = self.winreg
        with reg.CreateKeyEx(reg.HKEY_CURRENT_USER, self.key, 0, reg.KEY_SET_VALUE) as k:
            reg.SetValueEx(k, APP_NAME, 0, reg.REG_SZ, _windows_command_line(command))

    def disable(self) -> None:
        reg = self.winreg
        try:
            with reg.OpenKey(reg.HKEY_CURRENT_USER, self.key, 0, reg.KEY_SET_VALUE) as k:
                reg.DeleteValue(k, APP_NAME)
        except OSError:
            pass  # already gone


def _windows_command_line(command: list[str]) -> str:
    import subprocess

    return subprocess.list2cmdline(command)


def for_os(platform: str | None = None, home: Path | None = None) -> Autostart:
    """The backend for this OS, at its real location."""
    platform = platform or sys.platform
    home = home or Path.home()
    if platform.startswith("win"):
        return WindowsRunKey()
    if platform == "darwin":
        return LaunchAgent(home / "Library" / "LaunchAgents")
    config = os.environ.get("XDG_CONFIG_HOME")
    return XdgAutostart(Path(config) if config else home / ".config")


__all__ = [
    "Autostart",
    "LaunchAgent",
    "WindowsRunKey",
    "XdgAutostart",
    "default_command",
    "for_os",
]
