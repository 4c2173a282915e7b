"""One Meridian per user (and profile): a second launch asks the first to come to the front.

A QLocalServer named after the user and profile; a launch that can connect to it is the second
one: it writes "show" and exits. A server left behind by a crash cannot be connected to, so it
is removed and claimed again.
"""

from __future__ import annotations

import getpass
import hashlib
from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtNetwork import QLocalServer, QLocalSocket

from app import APP_ID

CONNECT_MS = 500


def instance_name(profile_root: Path | str, user: str | None = None) -> str:
    user = user or getpass.getuser()
    digest = hashlib.sha256(f"{user}\0{Path(profile_root)}".encode()).hexdigest()[:16]
    return f"{APP_ID}-{digest}"


class SingleInstance(QObject):
    activated = Signal()  # another launch asked us to show ourselves

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.server: QLocalServer | None = None

    def claim(self) -> bool:
        """True: we are the first (now listening). False: the first one was told to show."""
        sock = QLocalSocket()
        sock.connectToServer(self.name)
        if sock.waitForConnected(CONNECT_MS):
            sock.write(b"show\n")
            sock.flush()
            sock.waitForBytesWritten(CONNECT_MS)
            sock.disconnectFromServer()
            return False
        QLocalServer.removeServer(self.name)  # a stale socket after a crash
        server = QLocalServer(self)
        # Only this user may connect (the socket file is mode 0700 on Unix).
        server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        if not server.listen(self.name):
            return True  # cannot listen: run anyway rather than not at all
        server.newConnection.connect(self._on_connection)
        self.server = server
        return True

    @Slot()
    def _on_connection(self) -> None:
        assert self.server is not None
        while (conn := self.server.nextPendingConnection()) is not None:
            conn.readyRead.connect(lambda c=conn: self._read(c))
            if conn.bytesAvailable():
                self._read(conn)

    def _read(self, conn: QLocalSocket) -> None:
        if bytes(conn.readAll().data()).startswith(b"show"):
            self.activated.emit()
        conn.disconnectFromServer()

    def release(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None
