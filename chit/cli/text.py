"""Text helpers that need nothing else of chit: whether the terminal wants plain text, and
a model name fit for a column (the chat's banner and toolbar use them before anything
else loads)."""

from __future__ import annotations

import os


def plain_terminal() -> bool:
    """True when colour is unwanted: ``NO_COLOR`` set, or ``TERM=dumb``."""
    return bool(os.environ.get("NO_COLOR")) or os.environ.get("TERM") == "dumb"


#: The widest a model name is shown before it is shortened in the middle.
MODEL_WIDTH = 28


def short_model(name: str, width: int = MODEL_WIDTH) -> str:
    """A model name fit for a column: a file path (a local server's model) by its file
    name, anything still too long with its middle left out."""
    if "/" in name and len(name) > width:
        name = name.rstrip("/").rsplit("/", 1)[-1] or name
    if len(name) <= width:
        return name
    keep = width - 1
    return f"{name[: (keep + 1) // 2]}…{name[len(name) - keep // 2 :]}"
