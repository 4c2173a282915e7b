"""The vault: a key per account in the keyring, encrypted blobs on disk, clear refusals."""

from __future__ import annotations

import logging
import os
import secrets
import stat
from pathlib import Path

import keyring
import keyring.backend
import keyring.errors
import pytest
from conftest import MemoryKeyring
from keyring.backends import chainer, fail, null

from app.auth.vault import (
    SERVICE,
    FileVault,
    KeyringVault,
    MemoryVault,
    VaultKeyMissing,
    keyring_problem,
    open_vault,
)
from app.errors import SecretStoreUnavailable
from app.paths import Profile

# Windows Credential Manager: 2560 bytes, stored as UTF-16 (library-notes.md §4).
WINDOWS_CHAR_LIMIT = 1280


def _files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def test_round_trip_keeps_only_a_small_key_in_the_keyring(
    vault: KeyringVault, memory_keyring: MemoryKeyring, profile: Profile
) -> None:
    big = "msal-cache-" + secrets.token_urlsafe(12_000)  # far over the Windows limit
    vault.put("m-1", "tokens", big, new_account=True)

    assert vault.get("m-1", "tokens") == big
    [(service, user)] = memory_keyring.entries
    assert (service, user) == (SERVICE, "account-key:m-1")
    assert len(memory_keyring.entries[(service, user)]) < WINDOWS_CHAR_LIMIT
    [blob] = _files(profile.secrets)
    assert big.encode() not in blob.read_bytes() and big[:40].encode() not in blob.read_bytes()
    if os.name == "posix":
        assert stat.S_IMODE(blob.stat().st_mode) == 0o600
        assert stat.S_IMODE(blob.parent.stat().st_mode) == 0o700


def test_accounts_have_separate_keys_and_sign_out_removes_only_theirs(
    vault: KeyringVault, memory_keyring: MemoryKeyring, profile: Profile
) -> None:
    vault.put("g-1", "tokens", "one", new_account=True)
    vault.put("g-2", "tokens", "two", new_account=True)
    keys = {u: v for (_, u), v in memory_keyring.entries.items()}
    assert keys["account-key:g-1"] != keys["account-key:g-2"]

    vault.delete_account("g-1")

    assert vault.get("g-1", "tokens") is None and vault.get("g-2", "tokens") == "two"
    assert "account-key:g-1" not in {u for _, u in memory_keyring.entries}
    assert not (profile.secrets / "g-1").exists()
    vault.delete_account("g-1")  # twice is fine


def test_key_deleted_behind_our_back_reads_as_signed_out(
    vault: KeyringVault, memory_keyring: MemoryKeyring
) -> None:
    vault.put("g-1", "tokens", "secret-value", new_account=True)
    memory_keyring.delete_password(SERVICE, "account-key:g-1")

    assert vault.get("g-1", "tokens") is None
    # Writing must not quietly mint a new key: the deletion meant "forget this sign-in".
    with pytest.raises(VaultKeyMissing) as err:
        vault.put("g-1", "tokens", "secret-value")
    assert "secret-value" not in str(err.value)
    vault.put("g-1", "tokens", "fresh", new_account=True)  # a new sign-in starts afresh
    assert vault.get("g-1", "tokens") == "fresh"


def test_damaged_or_swapped_blobs_are_unreadable_not_a_crash(
    vault: KeyringVault, profile: Profile, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    vault.put("g-1", "tokens", "first-secret", new_account=True)
    vault.put("g-1", "other", "second-secret")
    folder = profile.secrets / "g-1"
    # Same key, other entry's ciphertext: the name inside the blob gives it away.
    (folder / "tokens.enc").write_bytes((folder / "other.enc").read_bytes())
    assert vault.get("g-1", "tokens") is None
    (folder / "other.enc").write_bytes(b"garbage")
    assert vault.get("g-1", "other") is None
    assert "belongs elsewhere" in caplog.text and "could not be decrypted" in caplog.text
    assert "first-secret" not in caplog.text and "second-secret" not in caplog.text


def test_ids_cannot_escape_the_secrets_folder(vault: KeyringVault) -> None:
    for bad in ("../x", "a/b", "", ".hidden", "x" * 65):
        with pytest.raises(ValueError) as err:
            vault.put(bad, "tokens", "s3cr3t", new_account=True)
        assert "s3cr3t" not in str(err.value) and (not bad or bad not in str(err.value))


class _AltPlaintext(keyring.backend.KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def get_password(self, service: str, username: str) -> str | None:
        return None

    def set_password(self, service: str, username: str, password: str) -> None:
        raise AssertionError("must never be written to")

    def delete_password(self, service: str, username: str) -> None:
        pass


_AltPlaintext.__module__ = "keyrings.alt.file"


@pytest.mark.parametrize(
    "backend",
    [fail.Keyring(), null.Keyring(), _AltPlaintext()],
    ids=["fail", "null", "keyrings.alt"],
)
def test_no_real_keyring_is_refused_with_a_clear_message(
    backend: keyring.backend.KeyringBackend, profile: Profile
) -> None:
    assert keyring_problem(backend) is not None
    keyring.set_keyring(backend)
    with pytest.raises(SecretStoreUnavailable) as err:
        open_vault(profile)
    assert "password store" in err.value.message and "--allow-file-store" in err.value.message
    assert err.value.title == "No safe place for passwords"
    with pytest.raises(SecretStoreUnavailable):
        KeyringVault(profile.secrets).put("g-1", "tokens", "x", new_account=True)
    assert _files(profile.secrets) == []


def test_a_chain_is_judged_by_its_first_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chainer.ChainerBackend, "backends", [])
    assert keyring_problem(chainer.ChainerBackend()) is not None
    monkeypatch.setattr(chainer.ChainerBackend, "backends", [MemoryKeyring(), _AltPlaintext()])
    assert keyring_problem(chainer.ChainerBackend()) is None
    monkeypatch.setattr(chainer.ChainerBackend, "backends", [_AltPlaintext(), MemoryKeyring()])
    assert keyring_problem(chainer.ChainerBackend()) is not None


def test_explicitly_allowed_file_store_is_labelled_insecure(profile: Profile) -> None:
    keyring.set_keyring(fail.Keyring())
    vault = open_vault(profile, allow_file_store=True)
    assert isinstance(vault, FileVault) and not vault.secure and "INSECURE" in vault.label
    vault.put("g-1", "tokens", "file-secret", new_account=True)
    assert vault.get("g-1", "tokens") == "file-secret"
    assert all(b"file-secret" not in p.read_bytes() for p in _files(profile.secrets))
    vault.delete_account("g-1")
    assert _files(profile.secrets) == []


def test_a_locked_keyring_gives_a_clear_error_without_the_secret(
    profile: Profile, memory_keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    def locked(*args: object) -> None:
        raise keyring.errors.KeyringLocked("cannot store 'hunter2-key' while locked")

    monkeypatch.setattr(memory_keyring, "set_password", locked)
    with pytest.raises(SecretStoreUnavailable) as err:
        KeyringVault(profile.secrets).put("g-1", "tokens", "hunter2", new_account=True)
    assert "hunter2" not in str(err.value) and err.value.__cause__ is None
    assert "Unlock" in err.value.message


def test_sandbox_and_memory_stores_say_what_they_are(profile: Profile) -> None:
    sandbox_vault = open_vault(profile, sandbox=True)
    assert "sandbox" in sandbox_vault.label and not sandbox_vault.secure
    memory = MemoryVault()
    assert "throwaway" in memory.label
    memory.put("g-1", "tokens", "t", new_account=True)
    assert memory.get("g-1", "tokens") == "t"
    with pytest.raises(VaultKeyMissing):
        memory.put("g-2", "tokens", "t")
    memory.delete_account("g-1")
    assert memory.get("g-1", "tokens") is None
