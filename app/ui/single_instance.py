"""One Meridian per user (and profile): a second launch asks the first to come to the front.

The first launch listens on a local endpoint named after the user and profile (a Unix socket in
a folder only the user can open, or a named pipe on Windows); a launch that can connect to it
is the second one: it says "show" and exits. The standard library's multiprocessing.connection
does this, so the bundle needs no QtNetwork (3.3 MB). A socket left behind by a crash refuses
connections, so it is removed and claimed again.
"""

from __future__ import annotations

import contextlib
import getpass
import hashlib
import os
import sys
import tempfile
import threading
from multiprocessing.connection import Client, Connection, Listener
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from app import APP_ID


def instance_name(profile_root: Path | str, user: str | None = None) -> str:
    user = user or getpass.getuser()
    digest = hashlib.sha256(f"{user}\0{Path(profile_root)}".encode()).hexdigest()[:16]
    return f"{APP_ID}-{digest}"


def _address(name: str) -> tuple[str, str]:
    if sys.platform == "win32":
        return rf"\\.\pipe\{name}", "AF_PIPE"
    folder = Path(tempfile.gettempdir()) / f"{APP_ID}-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    os.chmod(folder, 0o700)  # only this user may even reach the socket
    return str(folder / f"{name}.sock"), "AF_UNIX"


class SingleInstance(QObject):
    activated = Signal()  # another launch asked us to show ourselves (emitted from a thread)

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        # Not a secret: it keeps strangers' stray connections from counting as a launch.
        self._key = hashlib.sha256(name.encode()).digest()
        self._listener: Listener | None = None

    def claim(self) -> bool:
        """True: we are the first (now listening). False: the first one was told to show."""
        address, family = _address(self.name)
        try:
            conn: Connection = Client(address, family=family, authkey=self._key)
        except (OSError, EOFError):
            pass  # nobody listening (or a stale socket from a crash)
        else:
            with conn:
                conn.send("show")
            return False
        if family == "AF_UNIX":
            with contextlib.suppress(FileNotFoundError):
                os.unlink(address)
        try:
            self._listener = Listener(address, family=family, authkey=self._key)
        except OSError:
            return True  # cannot listen: run anyway rather than not at all
        threading.Thread(target=self._serve, name="single-instance", daemon=True).start()
        return True

    def _serve(self) -> None:
        listener = self._listener
        while listener is not None and self._listener is listener:
            try:
                conn = listener.accept()
            except (OSError, EOFError):
                if self._listener is not listener:
                    return  # released
                continue  # a failed handshake from a stranger: keep listening
            with conn:
                try:
                    if conn.poll(1) and conn.recv() == "show":
                        self.activated.emit()
                except (OSError, EOFError):
                    continue

    def release(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.close()
