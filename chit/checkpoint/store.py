"""Where sessions live, finding one by id, prefix or path, and listing them.

Listing starts reading each file after its last checkpoint whose seal holds (the figures it
states are those of the lines before it, which are as they were when it was written), and
from the top when none does: its figures are always those :func:`~chit.checkpoint.load`
derives from the usage lines.
"""

from __future__ import annotations

import os
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chit.checkpoint.codec import (
    get_dict,
    get_int,
    get_opt_str,
    seal,
    snapshot_json,
    snapshot_totals,
)
from chit.checkpoint.home import sessions_dir
from chit.checkpoint.journal import FORMAT, SCHEMA_VERSION
from chit.checkpoint.loaded import session_id_of
from chit.checkpoint.reader import Reader, Tab, decode, not_regular, opened, read_header
from chit.errors import SessionError
from chit.state import Totals

SUFFIX = ".jsonl"

#: How far from a file's end listing looks for a sealed checkpoint.
_TAIL = 64 * 1024

#: How long a header line may be.
_HEADER_AT_MOST = 1 << 20


def _session_files(
    home: str | Path | None, problems: list[str] | None = None
) -> list[tuple[int, Path]]:
    """``(mtime_ns, path)`` of every session file, newest first: the regular files named
    ``*.jsonl`` (links followed). Any other entry so named (a folder, a named pipe, a link
    to a device) is left out, and said so in ``problems``."""
    folder = sessions_dir(home)
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return []
    except OSError as e:
        raise SessionError(f"cannot read {folder}: {e.strerror or e}") from None
    files: list[tuple[int, Path]] = []
    for entry in entries:
        if not entry.name.endswith(SUFFIX) or entry.name.startswith("."):
            continue
        try:
            st = entry.stat()
        except OSError as e:
            if os.path.lexists(entry.path) and problems is not None:  # else: removed meanwhile
                problems.append(f"{entry.path}: {e.strerror or e}")
            continue
        kind = not_regular(st.st_mode)
        if kind is None:
            files.append((st.st_mtime_ns, Path(entry.path)))
        elif problems is not None:
            problems.append(f"{entry.path} is {kind}, not a session file")
    files.sort(key=lambda f: (f[0], f[1].name), reverse=True)
    return files


def _looks_like_path(ref: str) -> bool:
    return os.sep in ref or "/" in ref or ref.endswith(SUFFIX) or ref.startswith((".", "~"))


def find(ref: str | Path, home: str | Path | None) -> Path:
    """The file a session reference names: a path, a session id, or a unique id prefix."""
    if isinstance(ref, Path) or _looks_like_path(ref):
        path = Path(ref).expanduser()
        if path.is_file():
            return path
        # A bare file name: the one in the sessions folder.
        if path.name == str(ref) and (sessions_dir(home) / path.name).is_file():
            return sessions_dir(home) / path.name
        raise SessionError(f"no session file {path}")
    if not ref.strip():
        raise SessionError("an empty session id")
    files = [p for _, p in _session_files(home)]
    exact = [p for p in files if p.stem == ref]
    if exact:
        return exact[0]
    matches = [p for p in files if p.stem.startswith(ref)]
    if not matches:
        if Path(ref).is_file():
            return Path(ref)
        raise SessionError(f"no session {ref!r} in {sessions_dir(home)}")
    if len(matches) > 1:
        names = ", ".join(p.stem for p in matches[:5])
        more = f" and {len(matches) - 5} more" if len(matches) > 5 else ""
        raise SessionError(
            f"{ref!r} matches {len(matches)} sessions ({names}{more}); give more of the id"
        )
    return matches[0]


def latest_path(home: str | Path | None, problems: list[str] | None = None) -> Path:
    """The most recently written session file. Newer entries that are no session at all
    (an empty file, a folder, a named pipe, ...) are passed over, and said so in
    ``problems``; a session this chit cannot read (from a newer chit) is not passed over."""
    skipped: list[str] = []
    try:
        for _, path in _session_files(home, skipped):
            why = _not_a_session(path)
            if why is None:
                return path
            skipped.append(why)
    finally:
        if problems is not None:
            problems += skipped
    others = f" (skipped {len(skipped)} entries that are not sessions)" if skipped else ""
    raise SessionError(f"no sessions yet in {sessions_dir(home)}{others}")


def _not_a_session(path: Path) -> str | None:
    """Why the file is no session (``None``: it is one); :class:`SessionError` when it is a
    session this chit cannot read."""
    first = b""
    try:
        with opened(path) as f:
            first = f.readline(_HEADER_AT_MOST)
        read_header(first, path)
    except SessionError as e:
        line = decode(first)
        if line is not None and line["type"] == "session" and line.get("format") == FORMAT:
            raise
        return str(e)
    return None


@dataclass(frozen=True)
class SessionInfo:
    """One line of ``chit sessions``."""

    session_id: str
    """The session's id."""
    started: str | None
    """When it was created (ISO-8601 UTC), as its header says."""
    models: list[str]
    """Reported models, in order of first use."""
    turns: int
    """Turns (numbers used so far)."""
    totals: Totals
    """Every request it made."""
    path: Path
    """The session file."""
    forked_from: str | None = None
    """The parent's id, when the session is a fork."""
    cwd: str | None = None
    """The working folder it was started in, as its header says."""


def list_sessions(home: str | Path | None, problems: list[str] | None = None) -> list[SessionInfo]:
    """Every readable session, most recently written first.

    A file that is not a session chit can read is left out, and said so in ``problems``.
    """
    out: list[SessionInfo] = []
    for _, path in _session_files(home, problems):
        try:
            out.append(summary(path))
        except SessionError as e:
            if problems is not None:
                problems.append(str(e))
    return out


def summary(path: Path) -> SessionInfo:
    """A session's line in the listing; :class:`SessionError` when it is no session."""
    with opened(path) as f:
        data = f.read()
    header, version, start = read_header(data, path)
    sealed = last_sealed(data, start) if version == SCHEMA_VERSION else None
    if sealed is None:
        reader = Reader(version, messages=False)
        reader.read(data, start, 2)
    else:  # the figures the checkpoint was sealed with, and the lines after it
        end, line = sealed
        snapshot = snapshot_totals(get_dict(line, "token_snapshot"))
        reader = Reader(version, messages=False, tab=Tab(snapshot, line["models"], line["turn"]))
        reader.read(data, end, data.count(b"\n", 0, end) + 1)
    tab = reader.tab
    return SessionInfo(
        session_id_of(header, path),
        get_opt_str(header, "created_at"),
        list(tab.models),
        tab.turn,
        tab.totals,
        path,
        get_opt_str(header, "forked_from"),
        get_opt_str(header, "cwd"),
    )


def last_sealed(data: bytes, start: int) -> tuple[int, dict[str, Any]] | None:
    """The last checkpoint in the file's tail, if its seal holds, and where the lines after
    it start; else ``None``. ``start``: where the line after the header starts."""
    floor = max(start, len(data) - _TAIL)
    end = data.rfind(b"\n") + 1  # after the last whole line: a torn one is not looked at
    while end > start:
        begin = data.rfind(b"\n", start - 1, end - 1) + 1  # the header's newline at least
        if begin < floor:
            return None
        line = decode(data[begin : end - 1])
        if line is not None and line["type"] == "checkpoint":
            return (end, line) if _seal_holds(data, begin, line) else None
        end = begin
    return None


def _seal_holds(data: bytes, begin: int, line: dict[str, Any]) -> bool:
    """Whether a checkpoint line starting at ``begin`` has the seal of the bytes before it
    and of the figures it states, and states them as chit writes them."""
    stated = get_dict(line, "seal")
    crc = get_int(stated, "crc32")
    if get_int(stated, "bytes") != begin or crc is None or get_int(line, "turn") is None:
        return False
    models, snapshot = line.get("models"), get_dict(line, "token_snapshot")
    if not isinstance(models, list) or not all(isinstance(m, str) for m in models):
        return False
    if snapshot != snapshot_json(snapshot_totals(snapshot)):
        return False
    return seal(zlib.crc32(memoryview(data)[:begin]), line) == crc
