"""Sessions: the crash-safe journal of messages, usage records and checkpoints.

The line format is documented in :mod:`chit.checkpoint.journal`; loading in
:mod:`chit.checkpoint.loader`. This package imports only chit's bottom layer.

Names are imported on first use: ``chit usage`` reads figures with :func:`tally` and
never pays for the writer, the full loader or the message types.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the names, for type checkers; at run time __getattr__ imports them
    from chit.checkpoint.journal import SCHEMA_VERSION, FileOps, JournalWriteError
    from chit.checkpoint.loader import Checkpoint, Loaded, load
    from chit.checkpoint.scan import Tally, tally
    from chit.checkpoint.session import Session
    from chit.checkpoint.store import (
        SessionInfo,
        find,
        home_dir,
        latest_path,
        list_sessions,
        sessions_dir,
    )

_WHERE = {
    "SCHEMA_VERSION": "journal",
    "FileOps": "journal",
    "JournalWriteError": "journal",
    "Checkpoint": "loader",
    "Loaded": "loader",
    "load": "loader",
    "Session": "session",
    "SessionInfo": "store",
    "find": "store",
    "home_dir": "store",
    "latest_path": "store",
    "list_sessions": "store",
    "sessions_dir": "store",
    "Tally": "scan",
    "tally": "scan",
}

__all__ = [
    "SCHEMA_VERSION",
    "Checkpoint",
    "FileOps",
    "JournalWriteError",
    "Loaded",
    "Session",
    "SessionInfo",
    "Tally",
    "find",
    "home_dir",
    "latest_path",
    "list_sessions",
    "load",
    "sessions_dir",
    "tally",
]


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    globals()[name] = value
    return value
