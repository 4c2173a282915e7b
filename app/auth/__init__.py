"""Signing in to Google and Microsoft, and keeping the resulting secrets.

* ``vault``: where secrets live (a key in the OS keyring, encrypted blobs on disk).
* ``loopback``: the one-shot redirect listener on 127.0.0.1 both clouds use.
* ``google_oauth`` / ``microsoft_oauth``: the sign-in flows (PKCE, state) and the per-account
  token sources that providers ask for a fresh access token.

Nothing here logs, raises or stores a token, code, verifier or client secret in the clear.
Several libraries we drive do log such values at DEBUG/INFO (requests-oauthlib logs the token
request body, msal's loopback receiver logs the auth response, google-auth-oauthlib logs the
redirect's request line with the code), so their loggers are pinned above those levels here, on
first import of this package; a test captures every logger at DEBUG and searches for secrets.
"""

from __future__ import annotations

import logging

# Loggers that write secrets below the given level (checked by tests/auth/test_secret_scan.py).
_NOISY_LOGGERS = {
    "requests_oauthlib": logging.WARNING,  # "Supplying headers ... and data ..." (code, secret)
    "oauthlib": logging.WARNING,
    "google_auth_oauthlib": logging.WARNING,  # loopback request line, with the code
    "msal": logging.INFO,  # authcode receiver: "Got auth response: {code...}" at DEBUG
}


def quiet_secret_loggers() -> None:
    for name, level in _NOISY_LOGGERS.items():
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET or logger.level < level:
            logger.setLevel(level)


quiet_secret_loggers()
