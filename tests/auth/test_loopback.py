"""The loopback listener: 127.0.0.1 only, one answer, state checked, closed afterwards."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable

import pytest
import requests

from app.auth.loopback import LoopbackReceiver
from app.errors import SignInFailed


def _plain() -> requests.Session:
    s = requests.Session()
    s.trust_env = False  # no proxy for loopback
    return s


class _Background:
    def __init__(self, fn: Callable[[], object]) -> None:
        self.result: list[object] = []
        self.thread = threading.Thread(target=lambda: self.result.append(fn()), daemon=True)
        self.thread.start()

    def join(self) -> list[object]:
        self.thread.join(5)
        return self.result


_in_background = _Background


def _refused(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def test_binds_loopback_only_answers_once_then_closes() -> None:
    rx = LoopbackReceiver()
    host, port = rx._server.server_address[:2]
    assert host == "127.0.0.1" and rx.redirect_uri == f"http://127.0.0.1:{port}/"
    url = rx.redirect_uri
    replies = _in_background(
        lambda: [
            _plain().get(url + "favicon.ico", timeout=5).status_code,  # not an answer: ignored
            _plain().get(url, params={"code": "c-1", "state": "s-1"}, timeout=5).status_code,
        ]
    )

    assert rx.wait("s-1", timeout=5) == {"code": "c-1", "state": "s-1"}
    assert rx.closed and _refused(port)
    assert replies.join() == [[404, 200]]


def test_form_post_answer_with_localhost_in_the_redirect() -> None:
    rx = LoopbackReceiver(uri_host="localhost", path="")
    assert rx.redirect_uri == f"http://localhost:{rx.port}"
    _in_background(
        lambda: _plain().post(
            f"http://127.0.0.1:{rx.port}", data={"code": "c", "state": "s"}, timeout=5
        )
    )
    assert rx.wait("s", timeout=5)["code"] == "c"


def test_a_forged_state_ends_the_sign_in_and_is_not_echoed() -> None:
    rx = LoopbackReceiver()
    _in_background(
        lambda: _plain().get(rx.redirect_uri, params={"code": "c", "state": "evil"}, timeout=5)
    )
    with pytest.raises(SignInFailed) as err:
        rx.wait("expected-state", timeout=5)
    assert "did not match" in err.value.message
    assert "evil" not in str(err.value) and "expected-state" not in str(err.value)
    assert _refused(rx.port)


@pytest.mark.parametrize(
    ("error", "says"),
    [("access_denied", "not granted"), ("invalid_scope", "(invalid_scope)"), ("<x>", "unknown")],
)
def test_an_error_answer_becomes_a_plain_message(error: str, says: str) -> None:
    rx = LoopbackReceiver()
    _in_background(
        lambda: _plain().get(rx.redirect_uri, params={"error": error, "state": "s"}, timeout=5)
    )
    with pytest.raises(SignInFailed) as err:
        rx.wait("s", timeout=5)
    assert says in err.value.message


def test_timeout_and_cancel_close_the_listener() -> None:
    rx = LoopbackReceiver()
    with pytest.raises(SignInFailed, match="in time"):
        rx.wait("s", timeout=0.3)
    assert _refused(rx.port)
    cancel = threading.Event()
    cancel.set()
    rx2 = LoopbackReceiver()
    with pytest.raises(SignInFailed, match="cancelled"):
        rx2.wait("s", timeout=5, cancel=cancel)
    assert _refused(rx2.port)


def test_only_loopback_names_are_allowed_in_the_redirect() -> None:
    with pytest.raises(ValueError):
        LoopbackReceiver(uri_host="0.0.0.0")
