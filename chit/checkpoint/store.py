"""Where sessions live, finding one by id, prefix or path, and listing them.

Listing reads a file's header and its tail (the last checkpoint and what follows it), not
the whole file, and falls back to :func:`~chit.checkpoint.scan.tally` only when the tail
does not suffice.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from chit.checkpoint.figures import (
    figures_totals,
    get_dict,
    get_int,
    get_opt_str,
    usage_row,
)
from chit.checkpoint.journal import FORMAT, SCHEMA_VERSION
from chit.checkpoint.read import TurnCounter, session_id_of
from chit.checkpoint.scan import tally
from chit.errors import SessionError
from chit.pricing import Cost
from chit.usage import FIELDS, Usage

SUFFIX = ".jsonl"

#: How much of a file's end listing reads to find its last checkpoint.
_TAIL = 64 * 1024


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


def _session_files(home: str | Path | None) -> list[tuple[int, Path]]:
    """``(mtime_ns, path)`` of every session file, newest first."""
    folder = sessions_dir(home)
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return []
    except OSError as e:
        raise SessionError(f"cannot read {folder}: {e.strerror or e}") from None
    files: list[tuple[int, Path]] = []
    for entry in entries:
        if entry.name.endswith(SUFFIX) and not entry.name.startswith("."):
            try:
                files.append((entry.stat().st_mtime_ns, Path(entry.path)))
            except OSError:
                continue  # removed while we looked
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


def latest_path(home: str | Path | None) -> Path:
    """The most recently written session file."""
    files = _session_files(home)
    if not files:
        raise SessionError(f"no sessions yet in {sessions_dir(home)}")
    return files[0][1]


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
    requests: int
    """Provider requests made."""
    tokens: Usage
    """Their summed usage."""
    cost: Cost
    """Their summed cost."""
    path: Path
    """The session file."""
    modified_ns: int = 0
    """When it was last written (nanoseconds since the epoch)."""
    warnings: list[str] = field(default_factory=list)
    """Problems found while reading it (when the whole file had to be read)."""


def list_sessions(home: str | Path | None, problems: list[str] | None = None) -> list[SessionInfo]:
    """Every readable session, most recently written first.

    A file that is not a session chit can read is left out, and said so in ``problems``.
    """
    out: list[SessionInfo] = []
    for mtime, path in _session_files(home):
        try:
            info = summary(path, mtime)
        except SessionError as e:
            if problems is not None:
                problems.append(str(e))
            continue
        out.append(info)
    return out


def summary(path: Path, mtime: int = 0) -> SessionInfo:
    """A session's figures from its header and last checkpoint; :func:`tally` when needed."""
    try:
        with open(path, "rb") as f:
            first = f.readline(1 << 20)
            size = f.seek(0, os.SEEK_END)
            start = max(len(first), size - _TAIL)
            f.seek(start)
            tail = f.read()
    except OSError as e:
        raise SessionError(f"cannot read {path}: {e.strerror or e}") from None
    fast = _from_tail(path, first, tail, start == len(first), mtime)
    if fast is not None:
        return fast
    read = tally(path)
    report = read.report
    return SessionInfo(
        report.session_id,
        get_opt_str(read.header, "created_at"),
        list(report.by_model),
        report.turns,
        report.totals.requests,
        report.totals.usage,
        report.totals.cost,
        path,
        mtime,
        read.warnings,
    )


def _from_tail(
    path: Path, first: bytes, tail: bytes, whole: bool, mtime: int
) -> SessionInfo | None:
    try:
        header = orjson.loads(first)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        return None
    version = header.get("schema_version", 1)
    if version != SCHEMA_VERSION or not first.endswith(b"\n") or not tail.endswith(b"\n"):
        return None  # other versions, and damage, take tally's careful path
    pieces = tail.split(b"\n")[:-1]
    if not whole:
        pieces = pieces[1:]  # the tail starts inside a line
    after: list[dict[str, object]] = []
    checkpoint: dict[str, object] | None = None
    for piece in reversed(pieces):
        try:
            line = orjson.loads(piece)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(line, dict):
            return None
        if line.get("type") == "checkpoint":
            checkpoint = line
            break
        after.append(line)
    if checkpoint is None:
        return None
    snap = get_dict(checkpoint, "token_snapshot")
    turn, requests = get_int(checkpoint, "turn"), get_int(snap, "requests")
    models = checkpoint.get("models")
    usage, unknown = get_dict(snap, "usage"), get_dict(snap, "unknown")
    if (
        turn is None
        or requests is None
        or not isinstance(models, list)
        or "cost" not in snap
        or any(f not in usage for f in FIELDS)
        or any(get_int(unknown, side) is None for side in ("input_tokens", "output_tokens"))
    ):
        return None  # an older or partial snapshot: count from the lines instead
    tokens = Usage.from_json({**usage, "unknown": unknown})
    cost = Cost.from_json(get_dict(snap, "cost"))
    seen = dict.fromkeys(m for m in models if isinstance(m, str))
    turns = TurnCounter()
    turns.checkpoint(turn)
    usage_lines = [line for line in reversed(after) if line.get("type") == "usage"]
    if any(not isinstance(line.get("cost"), dict) for line in usage_lines):
        return None  # needs pricing: tally does that
    rows = [usage_row(line) for line in usage_lines]
    for stated, model, _ in rows:
        turns.usage(stated)
        seen.setdefault(model, None)
    since = figures_totals([figures for _, _, figures in rows])
    return SessionInfo(
        session_id_of(header, path),
        get_opt_str(header, "created_at"),
        list(seen),
        turns.last,
        requests + since.requests,
        tokens + since.usage,
        cost + since.cost,
        path,
        mtime,
    )
