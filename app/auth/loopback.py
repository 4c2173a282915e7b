"""The loopback redirect listener for installed-app sign-in (RFC 8252 §7.3), for both clouds.

Binds 127.0.0.1 only (never a wildcard: msal's own receiver binds 0.0.0.0 inside containers),
on a port the OS picks. It ends at the first request that carries an authorization response
(``code`` or ``error``, by query string or by form_post), or at the timeout or a cancel: one use,
then closed. Other requests (a favicon, a speculative connection) are answered 404 and ignored.
The state is compared here, in constant time, before anything is redeemed; the libraries compare
it again. Nothing received is logged: the request line carries the code.
"""

from __future__ import annotations

import hmac
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from types import TracebackType
from urllib.parse import parse_qs, urlsplit

from app.errors import SignInFailed

_MAX_BODY = 64 * 1024
_ERROR_CODE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_POLL = 0.2  # how often a wait notices a cancel; a request is served at once regardless

_DONE_PAGE = (
    "<!doctype html><html lang='en'><meta charset='utf-8'><title>Meridian</title>"
    "<body style='font-family:system-ui,sans-serif;margin:3rem'>"
    "<h1>{title}</h1><p>{text}</p></body></html>"
)


class _Server(HTTPServer):
    allow_reuse_address = False  # a second listener on our port must fail, not share it

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.response: dict[str, str] | None = None


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = 5  # a speculative connection that sends nothing must not hold the wait

    def do_GET(self) -> None:
        self._answer(urlsplit(self.path).query)

    def do_POST(self) -> None:  # response_mode=form_post (Microsoft)
        length = int(self.headers.get("Content-Length") or 0)
        if length > _MAX_BODY:
            self._send(413, "Too large", "This request is not a sign-in answer.")
            return
        self._answer(self.rfile.read(length).decode("utf-8", "replace"))

    def _answer(self, encoded: str) -> None:
        params = {k: v[-1] for k, v in parse_qs(encoded, keep_blank_values=True).items()}
        if self.server.response is not None or not ({"code", "error"} & params.keys()):
            self._send(404, "Not found", "This page is not part of signing in.")
            return
        self.server.response = params
        if "code" in params:
            self._send(200, "You're signed in", "You can close this tab and return to Meridian.")
        else:
            self._send(200, "Sign-in did not complete", "Return to Meridian to try again.")

    def _send(self, status: int, title: str, text: str) -> None:
        body = _DONE_PAGE.format(title=title, text=text).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Referrer-Policy", "no-referrer")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """The request line holds the code: log nothing."""


class LoopbackReceiver:
    """``with LoopbackReceiver() as rx:`` use ``rx.redirect_uri``, then ``rx.wait(state)``."""

    def __init__(self, *, uri_host: str = "127.0.0.1", path: str = "/") -> None:
        if uri_host not in ("127.0.0.1", "localhost"):
            raise ValueError("the redirect must name the loopback interface")
        self._server = _Server()
        self.port: int = self._server.server_address[1]
        self.redirect_uri = f"http://{uri_host}:{self.port}{path}"
        self.closed = False

    def wait(
        self, expected_state: str, *, timeout: float, cancel: threading.Event | None = None
    ) -> dict[str, str]:
        """The authorization response (state checked); closes the listener in every case."""
        deadline = time.monotonic() + timeout
        try:
            while self._server.response is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise SignInFailed(
                        "No answer came back from the browser in time. Start signing in again."
                    )
                if cancel is not None and cancel.is_set():
                    raise SignInFailed("Signing in was cancelled.")
                self._server.timeout = min(_POLL, left)
                self._server.handle_request()
        finally:
            self.close()
        response = self._server.response
        if not hmac.compare_digest(response.get("state", ""), expected_state):
            raise SignInFailed(
                "The answer from the sign-in page did not match this sign-in, so it was "
                "ignored. Start signing in again."
            )
        if "error" in response:
            error = response["error"]
            if error == "access_denied":
                raise SignInFailed("Access was not granted on the sign-in page.")
            code = error if _ERROR_CODE.match(error) else "unknown"
            raise SignInFailed(f"The sign-in page answered with an error ({code}).")
        return response

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._server.server_close()

    def __enter__(self) -> LoopbackReceiver:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
