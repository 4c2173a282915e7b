"""The shared pipeline: TLS, controls, auth, faults, latency, quota, the request log."""

from __future__ import annotations

import ssl

import pytest
import requests

from app.sandbox.admin import SandboxAdmin
from app.sandbox.server import Sandbox


def test_tls_only_trusts_the_sandbox_ca(sandbox: Sandbox) -> None:
    with pytest.raises(requests.exceptions.SSLError):
        s = requests.Session()
        s.trust_env = False
        s.verify = True  # the system store does not know the sandbox CA
        s.get(sandbox.urls.admin, timeout=5)


def test_listens_on_loopback_only(sandbox: Sandbox) -> None:
    assert sandbox._server is not None
    assert sandbox._server.server_address[0] == "127.0.0.1"


def test_admin_page_lists_users(
    admin: SandboxAdmin, http: requests.Session, sandbox: Sandbox
) -> None:
    admin.create_user("google", "page-check@example.com", "Page Check")
    r = http.get(sandbox.urls.admin, timeout=5)
    assert r.status_code == 200
    assert "page-check@example.com" in r.text


def test_duplicate_user_is_refused(admin: SandboxAdmin) -> None:
    admin.create_user("microsoft", "dup@example.com")
    with pytest.raises(RuntimeError, match="409"):
        admin.create_user("microsoft", "dup@example.com")


def test_unknown_fault_field_is_refused(admin: SandboxAdmin) -> None:
    with pytest.raises(RuntimeError, match="Unknown fault fields"):
        admin.add_fault(503, "/x", colour="red")


def test_tls_context_negotiates_modern_tls(sandbox: Sandbox) -> None:
    ctx = ssl.create_default_context(cafile=str(sandbox.ca_cert))
    import socket

    port = int(sandbox.urls.root.rsplit(":", 1)[1])
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        assert tls.version() in ("TLSv1.2", "TLSv1.3")
