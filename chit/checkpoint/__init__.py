"""Sessions: the crash-safe journal of messages, usage records and checkpoints.

The line format is documented in :mod:`chit.checkpoint.journal`; every command reads a file
with :class:`chit.checkpoint.reader.Reader`. This package imports only chit's bottom layer.
"""

import importlib
from typing import TYPE_CHECKING, Any

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

#: Where each name lives; a module is loaded when one of its names is first asked for (a
#: chat's first prompt needs only the home).
_WHERE = {
    "SavedBudget": "chit.checkpoint.codec",
    "home_dir": "chit.checkpoint.home",
    "sessions_dir": "chit.checkpoint.home",
    "SCHEMA_VERSION": "chit.checkpoint.journal",
    "FileOps": "chit.checkpoint.journal",
    "JournalWriteError": "chit.checkpoint.journal",
    "Loaded": "chit.checkpoint.loaded",
    "load": "chit.checkpoint.loaded",
    "Session": "chit.checkpoint.session",
    "SessionInfo": "chit.checkpoint.store",
    "find": "chit.checkpoint.store",
    "latest_path": "chit.checkpoint.store",
    "list_sessions": "chit.checkpoint.store",
}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_WHERE[name]), name)
    globals()[name] = value
    return value
