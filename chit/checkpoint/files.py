"""Files written whole: a new session (its first lines), a fork, an export; and folders.

A file appears under its name complete or not at all: it is written beside its place,
synced, and renamed into place.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from chit.checkpoint.journal import FileOps, JournalWriteError, encode, redact, write_all
from chit.checkpoint.lock import Lock, hold


def make_dir(path: Path) -> None:
    """Create a folder and any missing parents, each readable by its owner only (0700);
    folders that exist are left as they are."""
    missing = [p for p in (path, *path.parents) if not p.is_dir()]
    try:
        for folder in reversed(missing):
            folder.mkdir(mode=0o700, exist_ok=True)
            os.chmod(folder, 0o700)  # whatever the umask
    except OSError as e:
        raise JournalWriteError(f"cannot create the folder {path}: {e.strerror or e}") from None


def write_atomic(
    dest: Path,
    lines: Iterable[dict[str, Any] | bytes],
    ops: FileOps,
    secrets_: tuple[str, ...],
    *,
    sync: bool = True,
    lock_as: str | None = None,
) -> tuple[int, Lock | None]:
    """Write a whole file beside ``dest``, ``fsync`` it (unless not ``sync``: a new
    session whose first line is not synced either) and rename it into place (0600);
    returns its length, and with ``lock_as`` (a session id) this process's lock on it,
    taken before the file appears under its name.

    ``lines`` are dicts to encode, or lines already encoded (without their newline).

    On any failure or interruption (Ctrl-C) the temporary file is removed and ``dest`` is
    as it was.
    """
    import secrets  # here, not at the top: readers import this module and never need it

    tmp = dest.with_name(f".{dest.name}.{secrets.token_hex(4)}.tmp")
    fd: int | None = None
    held: Lock | None = None
    length = 0
    try:
        fd = ops.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        chunk: list[bytes] = []
        size = 0
        for line in lines:
            chunk.append(
                encode(line, secrets_) if isinstance(line, dict) else redact(line + b"\n", secrets_)
            )
            size += len(chunk[-1])
            if size >= 1 << 20:
                write_all(ops, fd, b"".join(chunk))
                length, chunk, size = length + size, [], 0
        write_all(ops, fd, b"".join(chunk))
        length += size
        if sync:
            ops.fsync(fd)
        opened: int = fd
        fd = None
        if lock_as is None:
            ops.close(opened)
        else:  # the lock owns the file from here
            held = hold(opened, lock_as)
        ops.replace(tmp, dest)
    except BaseException as e:
        if held is not None:
            held.release()
        if fd is not None:
            with contextlib.suppress(OSError):
                ops.close(fd)
        _remove(ops, tmp)
        if isinstance(e, OSError):
            raise JournalWriteError(f"cannot write {dest}: {e.strerror or e}") from None
        raise
    with contextlib.suppress(OSError):
        ops.fsync_dir(dest.parent)
    return length, held


def _remove(ops: FileOps, path: Path) -> None:
    with contextlib.suppress(OSError):
        ops.unlink(path)
