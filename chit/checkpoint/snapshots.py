"""What a file held before a tool changed it, kept beside the session for ``/rewind``.

Contents are kept content-addressed in the session's folder (``<id>.files/<sha256>``,
0600, the folder 0700), never in the journal; the journal gets one ``snapshot`` event per
file and turn: ``path`` (absolute), ``turn``, ``sha256`` (``null``: the file did not exist).
It is an event only (older readers skip it), so it does not bump the schema version.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chit.checkpoint.codec import get_int, get_opt_str
from chit.checkpoint.files import make_dir
from chit.checkpoint.journal import JournalWriteError

#: The event type of a file's snapshot.
EVENT = "snapshot"

_DIGEST = re.compile(r"[0-9a-f]{64}")


def folder_of(session_path: Path) -> Path:
    """Where a session keeps the contents: beside its file, ``<id>.files``."""
    return session_path.with_name(session_path.stem + ".files")


def keep(folder: Path, path: Path) -> str | None:
    """Keep what ``path`` holds now; its sha256 (hex), or ``None`` when it does not exist."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as e:
        raise JournalWriteError(f"cannot keep {path} before a change: {e.strerror or e}") from None
    digest = hashlib.sha256(data).hexdigest()
    blob = folder / digest
    if blob.is_file():
        return digest
    make_dir(folder)
    tmp = folder / f".{digest}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with open(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, blob)
    except OSError as e:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise JournalWriteError(f"cannot keep {path} in {folder}: {e.strerror or e}") from None
    return digest


def copy_all(source: Path, dest: Path) -> None:
    """A fork's contents: those its parent kept (linked where the file system allows)."""
    if not source.is_dir():
        return
    make_dir(dest)
    for blob in source.iterdir():
        target = dest / blob.name
        if blob.name.startswith(".") or target.exists():
            continue
        try:
            os.link(blob, target)
        except OSError:
            try:
                shutil.copy2(blob, target)
                target.chmod(0o600)
            except OSError as e:
                raise JournalWriteError(
                    f"cannot copy {blob} to {dest}: {e.strerror or e}"
                ) from None


@dataclass(frozen=True, slots=True)
class FileChange:
    """A file a tool changed, and what it held before."""

    path: Path
    """The file."""
    turn: int
    """The turn that changed it."""
    sha256: str | None
    """Its content before, by hash; ``None``: it did not exist."""

    def restore(self, folder: Path) -> None:
        """Put the file back as it was (remove it when it did not exist)."""
        if self.sha256 is None:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            return
        try:
            data = (folder / self.sha256).read_bytes()
        except OSError as e:
            raise JournalWriteError(
                f"cannot restore {self.path}: its kept content is missing ({e.strerror or e})"
            ) from None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_bytes(data)


def event(path: Path, turn: int, sha256: str | None) -> dict[str, Any]:
    """The fields of a ``snapshot`` event."""
    return {"path": str(path), "turn": turn, "sha256": sha256}


def changes_after(events: list[dict[str, Any]], turn: int) -> list[FileChange]:
    """The files changed after checkpoint ``turn``, each with what it held then (its first
    snapshot after it), in the order they were first changed."""
    first: dict[str, FileChange] = {}
    for line in events:
        if line["type"] != EVENT:
            continue
        path, changed = get_opt_str(line, "path"), get_int(line, "turn")
        if path is None or changed is None or changed <= turn or path in first:
            continue
        digest = get_opt_str(line, "sha256")
        if digest is not None and not _DIGEST.fullmatch(digest):
            continue  # not a name this chit gave: nothing to restore from
        first[path] = FileChange(Path(path), changed, digest)
    return list(first.values())
