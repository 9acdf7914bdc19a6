"""Reading a session file, the parts the readers share: opening it, the header and its
version, the in-memory migrations, decoding a line, turn numbering, the warnings about
what a file holds.

Readers (:mod:`.loader`, :mod:`.scan`) raise only :class:`~chit.errors.SessionError`.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from chit.checkpoint.figures import get_int, snapshot_from, totals_figures, usd_json
from chit.checkpoint.journal import FORMAT, SCHEMA_VERSION
from chit.errors import SessionError
from chit.state import Totals

#: ``MIGRATIONS[v]`` turns a line of version ``v`` into one of version ``v + 1`` (in memory).
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}


#: How many line numbers or disagreements one warning lists before it summarizes.
_LIST_AT_MOST = 10


@contextmanager
def opened(path: Path, buffering: int = -1) -> Iterator[BinaryIO]:
    """The session file, open for reading (``buffering`` as for :func:`open`); an error
    reading it is a :class:`SessionError`."""
    try:
        with open(path, "rb", buffering=buffering) as f:
            yield f
    except FileNotFoundError:
        raise SessionError(f"no session file {path}") from None
    except IsADirectoryError:
        raise SessionError(f"{path} is a folder, not a session file") from None
    except OSError as e:
        raise SessionError(f"cannot read {path}: {e.strerror or e}") from None


def read_header(f: BinaryIO, path: Path) -> tuple[bytes, dict[str, Any], int]:
    """The first line (without its newline), the header it holds (migrated) and the version
    it was written with; :class:`SessionError` when the file is no session chit reads."""
    first = f.readline()
    if not first or first.isspace():
        if not first or (first + f.read()).isspace():
            raise SessionError(f"{path} is not a chit session (the file is empty)")
        raise SessionError(f"{path} is not a chit session (no session header)")
    if not first.endswith(b"\n"):
        raise SessionError(f"{path} is not a chit session (no complete header line)")
    first = first[:-1]
    header = _header(first, path)
    version: int = header.get("schema_version", 1)
    if version < SCHEMA_VERSION:
        header = migrate(header, version)
    return first, header, version


def _header(first: bytes, path: Path) -> dict[str, Any]:
    try:
        header = orjson.loads(first)
    except orjson.JSONDecodeError:
        header = None
    if (
        not isinstance(header, dict)
        or header.get("type") != "session"
        or header.get("format") != FORMAT
    ):
        raise SessionError(f"{path} is not a chit session (no session header)")
    version = header.get("schema_version", 1)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise SessionError(f"{path} has an unreadable schema_version: {version!r}")
    if version > SCHEMA_VERSION:
        raise SessionError(
            f"{path} was written by a newer chit (session schema version {version}; "
            f"this chit reads versions up to {SCHEMA_VERSION}); it was left untouched"
        )
    return header


def decode(text: bytes | bytearray, version: int) -> tuple[str, dict[str, Any]] | None:
    """A line's type and fields, migrated from ``version``; ``None`` for a damaged line."""
    try:
        line = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    kind = line.get("type") if isinstance(line, dict) else None
    if not isinstance(kind, str) or kind == "session":
        return None
    return kind, (line if version == SCHEMA_VERSION else migrate(line, version))


@contextmanager
def no_cycle_collection() -> Iterator[None]:
    """Reading makes tens of thousands of small objects and no cycles: the cycle collector
    would only walk them again and again."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def migrate(line: dict[str, Any], version: int) -> dict[str, Any]:
    """A line of schema ``version`` as the current version reads it."""
    for v in range(version, SCHEMA_VERSION):
        line = MIGRATIONS[v](line)
    return line


def numbers(numbers: list[int]) -> str:
    """Line numbers for a warning, the first few of them."""
    shown = ", ".join(map(str, numbers[:_LIST_AT_MOST]))
    more = len(numbers) - _LIST_AT_MOST
    return shown + (f" and {more} more" if more > 0 else "")


def session_id_of(header: dict[str, Any], path: Path) -> str:
    """The session's id: its header's, else the file's name."""
    session_id = header.get("session_id")
    return session_id if isinstance(session_id, str) and session_id else path.stem


def damage_warnings(torn_line: int | None, bad: list[int]) -> list[str]:
    """Warnings for a torn last line (its number) and damaged lines (theirs)."""
    out: list[str] = []
    if torn_line is not None:
        out.append(f"line {torn_line} is incomplete (a write was cut off before its end): ignored")
    if bad:
        out.append(f"skipped {len(bad)} damaged line(s): {numbers(bad)}")
    return out


def disagreements(
    line: dict[str, Any], number: int, turn: int, totals: Totals, messages: int | None
) -> list[str]:
    """How a checkpoint line's snapshot differs from the totals derived up to it (and from
    the conversation's ``messages``, unless ``None``); one entry per figure."""
    stored = line.get("token_snapshot")
    same_messages = messages is None or line.get("messages", messages) == messages
    if same_messages and isinstance(stored, dict) and _as_written(stored, totals):
        return []  # the common case, checked without reading the snapshot's figures
    figures = snapshot_from(stored) if isinstance(stored, dict) else {}
    derived = totals_figures(totals)
    if messages is not None:
        stored_messages = get_int(line, "messages")
        if stored_messages is not None:
            figures["messages"] = stored_messages
        derived["messages"] = messages
    return [
        f"line {number} (turn {turn}): {key} {value} in the snapshot, {derived[key]} from the lines"
        for key, value in figures.items()
        if derived[key] != value
    ]


def _as_written(stored: dict[str, Any], totals: Totals) -> bool:
    """Whether a snapshot holds these totals' figures as chit writes them."""
    u = totals.usage
    cost = stored.get("cost")
    return (
        stored.get("requests") == totals.requests
        and stored.get("usage") == u.counts()
        and stored.get("unknown")
        == {"input_tokens": u.input_unknown, "output_tokens": u.output_unknown}
        and isinstance(cost, dict)
        and cost.get("usd") == usd_json(totals.cost.usd)
    )


def disagree_warning(disagree: list[str]) -> list[str]:
    """The warning for snapshot disagreements (none for none)."""
    if not disagree:
        return []
    more = len(disagree) - _LIST_AT_MOST
    shown = "; ".join(disagree[:_LIST_AT_MOST]) + (f"; and {more} more" if more > 0 else "")
    return [f"checkpoint snapshots disagree with the usage lines, which win: {shown}"]


def repriced_warning(repriced: int) -> list[str]:
    """The warning for usage lines that lacked their cost."""
    if not repriced:
        return []
    return [f"{repriced} request(s) had no recorded cost and were priced again"]


class TurnCounter:
    """Turn numbers as the lines give them. A usage or checkpoint line without one belongs
    to the turn in progress: the highest so far if a usage line came since the last
    checkpoint, else the next. Numbers are never reused."""

    __slots__ = ("last", "open")

    def __init__(self) -> None:
        self.last = 0
        """The highest turn number so far."""
        self.open = False
        """A usage line came since the last checkpoint."""

    def usage(self, turn: int | None) -> int:
        """The turn of a usage line stating ``turn`` (``None``: it states none)."""
        # Written out in both methods, not shared through a third: a report calls these
        # for every line, and the extra call cost tally 3 %.
        if turn is None:
            turn = self.last if self.open else self.last + 1
        if turn > self.last:
            self.last = turn
        self.open = True
        return turn

    def checkpoint(self, turn: int | None) -> int:
        """The turn a checkpoint line stating ``turn`` closes."""
        if turn is None:
            turn = self.last if self.open else self.last + 1
        if turn > self.last:
            self.last = turn
        self.open = False
        return turn
