"""The sandbox server: one HTTPS listener on 127.0.0.1 for both clouds and their sign-in services.

A request goes through one pipeline whether it arrives on the socket or inside a batch:
latency -> injected fault -> route -> bearer token -> quota -> Graph concurrency -> handler, and
every outcome lands in the request log. A handler error never leaks a stack trace: it becomes the
service's own 500 body, and the store is left as it was (handlers validate before they mutate).
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import socket
import ssl
import tempfile
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

from app.sandbox import controls, errors, google_api, graph_api, oauth
from app.sandbox.errors import GOOGLE, GOOGLE_OAUTH, GRAPH, MS_IDENTITY, SANDBOX
from app.sandbox.httpcore import ApiError, Context, Headers, Request, Response, Router
from app.sandbox.state import SandboxState
from app.sandbox.tls import TlsFiles, ensure_tls

log = logging.getLogger(__name__)

SERVICE_MODULES = (controls, google_api, graph_api, oauth)
_TOKEN_SERVICE = {GOOGLE: "google", GRAPH: "microsoft"}
# Largest request body a service accepts; beyond it the real services answer 413.
_MAX_BODY = {GOOGLE: 16 * 1024 * 1024, GRAPH: 4 * 1024 * 1024}
_MAX_BODY_DEFAULT = 1024 * 1024
_SOCKET_MAX_BODY = 32 * 1024 * 1024


class DropConnection(Exception):
    """A fault that closes the connection without an answer."""


def service_for_path(path: str) -> str:
    if path.startswith(("/calendar/v3", "/batch/calendar/v3")):
        return GOOGLE
    if path.startswith("/v1.0"):
        return GRAPH
    if path.startswith(("/o/oauth2", "/token", "/revoke", "/tokeninfo")):
        return GOOGLE_OAUTH
    if "/oauth2/v2.0/" in path or "/v2.0/.well-known/" in path or path.startswith("/devicelogin"):
        return MS_IDENTITY
    return SANDBOX


class Dispatcher:
    def __init__(self, state: SandboxState, router: Router) -> None:
        self.state = state
        self.router = router

    def handle(self, req: Request) -> Response:
        """Answer one request (a socket request, or a part of a batch with ``req.batched``)."""
        match, path_known = self.router.match(req.method, req.raw_path)
        service = match.route.service if match else service_for_path(req.raw_path)
        endpoint = f"{service} {match.route.endpoint}" if match else f"{service} unknown"
        user: str | None = None
        inflight_key: str | None = None
        resp: Response
        try:
            if not req.batched and self.state.settings.latency_ms and service != SANDBOX:
                time.sleep(self.state.settings.latency_ms / 1000)
            limit = _MAX_BODY.get(service, _MAX_BODY_DEFAULT)
            if len(req.body) > limit:
                raise errors.default_error(service, 413)
            fault = None
            if service != SANDBOX:
                fault = self.state.take_fault(service, req.method, req.path, req.batched)
            if fault is not None:
                if fault.delay_ms:
                    time.sleep(fault.delay_ms / 1000)
                if fault.reset:
                    raise DropConnection()
                raise errors.default_error(
                    service, fault.status, fault.code, fault.message, fault.retry_after
                )
            if match is None:
                raise errors.default_error(service, 405 if path_known else 404)
            if match.route.auth:
                user = self._authenticate(service, req)
                wait = self.state.quota_check(user)
                if wait is not None:
                    raise errors.default_error(service, 429, retry_after=round(wait + 0.5))
                if service == GRAPH and not req.batched:
                    inflight_key = f"graph:{user}"
                    if not self.state.enter(
                        inflight_key, self.state.settings.limits.graph_concurrency
                    ):
                        inflight_key = None
                        raise ApiError(
                            429,
                            "ApplicationThrottled",
                            "Application is over its MailboxConcurrency limit.",
                            headers={"Retry-After": "1"},
                        )
            ctx = Context(req, match.params, self.state, service, endpoint, user, self.handle)
            if match.route.endpoint.endswith("batch"):
                resp = match.route.handler(ctx)  # parts take the lock themselves
            else:
                with self.state.lock:
                    resp = match.route.handler(ctx)
        except ApiError as err:
            resp = errors.render(
                service,
                err,
                google_status_field=self.state.settings.switches.google_error_status_field,
            )
        except DropConnection:
            self._log(service, endpoint, req, 0, user)
            raise
        except Exception:
            log.exception("sandbox handler failed: %s %s", req.method, req.path)
            resp = errors.render(service, errors.default_error(service, 500))
        finally:
            if inflight_key is not None:
                self.state.leave(inflight_key)
        self._log(service, endpoint, req, resp.status, user)
        return resp

    def _authenticate(self, service: str, req: Request) -> str:
        uid, why = self.state.resolve_access(_TOKEN_SERVICE.get(service, service), req.bearer())
        if uid is not None:
            return uid
        if service == GOOGLE:
            raise ApiError(
                401,
                "authError",
                "Invalid Credentials",
                location="Authorization",
                locationType="header",
            )
        messages = {
            "missing": "Access token is empty.",
            "expired": "Lifetime validation failed, the token is expired.",
            "invalid": "CompactToken parsing failed with error code: 80049217",
        }
        raise ApiError(401, "InvalidAuthenticationToken", messages[why])

    def _log(
        self, service: str, endpoint: str, req: Request, status: int, user: str | None
    ) -> None:
        self.state.log.add(
            service=service,
            endpoint=endpoint,
            method=req.method,
            path=req.path,
            status=status,
            user=user,
            batched=req.batched,
        )


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HttpsServer
    _headers_buffer: list[bytes]  # BaseHTTPRequestHandler's, declared for the type checker

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("sandbox: " + format, *args)

    def _serve(self) -> None:
        try:
            body = self._read_body()
        except ValueError as exc:
            self.send_error(400, str(exc))
            return
        if body is None:
            self.send_error(413, "Request Entity Too Large")
            return
        req = Request(self.command, self.path, Headers(list(self.headers.items())), body)
        try:
            resp = self.server.dispatcher.handle(req)
        except DropConnection:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.send_response(resp.status)
        for k, v in resp.headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(resp.body)))
        # Headers and body leave in one write: separate small segments stall ~40 ms per
        # response on Nagle + delayed ACK (measured: 44 ms -> 1.6 ms for GET /me).
        self._headers_buffer.append(b"\r\n")
        if self.command != "HEAD":
            self._headers_buffer.append(resp.body)
        self.wfile.write(b"".join(self._headers_buffer))
        self._headers_buffer = []

    def _read_body(self) -> bytes | None:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            total = 0
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                total += size
                if total > _SOCKET_MAX_BODY:
                    return None
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0:
            raise ValueError("negative Content-Length")
        if length > _SOCKET_MAX_BODY:
            return None
        return self.rfile.read(length) if length else b""

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve


class _HttpsServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self, addr: tuple[str, int], ctx: ssl.SSLContext | None, dispatcher: Dispatcher
    ) -> None:
        self.ssl_context = ctx
        self.dispatcher = dispatcher
        super().__init__(addr, _Handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        # The TLS handshake runs here, in the connection's own thread, so a stalled client
        # cannot hold up accept() for everyone else.
        with contextlib.suppress(OSError):
            request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.ssl_context is not None:
            try:
                request.settimeout(30)
                request = self.ssl_context.wrap_socket(request, server_side=True)
                request.settimeout(None)
            except (OSError, ssl.SSLError) as exc:
                log.debug("sandbox: TLS handshake failed: %s", exc)
                return
        super().finish_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("sandbox: connection error from %s", client_address, exc_info=True)


@dataclass(frozen=True)
class SandboxUrls:
    root: str

    @property
    def google_api(self) -> str:
        return f"{self.root}/calendar/v3/"

    @property
    def google_batch(self) -> str:
        return f"{self.root}/batch/calendar/v3"

    @property
    def google_auth(self) -> str:
        return f"{self.root}/o/oauth2/auth"

    @property
    def google_token(self) -> str:
        return f"{self.root}/token"

    @property
    def google_revoke(self) -> str:
        return f"{self.root}/revoke"

    @property
    def graph(self) -> str:
        return f"{self.root}/v1.0"

    def microsoft_authority(self, tenant: str = "common") -> str:
        return f"{self.root}/{tenant}"

    @property
    def admin(self) -> str:
        return f"{self.root}/_sandbox/"


def build_router() -> Router:
    router = Router()
    for module in SERVICE_MODULES:
        module.register(router)
    return router


class Sandbox:
    """A running sandbox (``with Sandbox() as sb:`` in tests; ``meridian sandbox serve``)."""

    def __init__(
        self,
        state_dir: Path | None = None,
        *,
        port: int = 0,
        latency_ms: int = 0,
        tls: bool = True,
    ) -> None:
        self._tmp: Path | None = None
        if state_dir is None:
            self._tmp = Path(tempfile.mkdtemp(prefix="meridian-sandbox-"))
            state_dir = self._tmp
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.port = port
        self.tls: TlsFiles | None = ensure_tls(self.state_dir / "tls") if tls else None
        # A throwaway sandbox (no state_dir) is never written to disk: nothing to keep.
        self.state = SandboxState(None if self._tmp else self.state_dir)
        self.state.settings.latency_ms = latency_ms
        self.dispatcher = Dispatcher(self.state, build_router())
        self._server: _HttpsServer | None = None
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()

    @property
    def ca_cert(self) -> Path:
        assert self.tls is not None, "the sandbox runs without TLS"
        return self.tls.ca_cert

    @property
    def urls(self) -> SandboxUrls:
        assert self._server is not None, "start() the sandbox first"
        scheme = "https" if self.tls else "http"
        return SandboxUrls(f"{scheme}://127.0.0.1:{self._server.server_address[1]}")

    def start(self) -> Sandbox:
        ctx = None
        if self.tls is not None:
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ctx.minimum_version = ssl.TLSVersion.TLSv1_2
            ctx.load_cert_chain(self.tls.server_cert, self.tls.server_key)
        # Loopback only: the sandbox holds test tokens and must never be reachable from outside.
        self._server = _HttpsServer(("127.0.0.1", self.port), ctx, self.dispatcher)
        serve = threading.Thread(
            target=self._server.serve_forever, name="sandbox-http", daemon=True
        )
        persist = threading.Thread(target=self._persist_loop, name="sandbox-persist", daemon=True)
        self._threads = [serve, persist]
        for t in self._threads:
            t.start()
        return self

    def _persist_loop(self) -> None:
        while not self._stopping.wait(0.5):
            if self.state.take_dirty():
                try:
                    self.state.save()
                except OSError:
                    log.exception("sandbox: could not save state")

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        for t in self._threads:
            t.join(timeout=5)
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
        else:
            self.state.save()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def ready_info(self) -> dict[str, Any]:
        u = self.urls
        return {
            "ready": True,
            "google": {
                "api_endpoint": u.google_api,
                "batch_uri": u.google_batch,
                "auth_uri": u.google_auth,
                "token_uri": u.google_token,
                "revoke_uri": u.google_revoke,
            },
            "microsoft": {"graph": u.graph, "authority": u.microsoft_authority()},
            "ca_cert": str(self.ca_cert) if self.tls else None,
            "admin": u.admin,
            "state_dir": str(self.state_dir),
        }
