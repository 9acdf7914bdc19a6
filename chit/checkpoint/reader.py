"""Reading a session file: the one loop every command reads lines with.

Each line is decoded whole, whatever the order of its keys, and taken by its type; damage
is skipped and reported with its line number, a torn last line is ignored, lines of an
older schema version are migrated in memory, and a file from a newer chit is refused.
Nothing is ever written to the file being read.

Defaults for what a line lacks: a message's role is ``user``, its texts empty, its lists
empty; a usage line's counts are unknown, its turn the one in progress (the highest so far
if a usage line came since the last checkpoint, else the next), its ``ended``
``complete``, and a missing cost is priced again; a checkpoint's turn is the one in
progress; a snapshot figure it lacks is "not recorded" and is not compared. A rewind
without a checkpoint to go back to is ignored. Totals always come from the usage lines.

The conversation is the one the last checkpoint (or rewind) holds: messages of a turn that
never finished are left out, though its requests count. A ``compact`` line starts it again
from its summary (the lines before stay, for a rewind to go back to).

Readers raise only :class:`~chit.errors.SessionError`.
"""

from __future__ import annotations

import io
import os
import stat
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from chit.checkpoint.codec import (
    ROLES,
    budget_from,
    get_dict,
    get_int,
    get_str,
    message_from,
    record_from,
    snapshot_figures,
    totals_figures,
)
from chit.checkpoint.journal import FORMAT, SCHEMA_VERSION
from chit.errors import SessionError
from chit.messages import Message, summary_message
from chit.state import RequestRecord, Totals

#: ``MIGRATIONS[v]`` turns a line of version ``v`` into one of version ``v + 1`` (in memory).
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {
    1: lambda line: line,  # version 2 added a line type; a version 1 line reads as it is
}

#: How many line numbers one warning lists before it summarizes.
_LIST_AT_MOST = 10


@contextmanager
def opened(path: Path) -> Iterator[BinaryIO]:
    """The session file, open for reading; an error reading it, or anything but a regular
    file (a folder, a named pipe, a device), is a :class:`SessionError`."""
    try:
        # Non-blocking: opening a named pipe for reading would wait for a writer.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise SessionError(f"no session file {path}") from None
    except OSError as e:
        raise SessionError(f"cannot read {path}: {e.strerror or e}") from None
    kind = not_regular(os.fstat(fd).st_mode)
    if kind is not None:
        os.close(fd)
        raise SessionError(f"{path} is {kind}, not a session file")
    with open(fd, "rb") as f:
        try:
            yield f
        except OSError as e:
            raise SessionError(f"cannot read {path}: {e.strerror or e}") from None


def not_regular(mode: int) -> str | None:
    """What a file of this ``st_mode`` is when it is not a regular file: "a folder", ..."""
    if stat.S_ISREG(mode):
        return None
    kinds = {
        stat.S_ISDIR: "a folder",
        stat.S_ISFIFO: "a named pipe",
        stat.S_ISCHR: "a device",
        stat.S_ISBLK: "a device",
        stat.S_ISSOCK: "a socket",
    }
    return next((name for test, name in kinds.items() if test(mode)), "a special file")


def read_header(data: bytes, path: Path) -> tuple[dict[str, Any], int, int]:
    """The header a file's first line holds (migrated), the version it was written with,
    and where the next line starts; :class:`SessionError` when it is no session chit reads."""
    end = data.find(b"\n")
    first = data if end < 0 else data[:end]
    if not first.strip():
        why = "the file is empty" if not data.strip() else "no session header"
        raise SessionError(f"{path} is not a chit session ({why})")
    if end < 0:
        raise SessionError(f"{path} is not a chit session (no complete header line)")
    header = decode(first)
    if header is None or header["type"] != "session" or header.get("format") != FORMAT:
        raise SessionError(f"{path} is not a chit session (no session header)")
    version = header.get("schema_version", 1)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise SessionError(f"{path} has an unreadable schema_version: {version!r}")
    if version > SCHEMA_VERSION:
        raise SessionError(
            f"{path} was written by a newer chit (session schema version {version}; "
            f"this chit reads versions up to {SCHEMA_VERSION}); it was left untouched"
        )
    return migrate(header, version), version, end + 1


def decode(text: bytes) -> dict[str, Any] | None:
    """A line's fields; ``None`` unless it is a JSON object with a ``type``."""
    try:
        line = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(line, dict) or not isinstance(line.get("type"), str):
        return None
    return line


def migrate(line: dict[str, Any], version: int) -> dict[str, Any]:
    """A line of schema ``version`` as the current version reads it."""
    for v in range(version, SCHEMA_VERSION):
        line = MIGRATIONS[v](line)
    return line


class Tab:
    """What the usage lines add up to so far, and the turn numbering: what a checkpoint's
    snapshot records and ``chit sessions`` shows. The reader takes every usage and
    checkpoint line through it, and so does the writer, for the lines it writes."""

    __slots__ = ("models", "open", "totals", "turn")

    def __init__(
        self, totals: Totals | None = None, models: Iterable[str] = (), turn: int = 0
    ) -> None:
        self.totals = totals or Totals()
        """Every request so far."""
        self.models = dict.fromkeys(models)
        """Reported models, in order of first use."""
        self.turn = turn
        """The highest turn number so far."""
        self.open = False
        """A usage line came since the last checkpoint."""

    def copy(self) -> Tab:
        """A tab that goes on from here on its own."""
        tab = Tab(self.totals, self.models, self.turn)
        tab.open = self.open
        return tab

    def usage(self, line: dict[str, Any]) -> RequestRecord:
        """The record of a ``usage`` line, counted."""
        record = record_from(line, self._turn(get_int(line, "turn")))
        self.open = True
        self.totals = self.totals.plus(record)
        self.models.setdefault(record.response.model_name, None)
        return record

    def checkpoint(self, line: dict[str, Any]) -> int:
        """The turn a ``checkpoint`` line closes."""
        turn = self._turn(get_int(line, "turn"))
        self.open = False
        return turn

    def _turn(self, stated: int | None) -> int:
        # A line without a turn number belongs to the turn in progress. Numbers are never
        # reused, whatever a line states.
        turn = stated if stated is not None else self.turn + (not self.open)
        self.turn = max(self.turn, turn)
        return turn


class Node:
    """One message in a persistent list: a checkpoint keeps its conversation in O(1)."""

    __slots__ = ("message", "parent")

    def __init__(self, message: Message, parent: Node | None) -> None:
        self.message = message
        self.parent = parent


#: A conversation: how many messages it holds, and the node of its last one (``None`` when
#: it is empty, or when the messages are not built).
Conversation = tuple[int, Node | None]
EMPTY: Conversation = (0, None)


def messages_of(conversation: Conversation) -> list[Message]:
    """The messages of a conversation, oldest first."""
    out: list[Message] = []
    node = conversation[1]
    while node is not None:
        out.append(node.message)
        node = node.parent
    out.reverse()
    return out


class Reader:
    """The state a file's lines build, one line at a time.

    With ``messages`` false (reports), message lines are decoded and checked but no
    :class:`~chit.messages.Message` is built, and the lines are not kept: the figures and
    the warnings are the same.
    """

    def __init__(self, version: int, messages: bool = True, tab: Tab | None = None) -> None:
        self.version = version
        self.messages = messages
        self.tab = tab or Tab()
        self.records: list[RequestRecord] = []
        self.events: list[dict[str, Any]] = []
        self.lines: list[bytes] = []
        """Every readable line as written (no newline): what a copy or fork writes."""
        self.heads: dict[int, Conversation] = {}
        """The conversation as each checkpoint left it, by turn."""
        self.head = EMPTY  # the conversation as the lines so far build it
        self.committed = EMPTY  # ... as of the last checkpoint or rewind
        self.committed_turn = 0  # ... which is that checkpoint's turn
        self.torn: int | None = None
        self.bad: list[int] = []
        self.bad_rewinds: list[int] = []
        self.last_checkpoint: tuple[dict[str, Any], int, int, Totals, int] | None = None
        """The last checkpoint line, its number and turn, and the totals and the
        conversation's length then: its snapshot is checked once the lines are read."""
        self.repriced = 0
        self.problems: list[str] = []

    def read(self, data: bytes, start: int, number: int) -> None:
        """Take the lines of ``data`` from offset ``start``, the first being line ``number``."""
        lines = io.BytesIO(data)  # read line by line, without copying the lines out first
        lines.seek(start)
        for n, text in enumerate(lines, number):
            if not text.endswith(b"\n"):
                self.torn = n  # the last line, cut off by a crash: ignored
            elif text != b"\n":
                self.line(n, text)

    def line(self, number: int, text: bytes) -> None:
        """Take one line (with its newline)."""
        line = decode(text)
        if line is None or line["type"] == "session":
            self.bad.append(number)
            return
        if self.version != SCHEMA_VERSION:
            line = migrate(line, self.version)
        kind = line["type"]
        if kind == "message":
            if line.get("role", "user") not in ROLES:
                self.bad.append(number)
                return
            length, node = self.head
            self.head = length + 1, Node(message_from(line), node) if self.messages else None
        elif kind == "usage":
            self.records.append(self.tab.usage(line))
            self.repriced += not isinstance(line.get("cost"), dict)
        elif kind == "checkpoint":
            self._checkpoint(line, number)
        elif kind == "rewind":
            self._rewind(line, number)
        elif kind == "compact":  # the conversation starts again from its summary
            summary = summary_message(get_str(line, "summary"))
            self.head = 1, Node(summary, None) if self.messages else None
        else:
            self.events.append(line)
            if kind == "budget":
                self.problems += [
                    f"line {number}: budget {p}: ignored" for p in budget_from(line).problems
                ]
        if self.messages:
            self.lines.append(text[:-1])

    def _checkpoint(self, line: dict[str, Any], number: int) -> None:
        turn = self.tab.checkpoint(line)
        self.heads[turn] = self.committed = self.head
        self.committed_turn = turn
        self.last_checkpoint = line, number, turn, self.tab.totals, self.head[0]

    def _rewind(self, line: dict[str, Any], number: int) -> None:
        to = get_int(line, "to_turn")
        if to == 0:
            self.head = self.committed = EMPTY
            self.committed_turn = 0
        elif to is not None and to in self.heads:
            self.head = self.committed = self.heads[to]
            self.committed_turn = to
        else:
            self.bad_rewinds.append(number)

    @property
    def unfinished(self) -> int:
        """Messages after the conversation's checkpoint, of a turn that never finished."""
        return max(self.head[0] - self.committed[0], 0)

    def warnings(self) -> list[str]:
        """What was wrong with the lines and how they were read anyway, one line each."""
        out: list[str] = []
        if self.torn is not None:
            out.append(
                f"line {self.torn} is incomplete (a write was cut off before its end): ignored"
            )
        if self.bad:
            out.append(f"skipped {len(self.bad)} damaged line(s): {_numbers(self.bad)}")
        if self.bad_rewinds:
            out.append(
                f"ignored rewind(s) to a turn with no checkpoint: line {_numbers(self.bad_rewinds)}"
            )
        disagree = [] if self.last_checkpoint is None else disagreements(*self.last_checkpoint)
        if disagree:
            out.append(
                "the last checkpoint's snapshot disagrees with the usage lines, which win: "
                + "; ".join(disagree)
            )
        if self.unfinished:
            out.append(
                f"the last turn did not finish: its {self.unfinished} message(s) are left out "
                "of the conversation (its requests still count)"
            )
        if self.repriced:
            out.append(f"{self.repriced} request(s) had no recorded cost and were priced again")
        return out + self.problems


def disagreements(
    line: dict[str, Any], number: int, turn: int, totals: Totals, messages: int
) -> list[str]:
    """How a checkpoint line's snapshot differs from the totals derived up to it, and from
    the conversation's length ``messages``; one entry per figure."""
    figures = snapshot_figures(get_dict(line, "token_snapshot"))
    derived = totals_figures(totals)
    stored_messages = get_int(line, "messages")
    if stored_messages is not None:
        figures["messages"] = stored_messages
    derived["messages"] = messages
    return [
        f"line {number} (turn {turn}): {key} {value} in the snapshot, {derived[key]} from the lines"
        for key, value in figures.items()
        if derived[key] != value
    ]


def _numbers(numbers: list[int]) -> str:
    shown = ", ".join(map(str, numbers[:_LIST_AT_MOST]))
    more = len(numbers) - _LIST_AT_MOST
    return shown + (f" and {more} more" if more > 0 else "")
