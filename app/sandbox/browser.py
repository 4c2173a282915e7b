"""A tiny headless browser for signing in against the sandbox, for the CLI and tests.

It does what a person's browser does in an installed app's sign-in, and nothing more:

* GET the authorization URL, trusting only the sandbox CA;
* follow redirects, including the final one to the app's loopback listener (plain http);
* submit a ``response_mode=form_post`` page (Microsoft's) the way its script would;
* on a consent page, choose the configured account and press Allow (only if given a user).

It talks to this machine only: any URL whose host is not loopback is refused before a byte is
sent, proxies are never used, and the environment (REQUESTS_CA_BUNDLE, *_PROXY) is ignored.
Query strings carry codes and state, so they are never logged or put in errors.

Both libraries call their browser *before* they start listening on the redirect port's
``handle_request()``, so ``open()`` navigates on a background thread; ``wait()`` joins it.

* google-auth-oauthlib: ``flow.run_local_server(browser=browser.register(), open_browser=True)``.
* msal: ``with browser.patch_msal(): app.acquire_token_interactive(...)`` (replaces
  ``msal.oauth2cli.authcode._browse``), or ``auth_uri_callback=browser.open``.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import socket
import threading
import webbrowser
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit, urlunsplit

import requests

log = logging.getLogger(__name__)

_REDIRECTS = {301, 302, 303, 307, 308}
_LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}


class BrowserError(Exception):
    """The sign-in could not be completed by the headless browser."""


@dataclass(frozen=True)
class Visit:
    method: str
    url: str  # without query or fragment: those carry codes and state
    status: int


def _safe(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def is_loopback_url(url: str) -> bool:
    """http(s) to this machine only; names are resolved and every address must be loopback."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError:
        return False
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not host or parts.username or parts.password:
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    if host not in _LOOPBACK_NAMES:
        return False
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    # A hosts file could point "localhost" elsewhere; then it is not loopback for us either.
    return bool(infos) and all(ipaddress.ip_address(i[4][0]).is_loopback for i in infos)


@dataclass
class _Form:
    action: str
    method: str
    id: str
    fields: list[tuple[str, str]] = field(default_factory=list)  # hidden inputs
    inputs: list[str] = field(default_factory=list)  # names of fields a person would fill in
    radios: list[dict[str, str]] = field(default_factory=list)
    buttons: list[tuple[str, str]] = field(default_factory=list)  # named submit buttons


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[_Form] = []
        self.title = ""
        self._in_title = False
        self._current: _Form | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "title":
            self._in_title = True
        elif tag == "form":
            self._current = _Form(
                a.get("action", ""), a.get("method", "get").lower(), a.get("id", "")
            )
            self.forms.append(self._current)
        elif self._current is not None and tag in ("input", "button"):
            kind = a.get("type", "submit" if tag == "button" else "text").lower()
            name = a.get("name", "")
            if kind == "radio":
                self._current.radios.append(a)
            elif kind == "submit":
                if name:
                    self._current.buttons.append((name, a.get("value", "")))
            elif name and kind == "hidden":
                self._current.fields.append((name, a.get("value", "")))
            elif name:
                self._current.inputs.append(name)

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._current = None
        elif tag == "title":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data


class SandboxBrowser(webbrowser.BaseBrowser):
    """A headless browser bound to one sandbox CA; usable as a ``webbrowser`` browser."""

    def __init__(
        self,
        ca_cert: Path | str,
        *,
        user: str | None = None,
        name: str = "meridian-sandbox",
        timeout: float = 10.0,
        max_steps: int = 10,
    ) -> None:
        super().__init__(name)
        self.ca_cert = Path(ca_cert)
        self.user = user  # e-mail or id to choose on a consent page; None: refuse to consent
        self.timeout = timeout
        self.max_steps = max_steps
        self.history: list[Visit] = []
        self.errors: list[BaseException] = []
        self._threads: list[threading.Thread] = []

    def _session(self) -> requests.Session:
        session = requests.Session()
        session.trust_env = False  # no env proxies, no REQUESTS_CA_BUNDLE overriding verify
        session.verify = str(self.ca_cert)
        session.headers["User-Agent"] = "MeridianSandboxBrowser/1"
        return session

    def visit(self, url: str) -> list[Visit]:
        """Navigate from ``url`` until a page needs nothing more; returns the visits made."""
        visits: list[Visit] = []
        method, data = "GET", None
        with self._session() as session:
            for _ in range(self.max_steps):
                if not is_loopback_url(url):
                    raise BrowserError(
                        f"refusing to send a request to {_safe(url)!r}: not loopback"
                    )
                resp = session.request(
                    method, url, data=data, allow_redirects=False, timeout=self.timeout
                )
                visit = Visit(method, _safe(url), resp.status_code)
                visits.append(visit)
                self.history.append(visit)
                if resp.status_code in _REDIRECTS and "Location" in resp.headers:
                    url = urljoin(url, resp.headers["Location"])
                    if resp.status_code in (301, 302, 303):
                        method, data = "GET", None
                    continue
                step = self._next_step(url, resp)
                if step is None:
                    return visits
                url, data = step
                method = "POST"
        raise BrowserError(f"gave up after {self.max_steps} steps")

    def _next_step(
        self, url: str, resp: requests.Response
    ) -> tuple[str, list[tuple[str, str]]] | None:
        is_html = "html" in resp.headers.get("Content-Type", "")
        parser = _FormParser()
        if is_html:
            parser.feed(resp.text)
        if resp.status_code >= 400:
            what = parser.title.strip() or resp.reason
            raise BrowserError(f"{_safe(url)} answered {resp.status_code}: {what}")
        posts = [f for f in parser.forms if f.method == "post"]
        if not posts:
            return None  # the end: the app's listener answered, or a plain page
        form = posts[0]
        action = urljoin(url, form.action or url)
        if form.id != "consent":
            if form.inputs or form.radios:
                raise BrowserError(f"{_safe(url)} asks for input only a person can give")
            # A form_post page: its script would submit the hidden fields as they are.
            return action, list(form.fields)
        if self.user is None:
            raise BrowserError(
                "the sandbox shows a consent page; turn on auto-approve or give the browser a user"
            )
        wanted = self.user.lower()
        chosen = next(
            (
                r
                for r in form.radios
                if wanted in (r.get("value", "").lower(), r.get("data-email", "").lower())
            ),
            None,
        )
        if chosen is None:
            raise BrowserError("the consent page does not offer the configured user")
        return action, [*form.fields, ("user", chosen["value"]), ("decision", "allow")]

    # --- as a webbrowser browser -----------------------------------------------------------

    def open(self, url: str, new: int = 0, autoraise: bool = True) -> bool:
        """Start navigating in the background (the caller has yet to start its listener)."""
        thread = threading.Thread(
            target=self._run, args=(url,), name="sandbox-browser", daemon=True
        )
        self._threads.append(thread)
        thread.start()
        return True

    def _run(self, url: str) -> None:
        try:
            self.visit(url)
        except Exception as exc:  # reported through wait() and errors, never lost
            log.warning("sandbox browser: %s", exc)
            self.errors.append(exc)

    def wait(self, timeout: float | None = None) -> None:
        """Join the background navigations; re-raise the first failure."""
        for thread in self._threads:
            thread.join(timeout)
            if thread.is_alive():
                raise BrowserError("the browser is still navigating")
        self._threads.clear()
        if self.errors:
            raise self.errors[0]

    def register(self) -> str:
        """Register with ``webbrowser`` so ``run_local_server(browser=name)`` uses it."""
        webbrowser.register(self.name, None, self)
        return self.name

    @contextlib.contextmanager
    def patch_msal(self) -> Iterator[SandboxBrowser]:
        """Make msal's interactive flow open its URL here instead of a desktop browser."""
        from msal.oauth2cli import authcode

        original = authcode._browse

        def _browse(auth_uri: str, browser_name: str | None = None) -> bool:
            return self.open(auth_uri)

        authcode._browse = _browse
        try:
            yield self
        finally:
            authcode._browse = original


def open_url(
    url: str, ca_cert: Path | str, *, user: str | None = None, timeout: float = 10.0
) -> list[Visit]:
    """Navigate a sign-in URL to its end, synchronously (the app's listener must be running)."""
    return SandboxBrowser(ca_cert, user=user, timeout=timeout).visit(url)
