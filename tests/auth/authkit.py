"""Helpers shared by the sign-in tests (imported as ``authkit``; fixtures are in conftest)."""

from __future__ import annotations

from typing import Any

import requests

from app.sandbox.admin import SandboxAdmin, trusting_session
from app.sandbox.server import Sandbox


def oauth_log(sandbox: Sandbox, client_id: str) -> list[dict[str, Any]]:
    r = trusting_session(sandbox.ca_cert).get(
        f"{sandbox.urls.root}/_sandbox/oauth-log", params={"client_id": client_id}
    )
    return list(r.json()["entries"])


def token_calls(admin: SandboxAdmin, since: int) -> int:
    counts = admin.requests(since=since)["counts"]
    return sum(n for k, n in counts.items() if k.endswith(" token"))


def sandbox_secrets(sandbox: Sandbox) -> set[str]:
    """Every token, code and device code the sandbox ever issued (they are all secrets)."""
    data = sandbox.state.data
    out: set[str] = set()
    for table in ("access_tokens", "refresh_tokens", "oauth_codes", "device_codes"):
        out |= set(data.get(table, {}))
    return out


def api_get(sandbox: Sandbox, url: str, token: str) -> requests.Response:
    return trusting_session(sandbox.ca_cert).get(url, headers={"Authorization": f"Bearer {token}"})
