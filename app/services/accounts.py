"""Accounts: sign in (browser or device code), list, sign out, and "needs sign-in" handling.

Rows live in the ``accounts`` table; secrets only in the vault. An account is one of:

* ``ok``: signed in, its pairs may sync;
* ``needs_sign_in``: the refresh token was refused (revoked, expired) or its secrets vanished;
  its pairs are paused and the person is told once (``status_told``), then one click
  (``reauthenticate``) signs in again and resumes them;
* ``signed_out``: the person signed out: secrets deleted (and the Google grant revoked), the row
  and its pairs' links kept, the pairs paused. Adding the same address again reuses the row, so
  the pairs pick up where they were.

Pairs name their accounts in their config: ``config["a"]["account"]`` and
``config["b"]["account"]`` (side a is Outlook, b Google), and the direction in
``config["direction"]`` (or ``config["rules"]["direction"]``). Pauses set here carry the reason
``account-<status>:<account id>`` and are lifted here; a pause the person chose is never touched.

Every sign-in and sign-out is written to the audit log, without any secret.
"""

from __future__ import annotations

import threading
import uuid
import webbrowser
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from app.auth import google_oauth, microsoft_oauth
from app.auth.common import (
    SIGN_IN_TIMEOUT,
    DeviceCodePrompt,
    Opener,
    SignIn,
    SignInOptions,
    TokenSource,
)
from app.auth.google_oauth import GoogleConfig, GoogleTokenSource
from app.auth.microsoft_oauth import MicrosoftConfig, MicrosoftTokenSource
from app.auth.vault import Vault
from app.core.rules import Direction, Side
from app.errors import AuthRequired, SignInFailed, UsageError
from app.store.repo import PairRow, Repo, now_iso

PROVIDERS = ("google", "microsoft")
_NAMES = {"google": "Google", "microsoft": "Microsoft"}
_PAUSE_PREFIX = "account-"


class AccountStatus(StrEnum):
    OK = "ok"
    NEEDS_SIGN_IN = "needs_sign_in"
    SIGNED_OUT = "signed_out"


@dataclass(frozen=True)
class Account:
    id: str
    provider: str
    email: str
    display_name: str
    tenant: str | None
    status: AccountStatus
    status_told: bool
    added_at: str

    @property
    def label(self) -> str:
        return f"{self.email} ({_NAMES.get(self.provider, self.provider)})"

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "provider": self.provider,
            "email": self.email,
            "display_name": self.display_name,
            "tenant": self.tenant,
            "status": self.status.value,
            "added_at": self.added_at,
        }


@dataclass(frozen=True)
class AuthConfig:
    google: GoogleConfig = field(default_factory=GoogleConfig)
    microsoft: MicrosoftConfig = field(default_factory=MicrosoftConfig)


@dataclass(frozen=True)
class SignOut:
    account: Account
    revoked: bool | None  # Google: grant revoked; Microsoft: None (no revocation for apps)
    paused_pairs: tuple[str, ...]


def open_in_browser(url: str) -> bool:
    """The desktop's browser; False when there is none (then Microsoft uses a device code)."""
    try:
        return webbrowser.open(url, new=1, autoraise=True)
    except webbrowser.Error:
        return False


class AccountService:
    def __init__(
        self,
        repo: Repo,
        vault: Vault,
        config: AuthConfig | None = None,
        *,
        opener: Opener = open_in_browser,
        on_url: Callable[[str], None] | None = None,
        on_device_code: Callable[[DeviceCodePrompt], None] | None = None,
    ) -> None:
        self.repo = repo
        self.vault = vault
        self.config = config or AuthConfig()
        self.opener = opener
        self.on_url = on_url
        self.on_device_code = on_device_code
        self._sources: dict[str, TokenSource] = {}
        # Bumped at each sign-in and sign-out: a provider made before is stale (SyncService).
        self._generations: dict[str, int] = {}

    # --- reading ---------------------------------------------------------------------------

    def accounts(self) -> list[Account]:
        rows = self.repo.db.conn.execute("SELECT * FROM accounts ORDER BY provider, email")
        return [_account(r) for r in rows]

    def get(self, account_id: str) -> Account:
        row = self.repo.db.conn.execute(
            "SELECT * FROM accounts WHERE id = ?", (account_id,)
        ).fetchone()
        if row is None:
            raise UsageError(f"There is no account {account_id!r}.")
        return _account(row)

    def find(self, id_or_email: str, provider: str | None = None) -> Account:
        """By id, or by address (with the provider when both clouds have it)."""
        wanted = id_or_email.strip().lower()
        hits = [
            a
            for a in self.accounts()
            if (a.id == id_or_email or a.email.lower() == wanted) and provider in (None, a.provider)
        ]
        if not hits:
            raise UsageError(f"There is no account {id_or_email!r}. See `meridian accounts list`.")
        if len(hits) > 1:
            raise UsageError(
                f"{id_or_email!r} is both a Google and a Microsoft account: give its id instead."
            )
        return hits[0]

    def pairs_using(self, account_id: str) -> list[PairRow]:
        return [p for p in self.repo.pairs() if account_id in _pair_accounts(p.config).values()]

    def google_read_only(self, account_id: str) -> bool:
        """True when every pair only copies *from* this Google account (read scope suffices)."""
        pairs = self.pairs_using(account_id)
        if not pairs:
            return False
        for p in pairs:
            direction = _direction(p.config)
            for side, acct in _pair_accounts(p.config).items():
                if acct == account_id and direction.copies_from(side.other):
                    return False
        return True

    # --- signing in --------------------------------------------------------------------------

    def add(
        self,
        provider: str,
        *,
        device_code: bool = False,
        login_hint: str | None = None,
        read_only: bool = False,
        timeout: float = SIGN_IN_TIMEOUT,
        cancel: threading.Event | None = None,
    ) -> Account:
        """Sign in a new account (or an existing address again) and store its secrets."""
        if provider not in PROVIDERS:
            raise UsageError(f"Unknown cloud {provider!r}: choose google or microsoft.")
        # Before any browser opens: no keyring means no sign-in at all.
        self.vault.check()
        signed = self._sign_in(provider, device_code, login_hint, read_only, timeout, cancel)
        existing = self._row_by_email(provider, signed.email)
        account_id = existing.id if existing else f"{provider[0]}-{uuid.uuid4().hex[:12]}"
        return self._store(account_id, signed, method="device_code" if device_code else "browser")

    def reauthenticate(
        self,
        account_id: str,
        *,
        device_code: bool = False,
        timeout: float = SIGN_IN_TIMEOUT,
        cancel: threading.Event | None = None,
    ) -> Account:
        """The "sign in again" click: same account, same address required; resumes its pairs."""
        account = self.get(account_id)
        self.vault.check()
        read_only = account.provider == "google" and self.google_read_only(account_id)
        signed = self._sign_in(
            account.provider, device_code, account.email, read_only, timeout, cancel
        )
        if signed.email.lower() != account.email.lower():
            if signed.provider == "google":
                google_oauth.revoke_stored(self.config.google, signed.secret)
            raise SignInFailed(
                f"You signed in as {signed.email}, but this account is {account.email}. "
                f"Sign in again as {account.email}."
            )
        return self._store(account_id, signed, method="device_code" if device_code else "browser")

    def _sign_in(
        self,
        provider: str,
        device_code: bool,
        login_hint: str | None,
        read_only: bool,
        timeout: float,
        cancel: threading.Event | None,
    ) -> SignIn:
        options = SignInOptions(
            opener=self.opener,
            timeout=timeout,
            cancel=cancel,
            login_hint=login_hint,
            on_url=self.on_url,
            on_device_code=self.on_device_code,
        )
        if provider == "google":
            if device_code:
                raise UsageError(
                    "Google offers no device-code sign-in for calendars: use the browser."
                )
            signed = google_oauth.sign_in(self.config.google, options, read_only=read_only)
        else:
            signed = microsoft_oauth.sign_in(
                self.config.microsoft, options, device_code=device_code
            )
        if not signed.email:
            raise SignInFailed("The sign-in did not say which account it was. Try again.")
        return signed

    def _store(self, account_id: str, signed: SignIn, *, method: str) -> Account:
        # Secrets first: a row marked ok always has them.
        entry = google_oauth.ENTRY if signed.provider == "google" else microsoft_oauth.ENTRY
        self.vault.put(account_id, entry, signed.secret, new_account=True)
        self._sources.pop(account_id, None)
        self._generations[account_id] = self.generation(account_id) + 1
        with self.repo.db.tx() as c:
            c.execute(
                "INSERT INTO accounts (id, provider, email, display_name, tenant, status, "
                "status_told, added_at) VALUES (?, ?, ?, ?, ?, 'ok', 0, ?) "
                "ON CONFLICT (id) DO UPDATE SET display_name = excluded.display_name, "
                "tenant = excluded.tenant, status = 'ok', status_told = 0",
                (
                    account_id,
                    signed.provider,
                    signed.email,
                    signed.display_name,
                    signed.tenant,
                    now_iso(),
                ),
            )
            resumed = self._resume_pairs(account_id)
            self.repo.audit(
                "person",
                "account.sign_in",
                why=f"signed in to {_NAMES[signed.provider]} ({method})",
                details={
                    "account": account_id,
                    "provider": signed.provider,
                    "email": signed.email,
                    "method": method,
                    "scopes": list(signed.scopes),
                    "resumed_pairs": resumed,
                    "vault": self.vault.label,
                },
            )
        return self.get(account_id)

    # --- signing out -------------------------------------------------------------------------

    def remove(self, id_or_email: str, provider: str | None = None) -> SignOut:
        """Sign out: revoke (Google), delete the secrets, pause the pairs; keep row and links."""
        account = self.find(id_or_email, provider)
        revoked: bool | None = None
        if account.provider == "google":
            secret = self.vault.get(account.id, google_oauth.ENTRY)
            revoked = bool(secret) and google_oauth.revoke_stored(self.config.google, secret or "")
        self.vault.delete_account(account.id)
        source = self._sources.pop(account.id, None)
        if isinstance(source, _GuardedSource):
            # A sync running now holds this source: its next request stops with a clear word.
            source.close()
        self._generations[account.id] = self.generation(account.id) + 1
        with self.repo.db.tx() as c:
            c.execute(
                "UPDATE accounts SET status = ?, status_told = 1 WHERE id = ?",
                (AccountStatus.SIGNED_OUT.value, account.id),
            )
            paused = self._pause_pairs(account.id, AccountStatus.SIGNED_OUT)
            self.repo.audit(
                "person",
                "account.sign_out",
                why=f"signed out of {_NAMES[account.provider]}",
                details={
                    "account": account.id,
                    "provider": account.provider,
                    "email": account.email,
                    "revoked": revoked,
                    "paused_pairs": paused,
                },
            )
        return SignOut(self.get(account.id), revoked, tuple(paused))

    def forget(self, account_id: str) -> None:
        """Delete a signed-out account's row; refused while a pair still uses it."""
        account = self.get(account_id)
        if account.status is not AccountStatus.SIGNED_OUT:
            raise UsageError(f"Sign out of {account.label} first.")
        users = [p.name for p in self.pairs_using(account_id)]
        if users:
            raise UsageError(
                f"{account.label} is used by the pairs {', '.join(users)}: remove them first."
            )
        with self.repo.db.tx() as c:
            c.execute("DELETE FROM accounts WHERE id = ?", (account_id,))
            self.repo.audit(
                "person", "account.forget", details={"account": account_id, "email": account.email}
            )

    # --- while syncing -----------------------------------------------------------------------

    def generation(self, account_id: str) -> int:
        """How many times the account was signed in or out in this process."""
        return self._generations.get(account_id, 0)

    def token_source(self, account_id: str) -> TokenSource:
        """What the account's provider asks for access tokens; marks the account on AuthRequired."""
        source = self._sources.get(account_id)
        if source is None:
            account = self.get(account_id)
            inner: TokenSource
            if account.provider == "google":
                inner = GoogleTokenSource(self.config.google, self.vault, account_id)
            else:
                inner = MicrosoftTokenSource(self.config.microsoft, self.vault, account_id)
            source = _GuardedSource(inner, account, self.mark_needs_sign_in)
            self._sources[account_id] = source
        return source

    def mark_needs_sign_in(self, account_id: str) -> bool:
        """Mark the account and pause its pairs; True only the first time (the one to tell)."""
        with self.repo.db.tx() as c:
            changed = c.execute(
                "UPDATE accounts SET status = ?, status_told = 0 WHERE id = ? AND status = ?",
                (AccountStatus.NEEDS_SIGN_IN.value, account_id, AccountStatus.OK.value),
            ).rowcount
            status = self.get(account_id).status
            # Also when already marked: a pair the person resumed meanwhile is paused again.
            paused = self._pause_pairs(account_id, status) if status != AccountStatus.OK else []
            if changed:
                self.repo.audit(
                    "meridian",
                    "account.needs_sign_in",
                    why="the cloud refused the stored sign-in",
                    details={"account": account_id, "paused_pairs": paused},
                )
        return bool(changed)

    def take_notices(self) -> list[Account]:
        """Accounts the person has not been told about yet; each is returned once."""
        with self.repo.db.tx() as c:
            rows = c.execute(
                "SELECT * FROM accounts WHERE status = ? AND status_told = 0 ORDER BY email",
                (AccountStatus.NEEDS_SIGN_IN.value,),
            ).fetchall()
            c.executemany(
                "UPDATE accounts SET status_told = 1 WHERE id = ?", [(r["id"],) for r in rows]
            )
        return [_account(r) for r in rows]

    # --- pairs -------------------------------------------------------------------------------

    def _pause_pairs(self, account_id: str, status: AccountStatus) -> list[str]:
        paused = []
        for pair in self.pairs_using(account_id):
            if pair.paused_reason is None:
                self.repo.set_paused(pair.id, f"{_PAUSE_PREFIX}{status.value}:{account_id}")
                paused.append(pair.id)
        return paused

    def _resume_pairs(self, account_id: str) -> list[str]:
        resumed = []
        for pair in self.pairs_using(account_id):
            reason = pair.paused_reason
            if reason is None or not reason.startswith(_PAUSE_PREFIX):
                continue  # running, or paused by the person: not ours to lift
            blocker = self._blocker(pair, except_id=account_id)
            self.repo.set_paused(pair.id, blocker)
            if blocker is None:
                resumed.append(pair.id)
        return resumed

    def _blocker(self, pair: PairRow, *, except_id: str) -> str | None:
        """The pause reason still due to another account of the pair, if any."""
        for acct in _pair_accounts(pair.config).values():
            if acct == except_id:
                continue
            row = self.repo.db.conn.execute(
                "SELECT status FROM accounts WHERE id = ?", (acct,)
            ).fetchone()
            if row is not None and row["status"] != AccountStatus.OK.value:
                return f"{_PAUSE_PREFIX}{row['status']}:{acct}"
        return None

    def _row_by_email(self, provider: str, email: str) -> Account | None:
        row = self.repo.db.conn.execute(
            "SELECT * FROM accounts WHERE provider = ? AND lower(email) = lower(?)",
            (provider, email),
        ).fetchone()
        return _account(row) if row else None


class _GuardedSource:
    """A token source that marks its account "needs sign-in" when the cloud refuses it."""

    def __init__(self, inner: TokenSource, account: Account, mark: Callable[[str], bool]) -> None:
        self.inner = inner
        self.account_id = account.id
        self._account = account
        self._mark = mark
        self.closed = False

    def close(self) -> None:
        """The person signed out: no token is handed out any more, even one still cached."""
        self.closed = True

    def access_token(self, *, force_refresh: bool = False) -> str:
        if self.closed:
            raise AuthRequired(
                f"You signed out of {self._account.label} while Meridian was syncing it, so "
                "the sync stopped there. Sign in again to resume syncing its calendars.",
                title="Signed out",
            )
        try:
            return self.inner.access_token(force_refresh=force_refresh)
        except AuthRequired as err:
            self._mark(self.account_id)
            raise AuthRequired(
                f"Meridian can no longer use {self._account.label}: the sign-in expired or was "
                "revoked. Sign in again to resume syncing its calendars.",
                status=err.status,
            ) from None

    def expiry(self) -> Any:
        expiry = getattr(self.inner, "expiry", None)
        return expiry() if callable(expiry) else None


def _account(row: Any) -> Account:
    return Account(
        id=row["id"],
        provider=row["provider"],
        email=row["email"],
        display_name=row["display_name"],
        tenant=row["tenant"],
        status=AccountStatus(row["status"]),
        status_told=bool(row["status_told"]),
        added_at=row["added_at"],
    )


def _pair_accounts(config: dict[str, Any]) -> dict[Side, str]:
    out: dict[Side, str] = {}
    for side in Side:
        spec = config.get(side.value)
        if isinstance(spec, dict) and isinstance(spec.get("account"), str):
            out[side] = spec["account"]
    return out


def _direction(config: dict[str, Any]) -> Direction:
    raw = config.get("direction") or (config.get("rules") or {}).get("direction") or "both"
    try:
        return Direction(raw)
    except ValueError:
        return Direction.BOTH
