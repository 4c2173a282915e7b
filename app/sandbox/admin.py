"""A small client for the ``/_sandbox/`` controls, used by tests, the CLI and the demo mode."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests


def trusting_session(ca_cert: Path | str) -> requests.Session:
    """A session that trusts only the sandbox CA.

    ``trust_env`` is off because REQUESTS_CA_BUNDLE (set on many CI and corporate machines)
    would otherwise override ``verify`` (library-notes.md §3).
    """
    session = requests.Session()
    session.trust_env = False
    session.verify = str(ca_cert)
    return session


@dataclass
class SandboxUser:
    id: str
    service: str
    email: str
    name: str
    access_token: str
    refresh_token: str

    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


class SandboxAdmin:
    def __init__(self, root: str, ca_cert: Path | str, timeout: float = 30) -> None:
        self.root = root.rstrip("/")
        self.session = trusting_session(ca_cert)
        self.timeout = timeout

    def _call(self, method: str, path: str, json: Any = None, **params: Any) -> Any:
        r = self.session.request(
            method,
            f"{self.root}/_sandbox{path}",
            json=json,
            params=params or None,
            timeout=self.timeout,
        )
        if r.status_code >= 400:
            raise RuntimeError(f"sandbox control {method} {path} failed: {r.status_code} {r.text}")
        return r.json() if r.content else None

    def create_user(self, service: str, email: str, name: str | None = None) -> SandboxUser:
        d = self._call("POST", "/users", {"service": service, "email": email, "name": name})
        u = d["user"]
        return SandboxUser(
            u["id"], u["service"], u["email"], u["name"], d["access_token"], d["refresh_token"]
        )

    def users(self, service: str | None = None) -> list[dict[str, Any]]:
        return list(
            self._call("GET", "/users", **({"service": service} if service else {}))["users"]
        )

    def new_tokens(self, uid: str) -> dict[str, Any]:
        return dict(self._call("POST", f"/users/{uid}/tokens", {}))

    def revoke(self, uid: str) -> int:
        return int(self._call("POST", f"/users/{uid}/revoke", {})["revoked"])

    def expire_access(self, uid: str) -> int:
        return int(self._call("POST", f"/users/{uid}/expire-access", {})["expired"])

    def add_fault(self, status: int = 0, path: str = "", **kw: Any) -> dict[str, Any]:
        return dict(self._call("POST", "/faults", {"status": status, "path": path, **kw}))

    def clear_faults(self) -> None:
        self._call("DELETE", "/faults")

    def set_latency(self, ms: int) -> None:
        self._call("PUT", "/latency", {"ms": ms})

    def set_limits(self, **limits: Any) -> None:
        self._call("PUT", "/limits", limits)

    def set_switches(self, **switches: Any) -> None:
        self._call("PUT", "/switches", switches)

    def auto_approve(self, service: str, user_id: str | None) -> None:
        self._call("PUT", "/auto-approve", {"service": service, "user": user_id})

    def expire_sync_tokens(self, service: str | None = None, user_id: str | None = None) -> int:
        return int(
            self._call("POST", "/expire-sync-tokens", {"service": service, "user": user_id})[
                "expired"
            ]
        )

    def requests(self, since: int = 0, service: str | None = None) -> dict[str, Any]:
        params: dict[str, Any] = {"since": since}
        if service:
            params["service"] = service
        return dict(self._call("GET", "/requests", **params))

    def clear_requests(self) -> None:
        self._call("DELETE", "/requests")

    def outbox(self, user_id: str | None = None) -> list[dict[str, Any]]:
        return list(self._call("GET", "/outbox", **({"user": user_id} if user_id else {}))["mails"])

    def seed(self, name: str = "demo") -> dict[str, Any]:
        return dict(self._call("POST", "/seed", {"name": name}))
