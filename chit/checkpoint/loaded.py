"""A session file loaded: the conversation, every request's record, the events, what was
wrong with the file. Read by :class:`~chit.checkpoint.reader.Reader`, the one loop."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chit.checkpoint.codec import SavedBudget, budget_from, get_opt_str
from chit.checkpoint.reader import Conversation, Reader, Tab, messages_of, opened, read_header
from chit.messages import Message
from chit.state import AgentState, Report, Totals


@dataclass
class Loaded:
    """A session file as read."""

    state: AgentState
    """Messages (after rewinds, up to the last finished turn), every request's record, turns."""
    header: dict[str, Any]
    """The header line as read (migrated)."""
    events: list[dict[str, Any]]
    """Event lines (``model``, ``budget``, ...), in order: read them with :meth:`budget`
    and :meth:`model`."""
    warnings: list[str]
    """What was wrong with the file and how it was read anyway, one line each."""
    path: Path
    """The file."""
    schema_version: int
    """The version the file was written with."""
    size: int
    """The file's length in bytes, as read."""
    lines: list[bytes]
    """Every readable line as written (unknown fields included, no newline), header first:
    what a copy, export or fork writes. Empty when read without messages."""
    tab: Tab
    """The figures of every request, re-derived from the usage lines, and the turn numbering."""
    committed_turn: int
    """The checkpoint the conversation stands at (the last one, or a rewind's target)."""
    unfinished: int
    """Messages after it, of a turn that never finished: not in ``state.messages``."""
    _heads: dict[int, Conversation] = field(repr=False)

    @property
    def totals(self) -> Totals:
        """Totals of every request, re-derived from the usage lines."""
        return self.tab.totals

    @property
    def models(self) -> list[str]:
        """Reported models, in order of first use."""
        return list(self.tab.models)

    @property
    def checkpoints(self) -> list[int]:
        """The turns a checkpoint closed: what the conversation can go back to."""
        return list(self._heads)

    def conversation_at(self, turn: int) -> list[Message] | None:
        """The conversation as checkpoint ``turn`` left it (0: empty); ``None`` if no such."""
        if turn == 0:
            return []
        if turn not in self._heads:
            return None
        return messages_of(self._heads[turn])

    def lineage(self) -> list[tuple[int, int]]:
        """The finished turns the conversation holds now, oldest first: each turn's number
        and how many messages its checkpoint left (turns a rewind dropped are not in it)."""
        if self.committed_turn not in self._heads:
            return []
        held: set[int] = set()
        node = self._heads[self.committed_turn][1]
        while node is not None:
            held.add(id(node))
            node = node.parent
        return [
            (turn, length)
            for turn, (length, last) in sorted(self._heads.items())
            if last is not None and id(last) in held
        ]

    def report(self) -> Report:
        """The usage report of the session, as ``chit usage`` shows it."""
        state = self.state
        return Report.of(state.session_id, state.turns, state.records, self.totals)

    def budget(self) -> SavedBudget:
        """The budget the session last set (no limits when it never set one)."""
        line = self._last("budget")
        return SavedBudget() if line is None else budget_from(line)

    def model(self) -> tuple[str | None, str | None]:
        """The provider and model the session last used (a ``model`` event, else the
        header's); ``None`` for what the file does not say."""
        line = self._last("model") or self.header
        return get_opt_str(line, "provider"), get_opt_str(line, "model")

    def base_url(self) -> str | None:
        """The endpoint the session last used, where one was named (a local server, a
        gateway); ``None`` for the provider's own."""
        return get_opt_str(self._last("model") or self.header, "base_url")

    def _last(self, kind: str) -> dict[str, Any] | None:
        return next((e for e in reversed(self.events) if e["type"] == kind), None)


def load(path: str | Path, *, messages: bool = True) -> Loaded:
    """Read a session file; :class:`SessionError` when it is not one chit can read.

    ``messages=False`` (reports) builds no message: ``state.messages`` and ``lines`` stay
    empty, every figure and warning is the same.
    """
    path = Path(path)
    with opened(path) as f:
        data = f.read()
    header, version, start = read_header(data, path)
    r = Reader(version, messages)
    r.read(data, start, 2)
    state = AgentState(
        session_id=session_id_of(header, path),
        messages=messages_of(r.committed),
        records=r.records,
        turns=r.tab.turn,
    )
    return Loaded(
        state=state,
        header=header,
        events=r.events,
        warnings=r.warnings(),
        path=path,
        schema_version=version,
        size=len(data),
        lines=[data[: start - 1], *r.lines] if messages else [],
        tab=r.tab,
        committed_turn=r.committed_turn,
        unfinished=r.unfinished,
        _heads=r.heads,
    )


def session_id_of(header: dict[str, Any], path: Path) -> str:
    """The session's id: its header's, else the file's name."""
    session_id = header.get("session_id")
    return session_id if isinstance(session_id, str) and session_id else path.stem
