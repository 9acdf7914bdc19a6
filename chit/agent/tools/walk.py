"""Walking a folder for ``list_files`` and ``search``: glob patterns, the root's
``.gitignore``, and a budget of time and bytes.

The walk skips hidden entries (``.git`` among them) and what the root's ``.gitignore``
ignores, and never follows a symlink into a folder. ``.gitignore`` support: blank lines and
``#`` comments, ``*``, ``?``, ``[...]`` and ``**``, a trailing ``/`` (folders only), a
leading or inner ``/`` (relative to the root, else the name matches at any depth) and ``!``
(the last matching line decides). Only the root's file is read: not the ones in
subfolders, ``.git/info/exclude`` or a global excludes file.
"""

from __future__ import annotations

import os
import re
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

#: The most bytes of a ``.gitignore`` read (a bigger one is read that far).
_GITIGNORE_BYTES = 1 << 20


def glob_regex(pattern: str) -> re.Pattern[str]:
    """A glob pattern as a regular expression over ``/``-separated relative paths: ``*``
    and ``?`` stay inside one name, ``**`` crosses folders (``**/`` also matches none)."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[" and (end := pattern.find("]", i + 2)) != -1:
            body = pattern[i + 1 : end]
            negate = body[0] in "!^"
            chars = "".join(c if c == "-" else re.escape(c) for c in body[negate:])
            out.append(f"[{'^' if negate else ''}{chars}]")
            i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out), re.S)


@dataclass(frozen=True)
class _Rule:
    regex: re.Pattern[str]
    negate: bool
    folders_only: bool
    anchored: bool


@dataclass(frozen=True)
class Gitignore:
    """The patterns of one ``.gitignore``, matched against paths relative to its folder."""

    rules: tuple[_Rule, ...] = ()

    @classmethod
    def read(cls, folder: Path) -> Gitignore:
        """The folder's ``.gitignore``; empty when there is none (or it is no regular file)."""
        path = folder / ".gitignore"
        try:
            if not stat.S_ISREG(os.stat(path).st_mode):
                return cls()
            with open(path, "rb") as f:
                text = f.read(_GITIGNORE_BYTES).decode("utf-8", "replace")
        except OSError:
            return cls()
        return cls(tuple(rule for line in text.splitlines() if (rule := _rule(line))))

    def ignored(self, rel: str, is_dir: bool) -> bool:
        """Whether the path ``rel`` (``/``-separated, relative to the folder) is ignored."""
        name = rel.rpartition("/")[2]
        ignored = False
        for rule in self.rules:
            if rule.folders_only and not is_dir:
                continue
            if rule.regex.fullmatch(rel if rule.anchored else name):
                ignored = not rule.negate
        return ignored


def _rule(line: str) -> _Rule | None:
    line = line.rstrip()
    if not line or line.startswith("#"):
        return None
    negate = line.startswith("!")
    line = line[negate:]
    folders_only = line.endswith("/")
    line = line.rstrip("/")
    if not line:
        return None
    anchored = "/" in line  # git: a slash anywhere but the end ties the pattern to the root
    return _Rule(glob_regex(line.lstrip("/")), negate, folders_only, anchored)


@dataclass
class Budget:
    """Time and bytes a walk may spend; :attr:`stopped` says which ran out."""

    seconds: float
    """Seconds from the start."""
    bytes: int
    """Bytes of files read."""
    read: int = 0
    """Bytes read so far (the reader adds them)."""
    stopped: str | None = None
    """Why the work stopped early, for the result; ``None`` while within budget."""
    _start: float = field(default_factory=time.monotonic)

    def spent(self) -> bool:
        """Whether the budget is spent (and :attr:`stopped` says so)."""
        if self.stopped is None:
            if time.monotonic() - self._start >= self.seconds:
                self.stopped = f"stopped after {self.seconds:g} s"
            elif self.read >= self.bytes:
                self.stopped = f"stopped after reading {self.bytes / 2**20:g} MB"
        return self.stopped is not None


@dataclass(frozen=True, slots=True)
class Entry:
    """A file or folder met on a walk."""

    path: Path
    rel: str
    """Its path relative to where the walk started, ``/``-separated."""
    is_dir: bool
    """A folder (a symlink to one is not: the walk does not follow it)."""
    is_link: bool


def walk(base: Path, root: Path, budget: Budget) -> Iterator[Entry]:
    """The entries under ``base``, each folder's in name order, until the budget is spent.

    Hidden entries are skipped, and inside ``root`` what its ``.gitignore`` ignores.
    """
    ignore = Gitignore()
    prefix = ""
    try:
        inside = base.resolve().relative_to(root.resolve()).as_posix()
    except (ValueError, OSError, RuntimeError):
        pass  # outside the root: its .gitignore says nothing here
    else:
        ignore = Gitignore.read(root)
        prefix = "" if inside == "." else inside + "/"
    folders = [(base, "")]
    while folders:
        folder, rel = folders.pop()
        try:
            with os.scandir(folder) as it:
                found = sorted(it, key=lambda e: e.name)
        except OSError:
            continue
        below: list[tuple[Path, str]] = []
        for e in found:
            if budget.spent():
                return
            if e.name.startswith("."):
                continue
            is_dir = e.is_dir(follow_symlinks=False)
            if ignore.rules and ignore.ignored(prefix + rel + e.name, is_dir):
                continue
            yield Entry(Path(e.path), rel + e.name, is_dir, e.is_symlink())
            if is_dir:
                below.append((Path(e.path), f"{rel}{e.name}/"))
        folders.extend(reversed(below))
