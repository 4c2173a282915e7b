"""The log file: rotation, redaction of every secret shape, library loggers pinned."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.paths import Profile
from app.services import logs


@pytest.fixture
def profile(tmp_path: Path) -> Iterator[Profile]:
    prof = Profile(tmp_path / "profile")
    root = logging.getLogger()
    level = root.level
    yield prof
    root.setLevel(level)
    logging.captureWarnings(False)
    for h in [h for h in root.handlers if getattr(h, "_meridian_handler", False)]:
        root.removeHandler(h)
        h.close()
    logs.forget_secrets()


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        ("Authorization: Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.sig", "eyJhbGciOiJSUzI1NiJ9"),
        ("POST /token body=grant_type=refresh_token&refresh_token=1//0gAbCdEfGhIjKlMn", "1//0gA"),
        ("redirect GET /?code=4/0AbCdEf-ghijk&state=xyz", "4/0AbCdEf"),
        ('{"access_token": "ya29.a0AfH6SMBxyz123456", "expires_in": 3599}', "ya29.a0AfH6"),
        ('{"code": "M.C507_BAY.2.U.abc"}', "M.C507_BAY"),
        ("client_secret=GOCSPX-1234567890abcdef", "GOCSPX-1234567890"),
        ("blob gAAAAABlZ2V0dGluZ19hX2Zlcm5ldF90b2tlbl9oZXJl", "gAAAAABlZ2V0"),
        ("device_code: GmRhmhcxhwAzkoEqiMEg_DnyEysNkuNhszIySk9eS", "GmRhmhcxhwAzko"),
        ("password=hunter2hunter2", "hunter2"),
        ("token was EwB.sbx-AbCdEfGhIjKlMnOpQrStUvWxYz0123", "EwB.sbx-AbCd"),
        ("rt M.C507_BAY.0.U.-CqAbCdEfGhIjKlMnOpQrSt", "M.C507_BAY"),
    ],
)
def test_redact_removes_secret_shapes(line: str, secret: str) -> None:
    out = logs.redact(line)
    assert secret not in out and logs.REDACTED in out


def test_redact_keeps_ordinary_text() -> None:
    line = "GET /calendars/x/events -> status code: 404 (3 events, syncToken present)"
    assert logs.redact(line) == line


def test_registered_secrets_are_removed(profile: Profile) -> None:
    logs.register_secret("opaque-sandbox-token-0123456789")
    logs.register_secret("short")  # too short to register: would blank ordinary words
    assert logs.redact("t=opaque-sandbox-token-0123456789;") == f"t={logs.REDACTED};"
    assert logs.redact("a short word") == "a short word"


def test_log_file_is_redacted_with_args_and_tracebacks(profile: Profile) -> None:
    handler = logs.setup_logging(profile, level=logging.DEBUG)
    logs.register_secret("runtime-secret-abcdefgh")
    log = logging.getLogger("app.test")
    log.info("token %s for %s", "runtime-secret-abcdefgh", "alex@contoso.com")
    try:
        raise RuntimeError("failed with Bearer abcdefghijklmnopqrstuvwxyz")
    except RuntimeError:
        log.exception("it broke")
    handler.flush()
    text = (profile.logs / logs.LOG_NAME).read_text(encoding="utf-8")
    assert "runtime-secret-abcdefgh" not in text
    assert "abcdefghijklmnopqrstuvwxyz" not in text
    assert "RuntimeError" in text and "it broke" in text
    assert "alex@contoso.com" in text  # addresses stay in the person's own log


def test_setup_is_idempotent_and_rotates(profile: Profile, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logs, "MAX_BYTES", 2000)
    logs.setup_logging(profile)
    handler = logs.setup_logging(profile)
    root = logging.getLogger()
    assert sum(getattr(h, "_meridian_handler", False) for h in root.handlers) == 1
    log = logging.getLogger("app.rotate")
    for i in range(100):
        log.warning("line %03d %s", i, "x" * 50)
    handler.flush()
    names = [p.name for p in logs.log_files(profile)]
    assert names[0] == logs.LOG_NAME and f"{logs.LOG_NAME}.1" in names


def test_library_loggers_are_pinned_above_their_leaky_levels(profile: Profile) -> None:
    logs.setup_logging(profile, level=logging.DEBUG)
    assert logging.getLogger("urllib3").getEffectiveLevel() >= logging.INFO
    assert logging.getLogger("googleapiclient").getEffectiveLevel() >= logging.WARNING
    assert logging.getLogger("oauthlib").getEffectiveLevel() >= logging.WARNING
    assert logging.getLogger("msal").getEffectiveLevel() >= logging.INFO


def test_no_log_folder_means_no_files(tmp_path: Path) -> None:
    assert logs.log_files(Profile(tmp_path / "none")) == []
