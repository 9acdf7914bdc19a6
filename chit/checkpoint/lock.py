"""One writer per session: the lock a process holds on a session file while it writes it.

The lock is ``flock`` (exclusive, never waiting) on the session file itself. It belongs to
the open file, so it is freed when that file is closed or its process dies, ``kill -9``
included, and not when some other descriptor of the same file (a reader's) is closed, as a
POSIX ``fcntl`` lock would be. No lock file is left beside the session. Readers never take
it and never wait for it.

The writer is the process: a second :class:`~chit.checkpoint.Session` of the same file in
the same process shares its lock. The holder's pid, for the message another process gets,
is the kernel's (``/proc/locks`` on Linux, which lists every ``flock`` with the pid that
took it); where no such table can be read, the message names no pid.
"""

from __future__ import annotations

import fcntl
import os
import stat
from pathlib import Path

from chit.errors import SessionBusy, SessionError

#: The session files this process holds the lock of: (device, inode) -> [fd, holders].
_HELD: dict[tuple[int, int], list[int]] = {}


class Lock:
    """This process's hold on one session file's lock."""

    def __init__(self, key: tuple[int, int]) -> None:
        self._key: tuple[int, int] | None = key

    def release(self) -> None:
        """Let go (once; later calls do nothing). The file's lock is freed when the last
        holder in this process lets go."""
        key, self._key = self._key, None
        if key is None:
            return
        entry = _HELD[key]
        entry[1] -= 1
        if entry[1] == 0:
            del _HELD[key]
            os.close(entry[0])


def take(path: Path, session_id: str) -> Lock:
    """Take the lock of the session file at ``path``; :class:`SessionBusy` when another
    process holds it."""
    try:
        # Non-blocking: a named pipe put in place of the file must not hang the open.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as e:
        raise SessionError(f"cannot open {path}: {e.strerror or e}") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise SessionError(f"{path} is not a regular file")
    return hold(fd, session_id)


def hold(fd: int, session_id: str) -> Lock:
    """Take the lock of the file open at ``fd``, which the lock then owns (it is closed
    here when the lock cannot be taken)."""
    try:
        st = os.fstat(fd)
        key = (st.st_dev, st.st_ino)
        if key in _HELD:  # this process writes it already
            os.close(fd)
            _HELD[key][1] += 1
            return Lock(key)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SessionBusy(busy(session_id, holder(st))) from None
        except OSError:
            pass  # a file system without flock: no process can lock the file, each goes on
    except BaseException:
        os.close(fd)
        raise
    _HELD[key] = [fd, 1]
    return Lock(key)


def busy(session_id: str, pid: int | None) -> str:
    """The one line a process gets for a session another process writes."""
    who = "another process" if pid is None else f"another process (pid {pid})"
    return f"session {session_id} is being written by {who}; --fork continues it as a new session"


def holder(st: os.stat_result) -> int | None:
    """The pid of the process holding the ``flock`` of the file ``st`` describes, as the
    kernel lists it; ``None`` when it cannot be told."""
    try:
        with open("/proc/locks", encoding="ascii", errors="replace") as f:
            table = f.read()
    except OSError:
        return None
    exact = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    same_inode: list[int] = []
    for row in table.splitlines():
        # "1: FLOCK  ADVISORY  WRITE 8949 fe:00:2146404 0 EOF"; a waiter's row has "->".
        fields = row.split()
        if len(fields) < 6 or fields[1] != "FLOCK" or fields[3] != "WRITE":
            continue
        if not fields[4].isdigit():
            continue
        pid, where = int(fields[4]), fields[5]
        if where == exact:
            return pid
        # A stacked file system (overlayfs) may list the lower device: the inode still tells.
        if where.rsplit(":", 1)[-1] == str(st.st_ino):
            same_inode.append(pid)
    return same_inode[0] if len(same_inode) == 1 else None
