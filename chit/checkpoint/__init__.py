"""Sessions: the crash-safe journal of messages, usage records and checkpoints.

The line format is documented in :mod:`chit.checkpoint.journal`; every command reads a file
with :class:`chit.checkpoint.reader.Reader`. This package imports only chit's bottom layer.
"""

from typing import TYPE_CHECKING

from chit.later import on_first_use

if TYPE_CHECKING:
    from chit.checkpoint.codec import SavedBudget
    from chit.checkpoint.home import home_dir, sessions_dir
    from chit.checkpoint.journal import SCHEMA_VERSION, FileOps, JournalWriteError
    from chit.checkpoint.loaded import Loaded, load
    from chit.checkpoint.session import Session
    from chit.checkpoint.store import SessionInfo, find, latest_path, list_sessions

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

# Each module loads when one of its names is first asked for (a chat's first prompt needs
# only the home).
__getattr__ = on_first_use(
    globals(),
    {
        "chit.checkpoint.codec": ("SavedBudget",),
        "chit.checkpoint.home": ("home_dir", "sessions_dir"),
        "chit.checkpoint.journal": ("SCHEMA_VERSION", "FileOps", "JournalWriteError"),
        "chit.checkpoint.loaded": ("Loaded", "load"),
        "chit.checkpoint.session": ("Session",),
        "chit.checkpoint.store": ("SessionInfo", "find", "latest_path", "list_sessions"),
    },
)
