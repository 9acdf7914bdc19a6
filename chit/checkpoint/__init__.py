"""Sessions: the crash-safe journal of messages, usage records and checkpoints.

The line format is documented in :mod:`chit.checkpoint.journal`; loading in
:mod:`chit.checkpoint.load`. This package imports only chit's bottom layer.
"""

from chit.checkpoint.journal import SCHEMA_VERSION, FileOps, JournalWriteError
from chit.checkpoint.load import Checkpoint, Loaded, load
from chit.checkpoint.session import Session
from chit.checkpoint.store import SessionInfo, find, home_dir, list_sessions, sessions_dir

__all__ = [
    "SCHEMA_VERSION",
    "Checkpoint",
    "FileOps",
    "JournalWriteError",
    "Loaded",
    "Session",
    "SessionInfo",
    "find",
    "home_dir",
    "list_sessions",
    "load",
    "sessions_dir",
]
