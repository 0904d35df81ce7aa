"""The intake package's exceptions: one base class, a shallow hierarchy."""

from __future__ import annotations


class IntakeError(Exception):
    """Base class of every error raised by :mod:`intake`."""


class ConfigError(IntakeError):
    """The configuration is missing a value or has a wrong one; the message names the key."""


class InvalidReport(IntakeError):
    """A channel handed over a report that cannot be stored (the message names the field)."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class IllegalTransition(IntakeError):
    """An action that the case's current status does not allow."""

    def __init__(self, case_number: str, status: str, action: str) -> None:
        super().__init__(f"case {case_number}: cannot {action} a case that is {status}")
        self.case_number = case_number
        self.status = status
        self.action = action


class CaseNotFound(IntakeError):
    """No case has that number."""


class AuthError(IntakeError):
    """A credential is missing, wrong, revoked or lacks the role for what was asked."""


class DeliveryFailed(IntakeError):
    """A sender could not deliver a message. ``permanent``: retrying cannot help (a bad number)."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class DownloadRefused(IntakeError):
    """An attachment URL a sender gave points where downloads may not go (scheme, host, address)."""
