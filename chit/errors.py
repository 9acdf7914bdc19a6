"""chit's exceptions: one root, each with the exit status the command line gives it."""

from __future__ import annotations


class ChitError(Exception):
    """Root of every error chit raises on purpose; its message is one line a user can act on."""

    exit_code = 1


class BadInput(ChitError):
    """Bad usage or input: a flag, a missing credential, an unreadable session file."""

    exit_code = 2


class NoCredentials(BadInput):
    """No API key or endpoint is configured for the chosen provider."""


class SessionError(BadInput):
    """A session file that cannot be loaded: not a session, from a newer chit, not found."""


class BudgetSpent(ChitError):
    """The session's cost or token budget was spent before the turn could run."""

    exit_code = 3


class SessionBusy(BadInput):
    """Another process is writing the session (it holds the session file's lock)."""
