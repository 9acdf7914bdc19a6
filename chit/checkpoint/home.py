"""Where chit keeps its files: its home, and the sessions folder in it.

Nothing else of chit is imported here, so a chat can name its history file and a new
session's path before the session format loads.
"""

from __future__ import annotations

import os
from pathlib import Path


def home_dir(home: str | Path | None) -> Path:
    """chit's home: ``home`` (``--home``), else ``CHIT_HOME``, else the user data folder."""
    if home is None or str(home) == "":
        home = os.environ.get("CHIT_HOME") or None
    if home is None:
        import platformdirs

        return Path(platformdirs.user_data_dir("chit", appauthor=False))
    return Path(home).expanduser()


def sessions_dir(home: str | Path | None) -> Path:
    """The folder of session files: ``<home>/sessions``."""
    return home_dir(home) / "sessions"
