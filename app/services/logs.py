"""Logging: one rotating file per profile, with secrets removed before anything is written.

``setup_logging(profile)`` is called once at start (tray app and CLI). The redaction filter runs
on the file handler, so no token reaches the disk whatever a library logs: bearer tokens, OAuth
tokens and codes in query strings, form bodies and JSON, JWTs, Google token shapes, Fernet blobs,
and every value registered at runtime with ``register_secret`` (access tokens as they are minted).

E-mail addresses stay in the live log: it is the person's own, in their private profile, and
support needs to know which account failed. Diagnostic bundles replace them with hashes unless
the person opts in (services/diagnostics.py). Event titles are never logged by Meridian; bundles
still replace any they find.
"""

from __future__ import annotations

import logging
import logging.handlers
import re
import threading
from pathlib import Path

from app.auth import quiet_secret_loggers
from app.paths import Profile

LOG_NAME = "meridian.log"
MAX_BYTES = 2_000_000
BACKUPS = 5
FORMAT = "%(asctime)s %(levelname)-7s %(name)s [%(threadName)s] %(message)s"
_MARK = "_meridian_handler"

# Loggers that write request URLs, bodies or headers at DEBUG/INFO (URLs carry calendar ids,
# which for Google are e-mail addresses, and sync tokens). app.auth pins the OAuth libraries.
LIBRARY_LEVELS = {
    "urllib3": logging.INFO,  # "GET /calendar/v3/calendars/<address>/events?syncToken=..."
    "googleapiclient": logging.WARNING,  # "URL being requested: ..." at INFO
    "google_auth_httplib2": logging.WARNING,
    "httplib2": logging.WARNING,
    "msal": logging.INFO,
    "apscheduler": logging.INFO,
}

REDACTED = "[REDACTED]"
# Names of secrets (not secrets).
_SECRET_NAMES = "|".join(
    (
        "access_token",
        "refresh_token",
        "id_token",
        "client_secret",
        "code_verifier",
        "device_code",
        "client_assertion",
        "assertion",
        "password",
        "passwd",
        "secret",
        "api_key",
        "apikey",
        "token",
    )
)
_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"), rf"\1 {REDACTED}"),
    # key=value in query strings and form bodies, key: value in headers and JSON.
    (
        re.compile(rf"(?i)(\b(?:{_SECRET_NAMES})\b[\"']?\s*[:=]\s*[\"']?)[^\"'&\s,;}}]+"),
        rf"\1{REDACTED}",
    ),
    # "code" is an ordinary word ("status code: 404"): only as a query/form parameter or a JSON key.
    (re.compile(r"([?&]code=)[^&\s\"']+"), rf"\1{REDACTED}"),
    (re.compile(r"(\"code\"\s*:\s*\")[^\"]+"), rf"\1{REDACTED}"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"), REDACTED),  # JWT
    (re.compile(r"\bya29\.[A-Za-z0-9._-]{10,}"), REDACTED),  # Google access token
    (re.compile(r"\b1//[A-Za-z0-9._-]{10,}"), REDACTED),  # Google refresh token
    (re.compile(r"\bEw[A-Za-z0-9][A-Za-z0-9._~+/=-]{20,}"), REDACTED),  # Microsoft opaque token
    (re.compile(r"\bM\.[A-Za-z0-9]{2,}[._-][A-Za-z0-9._~!*$-]{20,}"), REDACTED),  # MS refresh
    (re.compile(r"\bgAAAAA[A-Za-z0-9_=-]{20,}"), REDACTED),  # Fernet blob (vault)
    (re.compile(r"\bGOCSPX-[A-Za-z0-9_-]{10,}"), REDACTED),  # Google client secret
]

_registered: set[str] = set()
_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Remove this exact value from every log line from now on (tokens as they are minted)."""
    if value and len(value) >= 8:  # shorter values would blank ordinary words
        with _lock:
            _registered.add(value)


def forget_secrets() -> None:
    with _lock:
        _registered.clear()


def redact(text: str) -> str:
    """``text`` without anything that looks like, or was registered as, a secret."""
    with _lock:
        known = sorted(_registered, key=len, reverse=True)
    for value in known:
        if value in text:
            text = text.replace(value, REDACTED)
    for pattern, repl in _PATTERNS:
        text = pattern.sub(repl, text)
    return text


class RedactingFilter(logging.Filter):
    """Formats the message once, redacted, so handlers never see the raw arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not lose the line
            message = f"{record.msg!r} {record.args!r}"
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        record.exc_info = None  # the redacted text above replaces it
        return True


def pin_library_loggers() -> None:
    quiet_secret_loggers()
    for name, level in LIBRARY_LEVELS.items():
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET or logger.level < level:
            logger.setLevel(level)


def setup_logging(
    profile: Profile, *, level: int = logging.INFO, console: bool = False
) -> logging.Handler:
    """The rotating log file in ``profile.logs`` (idempotent: a second call replaces the first)."""
    pin_library_loggers()
    profile.logs.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _MARK, False)]:
        root.removeHandler(old)
        old.close()
    handler = logging.handlers.RotatingFileHandler(
        profile.logs / LOG_NAME, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8"
    )
    _install(root, handler, level)
    if console:
        _install(root, logging.StreamHandler(), level)
    if root.level == logging.NOTSET or root.level > level:
        root.setLevel(level)
    logging.captureWarnings(True)
    return handler


def _install(root: logging.Logger, handler: logging.Handler, level: int) -> None:
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(RedactingFilter())
    setattr(handler, _MARK, True)
    root.addHandler(handler)


def log_files(profile: Profile) -> list[Path]:
    """The profile's log files, newest first (the current file, then .1, .2, ...)."""
    if not profile.logs.is_dir():
        return []
    return sorted(
        (p for p in profile.logs.iterdir() if p.is_file()),
        key=lambda p: (p.name != LOG_NAME, p.name),
    )
