"""Loading a session file: damage tolerated and reported, old versions migrated in memory.

Defaults for what a line lacks: a message's role is ``user``, its texts empty, its lists
empty; a usage line's counts are unknown, its turn the one in progress (the highest so far
if a usage line came since the last checkpoint, else the next), its ``ended`` ``complete``,
and a missing cost is priced again (:func:`chit.checkpoint.codec.reprice`); a checkpoint's
turn is the one in progress; a snapshot figure it lacks is "not recorded" and is not
compared. A rewind without a turn it can go back to is ignored. Totals always come from the
usage lines.

The conversation is the one the last checkpoint (or rewind) holds: messages of a turn that
never finished are left out, though its requests count.

The loader reads the file once and never writes to it. It raises only
:class:`~chit.errors.SessionError`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chit.checkpoint.codec import message_from, record_from, reprice
from chit.checkpoint.figures import get_int
from chit.checkpoint.journal import SCHEMA_VERSION
from chit.checkpoint.read import (
    TurnCounter,
    damage_warnings,
    decode,
    disagree_warning,
    disagreements,
    no_cycle_collection,
    numbers,
    opened,
    read_header,
    repriced_warning,
    session_id_of,
)
from chit.messages import Message
from chit.pricing import Cost
from chit.state import AgentState, RequestRecord, Totals
from chit.usage import Usage


class _Node:
    """One message in a persistent list: a checkpoint keeps its conversation in O(1)."""

    __slots__ = ("depth", "message", "parent")

    def __init__(self, message: Message, parent: _Node | None) -> None:
        self.message = message
        self.parent = parent
        self.depth: int = 1 if parent is None else parent.depth + 1


def _depth(node: _Node | None) -> int:
    return 0 if node is None else node.depth


def _messages(node: _Node | None) -> list[Message]:
    out: list[Message] = []
    while node is not None:
        out.append(node.message)
        node = node.parent
    out.reverse()
    return out


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A finished turn the conversation can go back to."""

    turn: int
    """The turn it closed."""
    messages: int
    """How many messages the conversation held then."""
    line: int
    """Its line number in the file."""


@dataclass
class Loaded:
    """A loaded session."""

    state: AgentState
    """Messages (after rewinds, up to the last finished turn), every request's record, turns."""
    header: dict[str, Any]
    """The header line as read."""
    events: list[dict[str, Any]]
    """Event lines (``model``, ``budget``, ...), in order."""
    warnings: list[str]
    """What was wrong with the file and how it was read anyway, one line each."""
    path: Path = field(default_factory=Path)
    """The file."""
    schema_version: int = SCHEMA_VERSION
    """The version the file was written with."""
    lines: list[bytes] = field(default_factory=list)
    """Every readable line, byte for byte as written (unknown fields included, no newline),
    header first: what a copy, export or fork writes."""
    checkpoints: dict[int, Checkpoint] = field(default_factory=dict)
    """Finished turns by number."""
    totals: Totals = field(default_factory=Totals)
    """Totals of every request, re-derived from the usage lines."""
    models: list[str] = field(default_factory=list)
    """Reported models, in order of first use."""
    ends_clean: bool = True
    """False when the file ends with a torn line."""
    committed_turn: int = 0
    """The checkpoint the conversation stands at (the last one, or a rewind's target)."""
    unfinished: int = 0
    """Messages after it, of a turn that never finished: not in ``state.messages``."""
    _heads: dict[int, _Node | None] = field(default_factory=dict, repr=False)

    def conversation_at(self, turn: int) -> list[Message] | None:
        """The conversation as checkpoint ``turn`` left it (0: empty); ``None`` if no such."""
        if turn == 0:
            return []
        if turn not in self._heads:
            return None
        return _messages(self._heads[turn])


class _Reader:
    """The state built line by line; one method per core line type."""

    def __init__(self) -> None:
        self.records: list[RequestRecord] = []
        self.checkpoints: dict[int, Checkpoint] = {}
        self.heads: dict[int, _Node | None] = {}
        self.models: dict[str, None] = {}
        self.disagree: list[str] = []
        self.bad_rewinds: list[int] = []
        self.head: _Node | None = None  # the conversation as the lines so far build it
        self.committed: _Node | None = None  # ... as of the last checkpoint or rewind
        self.committed_turn = 0  # ... which is that checkpoint's turn
        self.usage, self.cost = Usage(), Cost()
        self.turns = TurnCounter()
        self.repriced = 0

    def message(self, line: dict[str, Any]) -> bool:
        message = message_from(line)
        if message is None:
            return False
        self.head = _Node(message, self.head)
        return True

    def usage_line(self, line: dict[str, Any]) -> None:
        record, priced = record_from(line, self.turns.usage(get_int(line, "turn")))
        if not priced:
            record = reprice(record)
            self.repriced += 1
        self.records.append(record)
        self.usage = self.usage + record.response.usage
        self.cost = self.cost + record.cost
        self.models.setdefault(record.response.model_name, None)

    def checkpoint(self, line: dict[str, Any], number: int) -> None:
        turn = self.turns.checkpoint(get_int(line, "turn"))
        self.heads[turn] = self.committed = self.head
        self.committed_turn = turn
        depth = _depth(self.head)
        self.checkpoints[turn] = Checkpoint(turn, depth, number)
        totals = Totals(len(self.records), self.usage, self.cost)
        self.disagree += disagreements(line, number, turn, totals, depth)

    def rewind(self, line: dict[str, Any], number: int) -> None:
        to = get_int(line, "to_turn")
        if to == 0:
            self.head = self.committed = None
            self.committed_turn = 0
        elif to is not None and to in self.heads:
            self.head = self.committed = self.heads[to]
            self.committed_turn = to
        else:
            self.bad_rewinds.append(number)

    def warnings(self) -> list[str]:
        out: list[str] = []
        if self.bad_rewinds:
            out.append(
                f"ignored rewind(s) to a turn with no checkpoint: line {numbers(self.bad_rewinds)}"
            )
        out += disagree_warning(self.disagree)
        if self.unfinished:
            out.append(
                f"the last turn did not finish: its {self.unfinished} message(s) are left out "
                "of the conversation (its requests still count)"
            )
        out += repriced_warning(self.repriced)
        return out

    @property
    def unfinished(self) -> int:
        return max(_depth(self.head) - _depth(self.committed), 0)


def load(path: str | Path) -> Loaded:
    """Load a session file; raises :class:`SessionError` when it is not one chit can read."""
    path = Path(path)
    with opened(path) as f:
        first, header, version = read_header(f, path)
        raw = f.read().split(b"\n")
    torn = raw.pop()  # b"" when the file ends with a newline
    lines: list[bytes] = [first]
    events: list[dict[str, Any]] = []
    bad: list[int] = []
    r = _Reader()
    with no_cycle_collection():
        for number, text in enumerate(raw, start=2):
            if not text:
                continue
            decoded = decode(text, version)
            if decoded is None:
                bad.append(number)
                continue
            kind, line = decoded
            if kind == "message":
                if not r.message(line):
                    bad.append(number)
                    continue
            elif kind == "usage":
                r.usage_line(line)
            elif kind == "checkpoint":
                r.checkpoint(line, number)
            elif kind == "rewind":
                r.rewind(line, number)
            else:
                events.append(line)
            lines.append(text)

    warnings = damage_warnings(len(raw) + 2 if torn else None, bad)
    warnings += r.warnings()
    state = AgentState(
        session_id=session_id_of(header, path),
        messages=_messages(r.committed),
        records=r.records,
        turns=r.turns.last,
    )
    return Loaded(
        state=state,
        header=header,
        events=events,
        warnings=warnings,
        path=path,
        schema_version=version,
        lines=lines,
        checkpoints=r.checkpoints,
        totals=Totals(len(r.records), r.usage, r.cost),
        models=list(r.models),
        ends_clean=not torn,
        committed_turn=r.committed_turn,
        unfinished=r.unfinished,
        _heads=r.heads,
    )
