"""Sessions: the crash-safe journal of messages, usage records and checkpoints.

The line format is documented in :mod:`chit.checkpoint.journal`; every command reads a file
with :class:`chit.checkpoint.reader.Reader`. This package imports only chit's bottom layer.
"""

from chit.checkpoint.codec import SavedBudget
from chit.checkpoint.journal import SCHEMA_VERSION, FileOps, JournalWriteError
from chit.checkpoint.loaded import Loaded, load
from chit.checkpoint.session import Session
from chit.checkpoint.store import (
    SessionInfo,
    find,
    home_dir,
    latest_path,
    list_sessions,
    sessions_dir,
)

__all__ = [
    "SCHEMA_VERSION",
    "FileOps",
    "JournalWriteError",
    "Loaded",
    "SavedBudget",
    "Session",
    "SessionInfo",
    "find",
    "home_dir",
    "latest_path",
    "list_sessions",
    "load",
    "sessions_dir",
]
