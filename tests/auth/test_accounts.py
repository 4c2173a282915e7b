"""The accounts service: accounts per cloud, sign-out, "needs sign-in" told once, re-auth."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import keyring
import pytest
from authkit import api_get, oauth_log
from conftest import MemoryKeyring
from keyring.backends import fail

from app.auth import google_oauth
from app.auth.vault import SERVICE, KeyringVault
from app.errors import AuthRequired, SecretStoreUnavailable, SignInFailed, UsageError
from app.paths import Profile
from app.sandbox.admin import SandboxAdmin, SandboxUser
from app.sandbox.server import Sandbox
from app.services.accounts import Account, AccountService, AccountStatus
from app.store.repo import Repo


def _add(service: AccountService, admin: SandboxAdmin, user: SandboxUser, **kw: object) -> Account:
    admin.auto_approve(user.service, user.id)
    account = service.add(user.service, timeout=10, **kw)  # type: ignore[arg-type]
    assert account.email == user.email
    return account


def _pair(repo: Repo, a: str | None, b: str | None, direction: str = "both") -> str:
    pair_id = f"p-{uuid.uuid4().hex[:6]}"
    repo.add_pair(
        pair_id,
        pair_id,
        {"a": {"account": a, "calendar": "x"}, "b": {"account": b}, "direction": direction},
    )
    return pair_id


def _paused(repo: Repo, pair_id: str) -> str | None:
    pair = repo.pair(pair_id)
    assert pair is not None
    return pair.paused_reason


def test_two_accounts_per_cloud_keep_separate_tokens(
    sandbox: Sandbox,
    admin: SandboxAdmin,
    service: AccountService,
    memory_keyring: MemoryKeyring,
    profile: Profile,
) -> None:
    users = [
        admin.create_user(cloud, f"{cloud[0]}{i}-{uuid.uuid4().hex[:6]}@example.com")
        for cloud in ("google", "microsoft")
        for i in (1, 2)
    ]
    accounts = [_add(service, admin, u) for u in users]

    assert len({a.id for a in accounts}) == 4
    assert {u for _, u in memory_keyring.entries} == {f"account-key:{a.id}" for a in accounts}
    assert len(set(memory_keyring.entries.values())) == 4
    for account, user in zip(accounts, users, strict=True):
        token = service.token_source(account.id).access_token()
        assert sandbox.state.resolve_access(user.service, token) == (user.id, "")
        assert (profile.secrets / account.id / "tokens.enc").is_file()
    # Signing out of one leaves its sibling on the same cloud untouched.
    service.remove(accounts[0].id)
    service.remove(accounts[2].email)
    assert service.token_source(accounts[1].id).access_token()
    assert service.token_source(accounts[3].id).access_token(force_refresh=True)
    listed = {a.id: a.status for a in service.accounts()}
    assert listed[accounts[0].id] is listed[accounts[2].id] is AccountStatus.SIGNED_OUT
    assert listed[accounts[1].id] is listed[accounts[3].id] is AccountStatus.OK


def test_sign_out_removes_secrets_revokes_and_pauses_pairs_without_deleting_them(
    sandbox: Sandbox,
    admin: SandboxAdmin,
    service: AccountService,
    google_user: SandboxUser,
    memory_keyring: MemoryKeyring,
    profile: Profile,
    repo: Repo,
    vault: KeyringVault,
) -> None:
    account = _add(service, admin, google_user)
    stored = json.loads(vault.get(account.id, google_oauth.ENTRY) or "{}")
    pair_id = _pair(repo, "m-other", account.id)
    mine = _pair(repo, None, account.id)
    repo.set_paused(mine, "paused by me")

    out = service.remove(google_user.email)

    assert out.revoked is True and out.paused_pairs == (pair_id,)
    assert (SERVICE, f"account-key:{account.id}") not in memory_keyring.entries
    assert not (profile.secrets / account.id).exists()
    assert sandbox.state.refresh_record("google", stored["refresh_token"]) is None
    assert "revoke" in [e["kind"] for e in oauth_log(sandbox, service.config.google.client_id)]
    assert service.get(account.id).status is AccountStatus.SIGNED_OUT
    assert repo.pair(pair_id) is not None and _paused(repo, pair_id) == (
        f"account-signed_out:{account.id}"
    )
    assert _paused(repo, mine) == "paused by me"  # the person's own pause is theirs
    with pytest.raises(AuthRequired):
        service.token_source(account.id).access_token()
    assert service.get(account.id).status is AccountStatus.SIGNED_OUT  # not "needs sign-in"
    # Signing in again with the same address reuses the account and resumes its pairs.
    again = _add(service, admin, google_user)
    assert again.id == account.id and again.status is AccountStatus.OK
    assert _paused(repo, pair_id) is None and _paused(repo, mine) == "paused by me"
    actions = [r["action"] for r in repo.audit_rows()]
    assert actions == ["account.sign_in", "account.sign_out", "account.sign_in"]


def test_revocation_marks_needs_sign_in_tells_once_and_one_click_resumes(
    sandbox: Sandbox,
    admin: SandboxAdmin,
    service: AccountService,
    ms_user: SandboxUser,
    google_user: SandboxUser,
    repo: Repo,
) -> None:
    ms = _add(service, admin, ms_user)
    google = _add(service, admin, google_user)
    pair_id = _pair(repo, ms.id, google.id)
    admin.revoke(ms_user.id)
    source = service.token_source(ms.id)

    for _ in range(3):  # every poll fails the same way...
        with pytest.raises(AuthRequired) as err:
            source.access_token(force_refresh=True)
        assert ms_user.email in err.value.message and "Sign in again" in err.value.message
    # ...but the person is told once.
    assert [a.id for a in service.take_notices()] == [ms.id]
    assert service.take_notices() == []
    assert service.get(ms.id).status is AccountStatus.NEEDS_SIGN_IN
    assert _paused(repo, pair_id) == f"account-needs_sign_in:{ms.id}"
    assert service.token_source(google.id).access_token()  # the other account is unaffected
    audit = [r for r in repo.audit_rows() if r["action"] == "account.needs_sign_in"]
    assert len(audit) == 1 and audit[0]["details"]["paused_pairs"] == [pair_id]

    admin.auto_approve("microsoft", ms_user.id)
    again = service.reauthenticate(ms.id, timeout=10)

    assert again.status is AccountStatus.OK and _paused(repo, pair_id) is None
    token = service.token_source(ms.id).access_token()
    assert api_get(sandbox, f"{sandbox.urls.graph}/me/calendars", token).status_code == 200
    assert service.take_notices() == []


def test_a_pair_waits_for_all_of_its_accounts(
    admin: SandboxAdmin,
    service: AccountService,
    ms_user: SandboxUser,
    google_user: SandboxUser,
    repo: Repo,
) -> None:
    ms = _add(service, admin, ms_user)
    google = _add(service, admin, google_user)
    pair_id = _pair(repo, ms.id, google.id)
    service.mark_needs_sign_in(ms.id)
    service.remove(google.id)
    admin.auto_approve("microsoft", ms_user.id)
    service.reauthenticate(ms.id, timeout=10)
    assert _paused(repo, pair_id) == f"account-signed_out:{google.id}"


def test_keyring_entry_deleted_behind_our_back_needs_sign_in_not_a_crash(
    admin: SandboxAdmin,
    service: AccountService,
    google_user: SandboxUser,
    memory_keyring: MemoryKeyring,
    repo: Repo,
) -> None:
    account = _add(service, admin, google_user)
    pair_id = _pair(repo, None, account.id)
    memory_keyring.delete_password(SERVICE, f"account-key:{account.id}")

    with pytest.raises(AuthRequired):
        service.token_source(account.id).access_token()
    assert service.get(account.id).status is AccountStatus.NEEDS_SIGN_IN
    assert _paused(repo, pair_id) is not None
    assert [a.id for a in service.take_notices()] == [account.id]
    admin.auto_approve("google", google_user.id)
    assert service.reauthenticate(account.id, timeout=10).status is AccountStatus.OK


def test_a_live_source_notices_the_deleted_key_when_it_must_refresh(
    admin: SandboxAdmin,
    service: AccountService,
    ms_user: SandboxUser,
    memory_keyring: MemoryKeyring,
) -> None:
    account = _add(service, admin, ms_user)
    source = service.token_source(account.id)
    assert source.access_token()
    memory_keyring.delete_password(SERVICE, f"account-key:{account.id}")
    with pytest.raises(AuthRequired):
        source.access_token(force_refresh=True)
    assert service.get(account.id).status is AccountStatus.NEEDS_SIGN_IN


def test_no_keyring_means_no_sign_in_and_nothing_written(
    sandbox: Sandbox,
    admin: SandboxAdmin,
    service: AccountService,
    google_user: SandboxUser,
    profile: Profile,
) -> None:
    admin.auto_approve("google", google_user.id)
    opened: list[str] = []
    service.opener = lambda url: bool(opened.append(url))
    keyring.set_keyring(fail.Keyring())

    with pytest.raises(SecretStoreUnavailable) as err:
        service.add("google", timeout=5)

    assert "password store" in err.value.message
    assert opened == [] and service.accounts() == []
    assert [p for p in Path(profile.secrets).rglob("*") if p.is_file()] == []
    assert oauth_log(sandbox, service.config.google.client_id) == []


def test_reauthentication_must_be_the_same_person(
    sandbox: Sandbox, admin: SandboxAdmin, service: AccountService, google_user: SandboxUser
) -> None:
    account = _add(service, admin, google_user)
    other = admin.create_user("google", f"other-{uuid.uuid4().hex[:6]}@example.com")
    admin.auto_approve("google", other.id)
    with pytest.raises(SignInFailed, match=google_user.email):
        service.reauthenticate(account.id, timeout=10)
    # The stray grant of the other person was revoked, and the account's own still works.
    assert service.token_source(account.id).access_token(force_refresh=True)
    kinds = [e["kind"] for e in oauth_log(sandbox, service.config.google.client_id)]
    assert kinds.count("revoke") == 1


def test_google_read_only_follows_the_pairs(
    sandbox: Sandbox,
    admin: SandboxAdmin,
    service: AccountService,
    google_user: SandboxUser,
    repo: Repo,
) -> None:
    account = _add(service, admin, google_user)
    assert service.google_read_only(account.id) is False  # no pair yet: may write
    _pair(repo, "m-x", account.id, "b_to_a")  # Google -> Outlook only
    assert service.google_read_only(account.id) is True
    service.reauthenticate(account.id, timeout=10)
    auth = [
        e for e in oauth_log(sandbox, service.config.google.client_id) if e["kind"] == "authorize"
    ]
    assert google_oauth.EVENTS_READONLY in auth[-1]["scopes"]
    assert google_oauth.EVENTS not in auth[-1]["scopes"]
    _pair(repo, "m-y", account.id, "both")
    assert service.google_read_only(account.id) is False


def test_usage_errors(service: AccountService, admin: SandboxAdmin, ms_user: SandboxUser) -> None:
    with pytest.raises(UsageError):
        service.add("yahoo")
    with pytest.raises(UsageError, match="device-code"):
        service.add("google", device_code=True)
    with pytest.raises(UsageError, match="no account"):
        service.remove("nobody@example.com")
    account = _add(service, admin, ms_user)
    with pytest.raises(UsageError, match="Sign out"):
        service.forget(account.id)
    service.remove(account.id)
    service.forget(account.id)
    assert service.accounts() == []


def test_device_code_sign_in_through_the_service(
    admin: SandboxAdmin, service: AccountService, ms_user: SandboxUser, device_prompts: list
) -> None:
    admin.auto_approve("microsoft", ms_user.id)
    account = service.add("microsoft", device_code=True, timeout=10)
    assert account.email == ms_user.email and len(device_prompts) == 1
    assert service.token_source(account.id).access_token()
