"""Project instructions: ``AGENTS.md`` (else ``CLAUDE.md``) from the working folder and each
folder above it up to the repository's root, added to the system prompt.

They are read once, when the agent is built, so the system prompt stays byte-identical
from one request to the next and the provider's prompt cache holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

#: The file names looked for in each folder, the first found taken.
NAMES = ("AGENTS.md", "CLAUDE.md")

_HEADING = (
    "# Project instructions\n\n"
    "The files below hold instructions for this project, the outermost folder's first; "
    "a later file is more specific. Follow them."
)


@dataclass(frozen=True, slots=True)
class Instructions:
    """The instruction files found and the text they add to the system prompt."""

    files: tuple[Path, ...] = ()
    """The files read, the outermost first."""
    text: str = ""
    """The block added to the system prompt (empty when no file was found)."""
    problems: tuple[str, ...] = ()
    """Files that could not be read, one line each."""

    def system(self, base: str) -> str:
        """``base`` with the instructions after it."""
        return f"{base}\n\n{self.text}" if self.text else base


def folders(cwd: Path) -> list[Path]:
    """The folders whose instructions apply in ``cwd``, the outermost first: from the
    repository's root (the nearest folder above holding ``.git``) down to ``cwd``; just
    ``cwd`` outside a repository."""
    cwd = cwd.absolute()
    chain: list[Path] = []
    for folder in [cwd, *cwd.parents]:
        chain.append(folder)
        if (folder / ".git").exists():
            return chain[::-1]
    return [cwd]


def find(cwd: Path) -> Instructions:
    """The project instructions that apply in ``cwd``."""
    files: list[Path] = []
    parts = [_HEADING]
    problems: list[str] = []
    for folder in folders(cwd):
        path = next((folder / n for n in NAMES if (folder / n).is_file()), None)
        if path is None:
            continue
        try:
            content = path.read_bytes().decode("utf-8", "replace")
        except OSError as e:
            problems.append(f"cannot read {path}: {e.strerror or e}")
            continue
        files.append(path)
        parts.append(f"## {path}\n\n{content.strip()}")
    if not files:
        return Instructions(problems=tuple(problems))
    return Instructions(tuple(files), "\n\n".join(parts), tuple(problems))
