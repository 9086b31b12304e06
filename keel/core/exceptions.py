"""Errors a person can cause. Each carries a message that person can act on.

Views, the API and the CLI map these to a response once; services raise them before they
write anything, so a rejected request leaves the data as it was.
"""

from collections.abc import Sequence


class KeelError(Exception):
    """A request Keel refuses, with a message for the person who made it."""

    def __init__(self, message: str, *, details: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.details = list(details)

    def __str__(self) -> str:
        if not self.details:
            return self.message
        return self.message + "\n" + "\n".join(f"  - {detail}" for detail in self.details)


class InvalidInput(KeelError):
    """The input breaks a rule of the domain (a bad value, a missing reason)."""


class NotAllowed(KeelError):
    """The person may not do this to this object."""


class StaleVersion(KeelError):
    """The change was based on an old version of the object; nothing was written."""
