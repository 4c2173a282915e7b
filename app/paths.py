"""Where Meridian keeps things: one profile folder (``--profile-dir`` or the OS default).

Settings and state live in the profile; secrets never do (they go to the OS keyring, or to files
encrypted with a key that lives in the keyring, see auth/vault.py).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from app import APP_ID, APP_NAME

ENV_PROFILE = "MERIDIAN_PROFILE_DIR"


@dataclass(frozen=True)
class Profile:
    root: Path

    @property
    def database(self) -> Path:
        return self.root / "state.db"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def secrets(self) -> Path:
        """Encrypted token caches (the key is in the keyring)."""
        return self.root / "secrets"

    @property
    def settings(self) -> Path:
        return self.root / "settings.json"

    def ensure(self) -> Profile:
        for folder in (self.root, self.logs, self.secrets):
            folder.mkdir(parents=True, exist_ok=True)
        if os.name == "posix":
            # Only the person may read their profile (it names calendars and accounts).
            os.chmod(self.root, 0o700)
            os.chmod(self.secrets, 0o700)
        return self


def default_profile_root() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False, roaming=True))


def profile(explicit: Path | str | None = None) -> Profile:
    """The profile: ``--profile-dir``, else $MERIDIAN_PROFILE_DIR, else the OS location."""
    chosen = explicit or os.environ.get(ENV_PROFILE)
    return Profile(Path(chosen).expanduser().resolve() if chosen else default_profile_root())


def resource(*parts: str) -> Path:
    """A file shipped with the app, inside a PyInstaller bundle or a source checkout."""
    base = Path(getattr(sys, "_MEIPASS", Path(__file__).resolve().parent.parent))
    return base.joinpath("resources", *parts)


__all__ = ["APP_ID", "Profile", "default_profile_root", "profile", "resource"]
