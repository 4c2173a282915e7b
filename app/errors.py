"""Typed errors. Each carries a title and a message a person can act on.

They are sorted at one boundary (the services layer), as Maestral does: ``AuthRequired`` leads to a
re-link prompt, ``Offline`` and ``ServiceUnavailable`` pause and resume, ``ItemError`` subclasses
become a sync issue listed on the item, ``CursorExpired`` and ``PreconditionFailed`` are handled by
the engine itself (full read; re-read and re-plan). Messages never contain tokens or event content.
"""

from __future__ import annotations


class MeridianError(Exception):
    title = "Something went wrong"

    def __init__(self, message: str, *, title: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if title is not None:
            self.title = title

    def __str__(self) -> str:
        return f"{self.title}: {self.message}"


class ConfigError(MeridianError):
    title = "Invalid setting"


class UsageError(MeridianError):
    title = "Invalid command"


# --- talking to a calendar service --------------------------------------------------------


class ProviderError(MeridianError):
    """Anything a calendar service answered (or failed to answer)."""

    def __init__(
        self, message: str, *, title: str | None = None, status: int | None = None
    ) -> None:
        super().__init__(message, title=title)
        self.status = status


class AuthRequired(ProviderError):
    title = "Sign-in needed"


class Offline(ProviderError):
    title = "Can't reach the calendar service"


class ServiceUnavailable(ProviderError):
    """Throttled or failing after every retry the provider allows."""

    title = "Calendar service is busy"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after


class CursorExpired(ProviderError):
    title = "Full re-read needed"


class PreconditionFailed(ProviderError):
    """The event changed since we read it (etag/changeKey mismatch)."""

    title = "Event changed meanwhile"


class ItemError(ProviderError):
    """A problem with one event only: the run goes on, the item gets a visible sync issue."""

    title = "An event could not be synced"


class NotFound(ItemError):
    title = "Event no longer exists"


class Rejected(ItemError):
    """The service refused the event as written (400-class answer)."""

    title = "The calendar service refused an event"


class AlreadyExists(ItemError):
    """A create with an idempotency key that was used before."""

    title = "Event exists already"


class Unparseable(ItemError):
    title = "An event could not be read"


# --- signing in and keeping secrets (app/auth) ----------------------------------------------


class SecretStoreUnavailable(MeridianError):
    """No safe place for sign-in secrets (no OS keyring), or it refused to answer."""

    title = "No safe place for passwords"


class SignInFailed(MeridianError):
    """A sign-in did not complete: cancelled, denied, timed out or answered oddly."""

    title = "Sign-in did not complete"


# --- organization policy (app/policy) ------------------------------------------------------


class PolicyError(MeridianError):
    """Something the organization's managed policy decides (see app/policy)."""

    title = "Organization policy"

    def __init__(self, message: str, *, key: str | None = None, title: str | None = None) -> None:
        super().__init__(message, title=title)
        self.key = key


class PolicyLocked(PolicyError):
    """The person tried to change a setting the policy locks."""

    title = "Set by your organization"


class PolicyForbidden(PolicyError):
    """A value outside what the policy allows (a bound, an allow-list, a disabled feature)."""

    title = "Not allowed by your organization"
