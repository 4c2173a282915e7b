"""Where sign-in secrets live: one small key per account in the OS keyring, blobs encrypted with it.

Why not the token caches in the keyring itself: Windows Credential Manager caps an entry at 2560
bytes (about 1280 characters as UTF-16) and an msal cache is 3 to 13 thousand characters. So the
keyring holds one random Fernet key per account (44 characters; service ``Meridian``, user
``account-key:<account id>``) and each secret is a Fernet blob in ``Profile.secrets/<account>/``
(mode 0600, written atomically). Every blob names its account and entry inside the ciphertext,
so blobs cannot be swapped between entries unnoticed.

A missing key makes the account's blobs unreadable: ``get`` answers None (the account reads as
signed out), and ``put`` refuses with ``VaultKeyMissing`` instead of quietly minting a new key,
because a key deleted behind our back (someone cleaned up the Credential Manager) means "forget
this sign-in", not "carry on". Signing out deletes the key first, which is what makes the blobs
useless even if a copy of the disk survives (files are removed as well).

Backends:

* ``KeyringVault``: the OS keyring (Windows Credential Manager, macOS Keychain, Secret Service).
  A keyring that is really no keyring (keyring's ``fail`` and ``null`` backends, anything from
  ``keyrings.alt``, which writes plaintext) is refused with ``SecretStoreUnavailable``.
* ``FileVault``: the same blobs with the keys in files beside them. Only when the person or IT
  explicitly allows it; labelled insecure (anyone who can read the profile can read the tokens).
* ``MemoryVault``: in-process and forgotten on exit; labelled throwaway (tests, in-process sandbox).

Nothing secret ever appears in an exception message or a log line of this module.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import tempfile
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import keyring
import keyring.backend
import keyring.errors
from cryptography.fernet import Fernet, InvalidToken

from app.errors import SecretStoreUnavailable
from app.paths import Profile

log = logging.getLogger(__name__)

SERVICE = "Meridian"
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_FORMAT = 1

NO_KEYRING_MESSAGE = (
    "Meridian keeps sign-in secrets in the system's password store (Windows Credential Manager, "
    "the macOS Keychain, or a Secret Service such as GNOME Keyring or KWallet on Linux), and "
    "none is available here, so it did not sign in. Install or unlock a password store and try "
    "again. If you or your IT department accept the risk, Meridian can keep them in a file "
    "that only your user account can read instead (--allow-file-store)."
)
KEYRING_FAILED_MESSAGE = (
    "The system password store did not answer (it may be locked). Unlock it and try again."
)


class VaultKeyMissing(LookupError):
    """The account's key is gone from the key store: its secrets can no longer be read."""


def _check_id(kind: str, value: str) -> str:
    if not _ID_RE.match(value):
        raise ValueError(f"invalid vault {kind}")  # the value may be anything: never echo it
    return value


class Vault(ABC):
    """put/get/delete of named string secrets per account."""

    label: str
    secure: bool

    def check(self) -> None:  # noqa: B027 - most stores are always usable
        """Raise SecretStoreUnavailable if secrets cannot be kept; call before signing in."""

    @abstractmethod
    def put(self, account_id: str, name: str, secret: str, *, new_account: bool = False) -> None:
        """Store a secret. ``new_account`` starts the account afresh (new key, old blobs gone);
        otherwise the account's key must exist (VaultKeyMissing if it vanished)."""

    @abstractmethod
    def get(self, account_id: str, name: str) -> str | None:
        """The secret, or None if never stored or unreadable (key gone, blob damaged)."""

    @abstractmethod
    def delete_account(self, account_id: str) -> None:
        """Forget every secret of the account (key first). Missing pieces are fine."""


# --- keys ------------------------------------------------------------------------------------


class KeyStore(Protocol):
    def load(self, account_id: str) -> bytes | None: ...
    def save(self, account_id: str, key: bytes) -> None: ...
    def delete(self, account_id: str) -> None: ...


def keyring_problem(backend: keyring.backend.KeyringBackend) -> str | None:
    """Why this keyring backend is no place for secrets, or None if it is fine."""
    from keyring.backends import chainer, fail, null

    if isinstance(backend, chainer.ChainerBackend):
        chain = list(backend.backends)
        return keyring_problem(chain[0]) if chain else "no keyring backend is available"
    if isinstance(backend, (fail.Keyring, null.Keyring)):
        return "no keyring backend is available"
    if type(backend).__module__.startswith("keyrings.alt"):
        # keyrings.alt's default writes plaintext to ~/.local/share (library-notes.md §4).
        return "the keyrings.alt backend is not a secure store"
    return None


class KeyringKeys:
    """Keys in the OS keyring; the backend is looked up at each use (tests swap it)."""

    def __init__(self, backend: keyring.backend.KeyringBackend | None = None) -> None:
        self._backend = backend

    @property
    def backend(self) -> keyring.backend.KeyringBackend:
        return self._backend or keyring.get_keyring()

    def check(self) -> None:
        problem = keyring_problem(self.backend)
        if problem is not None:
            log.warning("no usable OS keyring: %s", problem)
            raise SecretStoreUnavailable(NO_KEYRING_MESSAGE)

    @staticmethod
    def _user(account_id: str) -> str:
        return f"account-key:{account_id}"

    def load(self, account_id: str) -> bytes | None:
        self.check()
        with _keyring_errors():
            value = self.backend.get_password(SERVICE, self._user(account_id))
        return value.encode("ascii") if value else None

    def save(self, account_id: str, key: bytes) -> None:
        self.check()
        with _keyring_errors():
            self.backend.set_password(SERVICE, self._user(account_id), key.decode("ascii"))

    def delete(self, account_id: str) -> None:
        self.check()
        with contextlib.suppress(keyring.errors.PasswordDeleteError), _keyring_errors():
            self.backend.delete_password(SERVICE, self._user(account_id))


@contextlib.contextmanager
def _keyring_errors() -> Iterator[None]:
    try:
        yield
    except keyring.errors.PasswordDeleteError:
        raise
    except keyring.errors.NoKeyringError:
        raise SecretStoreUnavailable(NO_KEYRING_MESSAGE) from None
    except (keyring.errors.KeyringError, OSError) as exc:
        # The backend's text can quote what it was given; keep only the type.
        log.warning("keyring call failed: %s", type(exc).__name__)
        raise SecretStoreUnavailable(KEYRING_FAILED_MESSAGE) from None


class FileKeys:
    """Keys in files (0600) under ``folder``: only as safe as the file permissions."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _path(self, account_id: str) -> Path:
        return self.folder / f"{account_id}.key"

    def load(self, account_id: str) -> bytes | None:
        try:
            return self._path(account_id).read_bytes().strip() or None
        except FileNotFoundError:
            return None

    def save(self, account_id: str, key: bytes) -> None:
        _write_private(self._path(account_id), key)

    def delete(self, account_id: str) -> None:
        self._path(account_id).unlink(missing_ok=True)


# --- encrypted blobs ------------------------------------------------------------------------


def _write_private(path: Path, data: bytes) -> None:
    """Write atomically, readable by the owner only from the first byte on."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if os.name == "posix":
        os.chmod(path.parent, 0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".part")  # mode 0600
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class BlobVault(Vault):
    """Fernet blobs on disk under ``folder/<account>/``, keys in a KeyStore."""

    def __init__(self, folder: Path, keys: KeyStore, *, label: str, secure: bool) -> None:
        self.folder = folder
        self.keys = keys
        self.label = label
        self.secure = secure
        self._lock = threading.Lock()

    def check(self) -> None:
        check = getattr(self.keys, "check", None)
        if check is not None:
            check()

    def _dir(self, account_id: str) -> Path:
        return self.folder / _check_id("account id", account_id)

    def _blob(self, account_id: str, name: str) -> Path:
        return self._dir(account_id) / f"{_check_id('entry name', name)}.enc"

    def put(self, account_id: str, name: str, secret: str, *, new_account: bool = False) -> None:
        path = self._blob(account_id, name)
        with self._lock:
            if new_account:
                self._forget(account_id)
                key = Fernet.generate_key()
                self.keys.save(account_id, key)
            else:
                loaded = self.keys.load(account_id)
                if loaded is None:
                    raise VaultKeyMissing("the account's key is missing")
                key = loaded
            payload = {"v": _FORMAT, "account": account_id, "name": name, "secret": secret}
            _write_private(path, Fernet(key).encrypt(json.dumps(payload).encode("utf-8")))

    def get(self, account_id: str, name: str) -> str | None:
        path = self._blob(account_id, name)
        key = self.keys.load(account_id)
        if key is None:
            return None
        try:
            blob = path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            payload = json.loads(Fernet(key).decrypt(blob))
        except (InvalidToken, ValueError):
            log.warning("a stored sign-in for account %s could not be decrypted", account_id)
            return None
        if payload.get("account") != account_id or payload.get("name") != name:
            log.warning("a stored sign-in for account %s belongs elsewhere", account_id)
            return None
        secret = payload.get("secret")
        return secret if isinstance(secret, str) else None

    def delete_account(self, account_id: str) -> None:
        with self._lock:
            self._forget(account_id)

    def _forget(self, account_id: str) -> None:
        self.keys.delete(account_id)  # first: without it the blobs are noise
        shutil.rmtree(self._dir(account_id), ignore_errors=True)


class KeyringVault(BlobVault):
    def __init__(self, folder: Path, backend: keyring.backend.KeyringBackend | None = None) -> None:
        keys = KeyringKeys(backend)
        super().__init__(folder, keys, label=f"OS keyring ({_backend_name(keys)})", secure=True)


def _backend_name(keys: KeyringKeys) -> str:
    backend = keys.backend
    return str(getattr(backend, "name", type(backend).__name__))


class FileVault(BlobVault):
    def __init__(self, folder: Path, *, label: str = "") -> None:
        super().__init__(
            folder / "blobs",
            FileKeys(folder / "keys"),
            label=label or "file store (INSECURE: readable by anything running as you)",
            secure=False,
        )


class MemoryVault(Vault):
    label = "throwaway in-memory store (sandbox and tests only; forgotten on exit)"
    secure = False

    def __init__(self) -> None:
        self._data: dict[tuple[str, str], str] = {}
        self._accounts: set[str] = set()

    def put(self, account_id: str, name: str, secret: str, *, new_account: bool = False) -> None:
        _check_id("account id", account_id)
        _check_id("entry name", name)
        if new_account:
            self.delete_account(account_id)
            self._accounts.add(account_id)
        elif account_id not in self._accounts:
            raise VaultKeyMissing("the account's key is missing")
        self._data[(account_id, name)] = secret

    def get(self, account_id: str, name: str) -> str | None:
        return self._data.get((account_id, name)) if account_id in self._accounts else None

    def delete_account(self, account_id: str) -> None:
        self._accounts.discard(account_id)
        for k in [k for k in self._data if k[0] == account_id]:
            del self._data[k]


# --- choosing a vault -----------------------------------------------------------------------

FILE_STORE_DIR = "file-store"
SANDBOX_STORE_DIR = "sandbox-throwaway"


def open_vault(
    profile: Profile,
    *,
    allow_file_store: bool = False,
    sandbox: bool = False,
    backend: keyring.backend.KeyringBackend | None = None,
) -> Vault:
    """The vault for this profile: the OS keyring, else an explicitly allowed file store.

    ``sandbox``: a throwaway file store kept apart from real secrets (sandbox tokens are worth
    nothing, and CLI commands in separate processes must see each other's sign-ins). Raises
    SecretStoreUnavailable (with what to do) when there is no keyring and no permission.
    """
    if sandbox:
        return FileVault(
            profile.secrets / SANDBOX_STORE_DIR,
            label="sandbox throwaway store (not protected; sandbox tokens only)",
        )
    vault = KeyringVault(profile.secrets, backend)
    try:
        vault.check()
    except SecretStoreUnavailable:
        if not allow_file_store:
            raise
        log.warning("no OS keyring: using the explicitly allowed file store (insecure)")
        return FileVault(profile.secrets / FILE_STORE_DIR)
    return vault
