"""``Session``: appends a session's lines as they happen; opens, forks and exports sessions.

One writer per session: a session open for writing holds its file's lock
(:mod:`chit.checkpoint.lock`) from the moment it is opened, or its file is written, until
it is closed; another process opening it for writing gets :class:`SessionBusy`.

Opening writes nothing. Lines that are not part of a turn (events such as ``model`` and
``budget``, and the rewind that closes a turn a crash cut off) wait in memory and go to
disk with the next line of a turn (a message, a usage record, a checkpoint), before it, in
order, in one write; a session closed with lines still waiting leaves its file as it was.
A new session, or a fork, has no file until then: its file appears whole, header first,
with its first line of a turn. :meth:`Session.rewind` and :meth:`Session.flush` write what
waits at once; a fork or an export of a session not written yet writes its file first.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import orjson

from chit import __version__
from chit.checkpoint.codec import message_json, seal, snapshot_json, usage_json
from chit.checkpoint.files import make_dir, write_atomic
from chit.checkpoint.home import sessions_dir
from chit.checkpoint.journal import (
    CORE_TYPES,
    FORMAT,
    OS_OPS,
    SCHEMA_VERSION,
    Appender,
    FileOps,
    encode,
    now_iso,
)
from chit.checkpoint.loaded import Loaded, load
from chit.checkpoint.lock import Lock, take
from chit.checkpoint.reader import Tab, decode
from chit.checkpoint.snapshots import (
    EVENT,
    FileChange,
    changes_after,
    copy_all,
    event,
    folder_of,
    keep,
)
from chit.checkpoint.store import find, latest_path
from chit.credentials import credential_values
from chit.messages import Message
from chit.state import AgentState, RequestRecord


class Session:
    """One session, open for appending: ``loaded`` as read (to append to its file), or new
    (``new``: the lines its file will start with: the header, and a fork's copy of its
    parent's lines, ``loaded`` then being the parent as read).

    Keeps the running figures of the lines it appends, taken as a reader takes them (each
    line decoded from the bytes written), so a checkpoint costs the same at turn 10,000 as
    at turn 1, and its snapshot is what any reader derives from the lines before it.
    """

    def __init__(
        self,
        path: Path,
        session_id: str,
        home: Path | None,
        *,
        loaded: Loaded | None = None,
        new: list[dict[str, Any] | bytes] | None = None,
        lock: Lock | None = None,
        ops: FileOps = OS_OPS,
    ) -> None:
        self.path = path
        """The session file (not there yet while :attr:`on_disk` is false)."""
        self.session_id = session_id
        """The session's id."""
        self.home = home
        """The chit home given when it was opened (forks go to its sessions folder)."""
        self._ops = ops
        self._secrets = credential_values()
        self._new = new
        self._copied = loaded if new is not None else None  # a fork's parent, until written
        self._lock = lock
        size = loaded.size if loaded is not None and new is None else None
        self._appender = Appender(path, ops, self._secrets, size)
        self._tab = loaded.tab.copy() if loaded is not None else Tab()
        self._events: list[dict[str, Any]] = []
        # A turn cut off by a crash left messages the loaded conversation leaves out: say so
        # in the file (a rewind to where the conversation stands) before anything follows.
        self._resume_at: int | None = None
        if loaded is not None and loaded.unfinished:
            self._resume_at = loaded.committed_turn

    @property
    def on_disk(self) -> bool:
        """Whether the session's file is written (a new session's is, once a turn began)."""
        return self._new is None

    # --- opening ------------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        home: str | Path | None,
        *,
        cwd: str,
        provider: str,
        model: str,
        base_url: str | None = None,
        ops: FileOps = OS_OPS,
        session_id: str | None = None,
    ) -> Session:
        """A new session in ``<home>/sessions``. Nothing is written yet: its file (0600,
        folders 0700) appears with the first line of its first turn, holding its header
        then; ``path`` and ``session_id`` are known now. ``base_url`` is kept in the header
        when the endpoint is not the provider's own, so that a resumed session finds it."""
        session_id = session_id or str(uuid.uuid4())
        header = {
            "type": "session",
            "format": FORMAT,
            "schema_version": SCHEMA_VERSION,
            "session_id": session_id,
            "created_at": now_iso(ms=False),
            "chit_version": __version__,
            "cwd": cwd,
            "provider": provider,
            "model": model,
        }
        if base_url is not None:
            header["base_url"] = base_url
        path = sessions_dir(home) / f"{session_id}.jsonl"
        return cls(path, session_id, _home(home), new=[header], ops=ops)

    @classmethod
    def open(
        cls, ref: str | Path, home: str | Path | None, *, fork: bool = False, ops: FileOps = OS_OPS
    ) -> tuple[Session, Loaded]:
        """Load a session named by id, unique id prefix or path, to append to its file:
        this process takes its lock first (:class:`SessionBusy` when another process holds
        it). With ``fork``, the session is read without its lock and continued in a new
        session naming it as its parent (see :meth:`fork`), whose file appears with its
        first turn. The :class:`Loaded` is the session named, as read."""
        return cls._opened(find(ref, home), home, fork, ops)

    @classmethod
    def latest(
        cls,
        home: str | Path | None,
        *,
        fork: bool = False,
        problems: list[str] | None = None,
        ops: FileOps = OS_OPS,
    ) -> tuple[Session, Loaded]:
        """:meth:`open` for the most recently written session; entries of the sessions
        folder passed over (not sessions) are said so in ``problems``.
        :class:`SessionError` when there is none."""
        return cls._opened(latest_path(home, problems), home, fork, ops)

    @classmethod
    def _opened(
        cls, path: Path, home: str | Path | None, fork: bool, ops: FileOps
    ) -> tuple[Session, Loaded]:
        if fork:
            loaded = load(path)
            return cls._fork_of(loaded, _home(home), ops), loaded
        held = take(path, path.stem)  # before reading: no other writer then changes it
        try:
            loaded = load(path)
        except BaseException:
            held.release()
            raise
        session = cls(path, loaded.state.session_id, _home(home), loaded=loaded, lock=held, ops=ops)
        return session, loaded

    @classmethod
    def _fork_of(cls, loaded: Loaded, home: Path | None, ops: FileOps) -> Session:
        """A new session, not written yet, holding the lines of ``loaded``."""
        session_id = str(uuid.uuid4())
        header = {
            **orjson.loads(loaded.lines[0]),
            "session_id": session_id,
            "created_at": now_iso(ms=False),
            "forked_from": loaded.state.session_id,
        }
        path = sessions_dir(home) / f"{session_id}.jsonl"
        return cls(path, session_id, home, loaded=loaded, new=[header, *loaded.lines[1:]], ops=ops)

    def close(self) -> None:
        """Close the file and let go of its lock. Lines still waiting are not written (a
        later append writes them, taking the lock again)."""
        self._appender.close()
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- appending ----------------------------------------------------------------------

    def _write(self, lines: list[dict[str, Any]], sync: bool = False) -> dict[str, Any] | None:
        """Write the lines waiting, then ``lines``, in one write; a new session's file is
        created with them. Returns the last of ``lines`` as a reader will read it
        (``None``: damaged, or no line given)."""
        waiting = list(self._events)
        if self._resume_at is not None:
            waiting.insert(0, {"type": "rewind", "to_turn": self._resume_at, "at": now_iso()})
        if self._new is not None:
            written = self._create([*waiting, *lines], sync)
        elif waiting or lines:
            if self._lock is None:  # closed, and written to again
                self._lock = take(self.path, self.session_id)
            written = self._appender.append([*waiting, *lines], sync)
        else:
            return None
        self._events.clear()
        self._resume_at = None
        return decode(written[-1]) if lines else None

    def _create(self, lines: list[dict[str, Any]], sync: bool = True) -> list[bytes]:
        """Write the file of a new session whole: its first lines, then ``lines``; it is
        locked before it appears, and synced when ``sync``. Returns ``lines`` as written."""
        assert self._new is not None
        encoded = [encode(line, self._secrets) for line in lines]
        make_dir(self.path.parent)
        size, held = write_atomic(
            self.path,
            [*self._new, *(data[:-1] for data in encoded)],
            self._ops,
            self._secrets,
            sync=sync,
            lock_as=self.session_id,
        )
        if self._copied is not None:  # a fork: what its parent kept, it keeps too
            copy_all(folder_of(self._copied.path), self.files)
        self._new = self._copied = None
        self._lock = held
        self._appender = Appender(self.path, self._ops, self._secrets, size)
        return encoded

    def flush(self) -> None:
        """Write what waits now: a new session's file, events (see the module's doc)."""
        self._write([])

    def append_message(self, message: Message) -> None:
        """A message of the conversation (synced with the next usage line or checkpoint)."""
        self._write([message_json(message)])

    def append_usage(self, record: RequestRecord) -> None:
        """One provider request's record, synced to disk before this returns."""
        written = self._write([usage_json(record, now_iso())], sync=True)
        if written is not None and written["type"] == "usage":
            self._tab.usage(written)

    def append_checkpoint(self, state: AgentState) -> None:
        """A finished turn: its number, the conversation's length and the running totals,
        sealed when those are the figures a reader derives."""
        self.flush()
        line = {
            "type": "checkpoint",
            "turn": state.turns,
            "messages": len(state.messages),
            "token_snapshot": snapshot_json(self._tab.totals),
            "models": list(self._tab.models),
            "at": now_iso(),
        }
        position = self._appender.position()
        if position is not None and state.turns >= self._tab.turn:  # a reader's turn then
            size, crc = position
            sealed = seal(crc, line)
            if sealed is not None:
                line["seal"] = {"bytes": size, "crc32": sealed}
        written = self._write([line], sync=True)
        if written is not None and written["type"] == "checkpoint":
            self._tab.checkpoint(written)

    def append_compact(self, summary: str, replaced: int, focus: str = "") -> None:
        """The conversation from here on is ``summary`` (standing for its ``replaced``
        messages) and the messages appended after it (synced with the next usage line or
        checkpoint)."""
        line = {"type": "compact", "summary": summary, "replaced": replaced}
        self._write([{**line, "focus": focus or None, "at": now_iso()}])

    def append_event(self, type: str, **fields: Any) -> None:
        """An event for the runtime (``model``, ``budget``, ...): written, and synced, with
        the next line of a turn; not at all when the session is closed first."""
        if type in CORE_TYPES:
            raise ValueError(f"{type!r} is a core line type, not an event")
        self._events.append({"type": type, **fields, "at": now_iso()})

    def rewind(self, checkpoint: int, read: Loaded | None = None) -> AgentState | None:
        """Take the conversation back to the checkpoint of turn ``checkpoint`` (0: empty).

        Appends a ``rewind`` line (after what waits) and deletes nothing: the state
        returned keeps every request's record (tokens are never un-spent) and turn numbers
        keep counting up. ``None`` when the session has no such checkpoint (nothing is
        written then). ``read`` is :meth:`as_read`'s answer when the caller has it already.
        """
        loaded = read if read is not None else self.as_read()
        if loaded is not None:
            messages = loaded.conversation_at(checkpoint)
        else:  # a new session, no line yet
            messages = [] if checkpoint == 0 else None
        if messages is None:
            return None
        self._resume_at = None  # this rewind says where the conversation stands
        self._write([{"type": "rewind", "to_turn": checkpoint, "at": now_iso()}], sync=True)
        if loaded is None:
            return AgentState(session_id=self.session_id)
        state = loaded.state
        return AgentState(self.session_id, messages, list(state.records), state.turns)

    # --- files a tool changed -----------------------------------------------------------

    @property
    def files(self) -> Path:
        """The folder of what files held before a tool changed them (see
        :mod:`chit.checkpoint.snapshots`)."""
        return folder_of(self.path)

    def keep_file(self, path: Path, turn: int) -> None:
        """Keep what ``path`` holds before turn ``turn`` changes it: its content in
        :attr:`files`, a ``snapshot`` event in the journal (written with the next line)."""
        self.append_event(EVENT, **event(path, turn, keep(self.files, path)))

    def changed_after(self, turn: int, read: Loaded | None = None) -> list[FileChange]:
        """The files tools changed after checkpoint ``turn``, with what each held then
        (``read``: :meth:`as_read`'s answer when the caller has it already)."""
        loaded = read if read is not None else self.as_read()
        return [] if loaded is None else changes_after(loaded.events, turn)

    def as_read(self) -> Loaded | None:
        """The session as a reader reads it now (a fork not written yet: its parent);
        ``None`` for a new session with no line yet."""
        return load(self.path) if self._new is None else self._copied

    # --- copies -------------------------------------------------------------------------

    def fork(self) -> Session:
        """A new session holding this one's lines so far, under a new id, written now and
        locked by this process; events waiting here wait there too."""
        forked = self._fork_of(self._written(), self.home, self._ops)
        forked._create([])  # the copy alone: a rewind its state calls for waits too
        forked._events = [dict(event) for event in self._events]
        return forked

    def export(self, dest: Path) -> Path:
        """A copy of this session's file at ``dest`` (0600), written whole or not at all."""
        dest = Path(dest).expanduser().absolute()
        if dest.is_dir():
            dest = dest / self.path.name
        write_atomic(dest, self._written().lines, self._ops, self._secrets)
        return dest

    def _written(self) -> Loaded:
        """The session's file as read; a new session's is written first (its first lines
        alone: what waits still waits)."""
        if self._new is not None:
            self._create([])
        return load(self.path)


def _home(home: str | Path | None) -> Path | None:
    return None if home is None else Path(os.fspath(home))
