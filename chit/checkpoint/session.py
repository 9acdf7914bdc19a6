"""``Session``: appends a session's lines as they happen; opens, forks and exports sessions."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import orjson

from chit import __version__
from chit.checkpoint.codec import message_json, seal, snapshot_json, usage_json
from chit.checkpoint.journal import (
    CORE_TYPES,
    FORMAT,
    OS_OPS,
    SCHEMA_VERSION,
    Appender,
    FileOps,
    create_file,
    make_dir,
    now_iso,
    secret_values,
    write_atomic,
)
from chit.checkpoint.loaded import Loaded, load
from chit.checkpoint.reader import Tab, decode
from chit.checkpoint.store import find, latest_path, sessions_dir
from chit.messages import Message
from chit.state import AgentState, RequestRecord


class Session:
    """One session file, open for appending: ``loaded`` as read (to append to it), or new
    (``size``: the length of the file just created).

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
        size: int | None = None,
        ops: FileOps = OS_OPS,
    ) -> None:
        self.path = path
        """The session file."""
        self.session_id = session_id
        """The session's id."""
        self.home = home
        """The chit home given when it was opened (forks go to its sessions folder)."""
        self._ops = ops
        size = loaded.size if loaded is not None else size
        self._appender = Appender(path, ops, secret_values(), size)
        self._tab = loaded.tab.copy() if loaded is not None else Tab()
        # A turn cut off by a crash left messages the loaded conversation leaves out: say so
        # in the file (a rewind to where the conversation stands) before anything follows.
        self._resume_at: int | None = None
        if loaded is not None and loaded.unfinished:
            self._resume_at = loaded.committed_turn

    # --- opening ------------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        home: str | Path | None,
        *,
        cwd: str,
        provider: str,
        model: str,
        ops: FileOps = OS_OPS,
    ) -> Session:
        """A new session in ``<home>/sessions``: file 0600, folders 0700, header on disk."""
        folder = sessions_dir(home)
        make_dir(folder)
        session_id = str(uuid.uuid4())
        path = folder / f"{session_id}.jsonl"
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
        size = create_file(path, header, ops, secret_values())
        return cls(path, session_id, _home(home), size=size, ops=ops)

    @classmethod
    def open(
        cls, ref: str | Path, home: str | Path | None, *, ops: FileOps = OS_OPS
    ) -> tuple[Session, Loaded]:
        """Load a session named by id, unique id prefix or path; appends go to the same file."""
        return cls._opened(load(find(ref, home)), home, ops)

    @classmethod
    def latest(cls, home: str | Path | None, *, ops: FileOps = OS_OPS) -> tuple[Session, Loaded]:
        """The most recently written session, loaded; :class:`SessionError` when there is none."""
        return cls._opened(load(latest_path(home)), home, ops)

    @classmethod
    def _opened(
        cls, loaded: Loaded, home: str | Path | None, ops: FileOps
    ) -> tuple[Session, Loaded]:
        return cls(
            loaded.path, loaded.state.session_id, _home(home), loaded=loaded, ops=ops
        ), loaded

    def close(self) -> None:
        """Close the file (a later append opens it again)."""
        self._appender.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- appending ----------------------------------------------------------------------

    def _append(self, line: dict[str, Any], sync: bool = False) -> dict[str, Any] | None:
        """Append a line; returns it as a reader will read it (``None``: damaged)."""
        self._write_resume_rewind()
        return decode(self._appender.append(line, sync))

    def _write_resume_rewind(self) -> None:
        if self._resume_at is not None:
            rewind = {"type": "rewind", "to_turn": self._resume_at, "at": now_iso()}
            self._appender.append(rewind)
            self._resume_at = None

    def append_message(self, message: Message) -> None:
        """A message of the conversation (synced with the next usage line or checkpoint)."""
        self._append(message_json(message))

    def append_usage(self, record: RequestRecord) -> None:
        """One provider request's record, synced to disk before this returns."""
        written = self._append(usage_json(record, now_iso()), sync=True)
        if written is not None and written["type"] == "usage":
            self._tab.usage(written)

    def append_checkpoint(self, state: AgentState) -> None:
        """A finished turn: its number, the conversation's length and the running totals,
        sealed when those are the figures a reader derives."""
        self._write_resume_rewind()
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
        written = self._append(line, sync=True)
        if written is not None and written["type"] == "checkpoint":
            self._tab.checkpoint(written)

    def append_event(self, type: str, **fields: Any) -> None:
        """An event for the runtime (``model``, ``budget``, ...), synced to disk."""
        if type in CORE_TYPES:
            raise ValueError(f"{type!r} is a core line type, not an event")
        self._append({"type": type, **fields, "at": now_iso()}, sync=True)

    def rewind(self, checkpoint: int) -> AgentState | None:
        """Take the conversation back to the checkpoint of turn ``checkpoint`` (0: empty).

        Appends a ``rewind`` line and deletes nothing: the state returned keeps every
        request's record (tokens are never un-spent) and turn numbers keep counting up.
        ``None`` when the session has no such checkpoint (nothing is written then).
        """
        loaded = load(self.path)
        messages = loaded.conversation_at(checkpoint)
        if messages is None:
            return None
        self._resume_at = None  # this rewind says where the conversation stands
        self._appender.append({"type": "rewind", "to_turn": checkpoint, "at": now_iso()}, sync=True)
        state = loaded.state
        state.messages = messages
        return state

    # --- copies -------------------------------------------------------------------------

    def fork(self) -> Session:
        """A new session holding this one's lines so far, under a new id."""
        loaded = load(self.path)
        folder = sessions_dir(self.home)
        make_dir(folder)
        session_id = str(uuid.uuid4())
        path = folder / f"{session_id}.jsonl"
        header = {
            **orjson.loads(loaded.lines[0]),
            "session_id": session_id,
            "created_at": now_iso(ms=False),
            "forked_from": loaded.state.session_id,
        }
        write_atomic(path, [header, *loaded.lines[1:]], self._ops, secret_values())
        return self._opened(load(path), self.home, self._ops)[0]

    def export(self, dest: Path) -> Path:
        """A copy of this session at ``dest`` (0600), written whole or not at all."""
        dest = Path(dest).expanduser().absolute()
        if dest.is_dir():
            dest = dest / self.path.name
        loaded = load(self.path)
        write_atomic(dest, loaded.lines, self._ops, secret_values())
        return dest


def _home(home: str | Path | None) -> Path | None:
    return None if home is None else Path(os.fspath(home))
