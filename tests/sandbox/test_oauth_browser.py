"""The headless sign-in browser: loopback only, no proxies, clear failures."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import certifi
import pytest
import requests

from app.sandbox.admin import SandboxAdmin, trusting_session
from app.sandbox.browser import BrowserError, SandboxBrowser, is_loopback_url, open_url
from app.sandbox.server import Sandbox


class _Hop(BaseHTTPRequestHandler):
    """/go redirects to the address in the server's `target`; anything else answers 200."""

    server: Any

    def do_GET(self) -> None:
        if self.path.startswith("/go"):
            self.send_response(302)
            self.send_header("Location", self.server.target)
        else:
            self.send_response(200)
            self.server.hits.append(self.path)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def hop() -> Iterator[Any]:
    server: Any = HTTPServer(("127.0.0.1", 0), _Hop)
    server.hits = []
    server.target = ""
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("http://127.0.0.1:8080/", True),
        ("https://127.0.0.1:443/o/oauth2/auth?x=1", True),
        ("http://localhost:1234", True),
        ("http://[::1]:80/", True),
        ("http://127.8.9.10/", True),
        ("https://accounts.google.com/o/oauth2/auth", False),
        ("http://127.0.0.1.nip.io/", False),
        ("http://user:pw@127.0.0.1:8/", False),
        ("ftp://127.0.0.1/", False),
        ("http://127.0.0.1:99999/", False),
    ],
)
def test_is_loopback_url(url: str, ok: bool) -> None:
    assert is_loopback_url(url) is ok


def test_refuses_a_non_loopback_start(sandbox: Sandbox) -> None:
    with pytest.raises(BrowserError, match="not loopback"):
        open_url("https://login.microsoftonline.com/common/oauth2/v2.0/authorize", sandbox.ca_cert)


def test_refuses_to_follow_a_redirect_off_the_machine(sandbox: Sandbox, hop: Any) -> None:
    hop.target = "https://example.com/steal?code=secret-code"
    port = hop.server_address[1]
    with pytest.raises(BrowserError, match="not loopback") as err:
        open_url(f"http://127.0.0.1:{port}/go", sandbox.ca_cert)
    assert "secret-code" not in str(err.value)  # query strings never appear in errors


def test_ignores_proxy_settings(
    sandbox: Sandbox, hop: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    port = hop.server_address[1]
    hop.target = f"http://localhost:{port}/done?code=x"
    visits = open_url(f"http://127.0.0.1:{port}/go", sandbox.ca_cert)
    assert [v.status for v in visits] == [302, 200]
    assert visits[-1].url == f"http://localhost:{port}/done"
    assert hop.hits == ["/done?code=x"]


def test_error_page_becomes_a_browser_error(sandbox: Sandbox) -> None:
    url = (
        f"{sandbox.urls.google_auth}?response_type=code&client_id=c&scope=openid"
        "&redirect_uri=https%3A%2F%2Fevil.example%2F"
    )
    with pytest.raises(BrowserError, match="400: Error 400: redirect_uri_mismatch"):
        open_url(url, sandbox.ca_cert)


def test_consent_page_needs_a_user(sandbox: Sandbox, admin: SandboxAdmin, hop: Any) -> None:
    user = admin.create_user("google", "consent-browser@example.com")
    port = hop.server_address[1]
    url = (
        f"{sandbox.urls.google_auth}?response_type=code&client_id=c&scope=openid"
        f"&redirect_uri=http%3A%2F%2F127.0.0.1%3A{port}%2Fcb&state=s"
    )
    with pytest.raises(BrowserError, match="consent page"):
        open_url(url, sandbox.ca_cert)
    with pytest.raises(BrowserError, match="does not offer"):
        open_url(url, sandbox.ca_cert, user="nobody@example.com")
    browser = SandboxBrowser(sandbox.ca_cert, user=user.email)
    browser.open(url)
    browser.wait(5)
    assert [(v.method, v.status) for v in browser.history] == [
        ("GET", 200),
        ("POST", 302),
        ("GET", 200),
    ]
    assert hop.hits and hop.hits[0].startswith("/cb?")


def test_trusts_only_the_given_ca(sandbox: Sandbox) -> None:
    public_cas = certifi.where()  # a real CA bundle, without the sandbox's CA
    with pytest.raises(requests.exceptions.SSLError):
        open_url(sandbox.urls.google_auth, public_cas)


def test_stops_at_a_page_that_needs_a_person(sandbox: Sandbox) -> None:
    with pytest.raises(BrowserError, match="only a person can give"):
        SandboxBrowser(sandbox.ca_cert, user="x@example.com")._next_step(
            f"{sandbox.urls.root}/devicelogin",
            trusting_session(sandbox.ca_cert).get(f"{sandbox.urls.root}/devicelogin"),
        )
