"""Writes that fail part-way (disk full, I/O error, a rename refused) leave the session as it
was before, loadable, and no temporary file behind.

Faults are injected through the journal's own seam (:class:`chit.checkpoint.FileOps`); the
real OS calls do the rest.
"""

from __future__ import annotations

import errno
import os
from decimal import Decimal
from pathlib import Path

import orjson
import pytest
from sessionfiles import new_session, read_alike, turn

from chit.checkpoint import FileOps, JournalWriteError, Session, load, sessions_dir
from chit.checkpoint.store import last_sealed
from chit.messages import AssistantTurn
from chit.pricing import Cost
from chit.state import AgentState, RequestRecord
from chit.usage import Usage


class Faulty(FileOps):
    """Real calls, except the one named, which fails once it is armed."""

    def __init__(self, fail: str, keep: int = 0) -> None:
        self.fail = set(fail.split("+"))
        self.keep = keep
        """For ``write``: how many bytes reach the file before the error."""
        self.armed = False
        self.failures = 0

    def _boom(self, name: str) -> None:
        if self.armed and name in self.fail:
            self.failures += 1
            raise OSError(errno.ENOSPC if name == "write" else errno.EIO, f"injected {name}")

    def write(self, fd: int, data: bytes) -> int:
        if self.armed and "write" in self.fail:
            os.write(fd, data[: min(self.keep, len(data) - 1)])
            self._boom("write")
        return super().write(fd, data)

    def fsync(self, fd: int) -> None:
        self._boom("fsync")
        super().fsync(fd)

    def replace(self, src: Path, dst: Path) -> None:
        self._boom("replace")
        super().replace(src, dst)

    def truncate(self, fd: int, size: int) -> None:
        self._boom("truncate")
        super().truncate(fd, size)

    def open(self, path: Path, flags: int, mode: int = 0o600) -> int:
        self._boom("open")
        return super().open(path, flags, mode)


def figures(path: Path) -> tuple[int, int, int | None, list[str]]:
    loaded = load(path)
    return (
        loaded.state.turns,
        loaded.totals.requests,
        loaded.totals.usage.input_tokens,
        [m.text for m in loaded.state.messages],
    )


def no_temporary_files(*folders: Path) -> None:
    for folder in folders:
        assert [p.name for p in folder.iterdir() if p.name.endswith(".tmp")] == []


def started(tmp_path: Path, ops: FileOps) -> tuple[Session, AgentState]:
    return new_session(tmp_path, turns=2, ops=ops)


@pytest.mark.parametrize("keep", [0, 1, 17, 200])
def test_an_append_cut_short_is_taken_back(tmp_path: Path, keep: int) -> None:
    ops = Faulty("write", keep)
    s, state = started(tmp_path, ops)
    before = s.path.read_bytes()
    ops.armed = True
    with pytest.raises(JournalWriteError, match="injected write"):
        turn(s, state, 3)
    assert s.path.read_bytes() == before  # the part that reached the file was taken back
    no_temporary_files(s.path.parent)
    ops.armed = False
    finish_third_turn(s, state)
    loaded = read_alike(s.path)
    assert loaded.warnings == []
    assert loaded.totals.usage.input_tokens == 100 + 200 + 300


@pytest.mark.parametrize("keep", [1, 17, 200])
def test_a_fragment_that_cannot_be_taken_back_is_skipped(tmp_path: Path, keep: int) -> None:
    ops = Faulty("write+truncate", keep)
    s, state = started(tmp_path, ops)
    before = figures(s.path)
    ops.armed = True
    with pytest.raises(JournalWriteError, match="injected write"):
        turn(s, state, 3)
    after = load(s.path)
    assert figures(s.path) == before
    assert "incomplete" in after.warnings[0]
    # The disk has room again: the session goes on, the fragment is skipped and named.
    ops.armed = False
    finish_third_turn(s, state)
    loaded = read_alike(s.path)
    assert loaded.state.turns == 3
    assert loaded.totals.usage.input_tokens == 100 + 200 + 300
    texts = [m.text for m in loaded.state.messages]
    assert texts == [f"{kind} {n}" for n in (1, 2, 3) for kind in ("question", "answer")]
    assert loaded.warnings == ["skipped 1 damaged line(s): 10"]
    assert s.path.read_bytes().split(b"\n")[9].endswith(b" [torn]")


def finish_third_turn(s: Session, state: AgentState) -> None:
    state.messages = state.messages[:4]
    state.records = state.records[:2]
    turn(s, state, 3)
    # The appender knew where the file stood: the checkpoint is sealed over its bytes.
    data = s.path.read_bytes()
    assert last_sealed(data, data.index(b"\n") + 1) is not None


def test_a_failed_fsync_is_reported_and_the_file_still_loads(tmp_path: Path) -> None:
    ops = Faulty("fsync")
    s, state = started(tmp_path, ops)
    ops.armed = True
    with pytest.raises(JournalWriteError, match="injected fsync"):
        turn(s, state, 3)
    assert ops.failures == 1
    assert figures(s.path)[0] >= 2
    read_alike(s.path)
    no_temporary_files(s.path.parent)


@pytest.mark.parametrize(
    ("fail", "keep"), [("write", 0), ("write", 100), ("fsync", 0), ("replace", 0), ("open", 0)]
)
@pytest.mark.parametrize("operation", ["export", "export-over", "fork"])
def test_a_copy_is_whole_or_not_there(tmp_path: Path, fail: str, keep: int, operation: str) -> None:
    ops = Faulty(fail, keep)
    s, _ = started(tmp_path / "home", ops)
    source = s.path.read_bytes()
    dest = tmp_path / "out.jsonl"
    if operation == "export-over":
        dest.write_bytes(b"the previous export\n")
    ops.armed = True
    with pytest.raises(JournalWriteError):
        s.fork() if operation == "fork" else s.export(dest)
    assert ops.failures == 1
    assert s.path.read_bytes() == source
    if operation == "export-over":
        assert dest.read_bytes() == b"the previous export\n"
    else:
        assert not dest.exists()
    assert [p.name for p in sessions_dir(tmp_path / "home").iterdir()] == [s.path.name]
    no_temporary_files(tmp_path, s.path.parent)
    # And once the fault is gone the same operation succeeds.
    ops.armed = False
    copy = s.fork().path if operation == "fork" else s.export(dest)
    assert figures(copy) == figures(s.path)
    no_temporary_files(tmp_path, s.path.parent)


@pytest.mark.parametrize(
    ("fail", "keep"), [("write", 30), ("fsync", 0), ("open", 0), ("replace", 0), ("ctrl-c", 0)]
)
def test_a_session_that_cannot_be_created_leaves_nothing(
    tmp_path: Path, fail: str, keep: int
) -> None:
    """A new session's file is written with its first line of a turn (here a request's
    record, which is synced): a write that fails there, or a Ctrl-C in the middle of it,
    leaves no file, whole or half; the line and the events waiting go with the next try."""
    ops = Interrupted() if fail == "ctrl-c" else Faulty(fail, keep)
    s = Session.create(tmp_path, cwd="/w", provider="openai", model="m", ops=ops)
    s.append_event("budget", max_cost="1", max_tokens=None)
    response = AssistantTurn("openai", "m", Usage.reported(5, 0, 0, 1, 0), text="hi")
    record = RequestRecord(1, response, Cost(Decimal(1)))
    ops.armed = True
    with pytest.raises(KeyboardInterrupt if fail == "ctrl-c" else JournalWriteError):
        s.append_usage(record)
    assert not s.on_disk
    assert list(sessions_dir(tmp_path).iterdir()) == []
    ops.armed = False
    s.append_usage(record)
    s.close()
    types = [orjson.loads(x)["type"] for x in s.path.read_bytes().splitlines()]
    assert types == ["session", "budget", "usage"]
    assert load(s.path).totals.usage.input_tokens == 5
    assert [p.name for p in sessions_dir(tmp_path).iterdir()] == [s.path.name]


class Interrupted(FileOps):
    """Real calls; once armed, Ctrl-C arrives while the new file is being renamed into
    place, its bytes written and synced."""

    armed = False

    def replace(self, src: Path, dst: Path) -> None:
        if self.armed:
            assert src.read_bytes().count(b"\n") == 3  # header, event, usage
            raise KeyboardInterrupt
        super().replace(src, dst)
