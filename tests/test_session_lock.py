"""One writer per session: a process writing a session holds its file's lock; another
process opening it to write gets ``SessionBusy`` naming the holder, readers never wait, and
``kill -9`` frees it. Real processes hold the lock here: a lock is between processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson
import pytest
from helpers import CHIT, KEY, env_for
from replay import ReplayServer
from sessionfiles import new_session, read_alike, turn

from chit.checkpoint import FileOps, Session, list_sessions, load
from chit.checkpoint.store import summary
from chit.errors import BadInput, SessionBusy
from chit.state import AgentState

# Opens the session argv[1] for writing (home argv[2]; "latest": Session.latest), says
# "ready" (or the error), and holds it until its stdin closes.
HOLD = """
import sys
from chit.checkpoint import Session
from chit.errors import ChitError
try:
    if sys.argv[1] == "latest":
        s, _ = Session.latest(sys.argv[2])
    else:
        s, _ = Session.open(sys.argv[1], sys.argv[2])
except ChitError as e:
    print(type(e).__name__, e, flush=True)
    sys.exit(e.exit_code)
print("ready", flush=True)
sys.stdin.read()
s.close()
print("closed", flush=True)
"""


@contextmanager
def holder(target: str | Path, home: Path) -> Iterator[subprocess.Popen[str]]:
    """A process holding the session open for writing, until the block ends."""
    with subprocess.Popen(
        [sys.executable, "-c", HOLD, str(target), str(home)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env_for(home),
    ) as child:
        assert child.stdin is not None and child.stdout is not None
        try:
            assert child.stdout.readline() == "ready\n"
            yield child
        finally:
            if child.poll() is None:
                child.kill()
            child.wait(timeout=30)


def try_open(target: str | Path, home: Path) -> str:
    """What another process gets opening the session to write: "ready", or the error."""
    r = subprocess.run(
        [sys.executable, "-c", HOLD, str(target), str(home)],
        input="",
        capture_output=True,
        text=True,
        timeout=60,
        env=env_for(home),
    )
    assert "Traceback" not in r.stderr, r.stderr
    return r.stdout.splitlines()[0]


def test_a_second_writer_is_told_who_holds_the_session(tmp_path: Path) -> None:
    s, _ = new_session(tmp_path, turns=1)
    s.close()
    before = s.path.read_bytes()
    with holder(s.path, tmp_path) as child:
        for attempt in (
            lambda: Session.open(s.path, tmp_path),
            lambda: Session.open(s.session_id[:8], tmp_path),
            lambda: Session.latest(tmp_path),
        ):
            with pytest.raises(SessionBusy) as e:
                attempt()
            message = str(e.value)
            assert "\n" not in message
            assert f"pid {child.pid}" in message
            assert s.session_id in message
            assert "--fork" in message
            assert isinstance(e.value, BadInput) and e.value.exit_code == 2
        # Readers never take the lock, never wait for it.
        assert load(s.path).state.turns == 1
        assert [i.session_id for i in list_sessions(tmp_path)] == [s.session_id]
        assert summary(s.path).turns == 1
    assert s.path.read_bytes() == before  # opening, busy or not, wrote nothing


def test_kill_9_frees_the_lock_and_close_does_too(tmp_path: Path) -> None:
    s, _ = new_session(tmp_path, turns=1)
    s.close()
    with holder(s.path, tmp_path) as child:
        with pytest.raises(SessionBusy):
            Session.open(s.path, tmp_path)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
        opened, loaded = Session.open(s.path, tmp_path)  # the kernel let go with the process
    turn(opened, loaded.state, 2)
    opened.close()
    assert read_alike(s.path).state.turns == 2
    with holder(s.path, tmp_path) as child:
        assert child.stdin is not None and child.stdout is not None
        child.stdin.close()  # the holder closes the session, and stays alive a moment
        assert child.stdout.readline() == "closed\n"
        Session.open(s.path, tmp_path)[0].close()


def test_this_process_is_the_writer_and_keeps_the_lock_until_its_last_close(
    tmp_path: Path,
) -> None:
    s, _ = new_session(tmp_path, turns=1)
    again, _ = Session.open(s.path, tmp_path)  # the same process: its own lock
    s.close()
    assert f"pid {os.getpid()}" in try_open(s.path, tmp_path)
    again.close()
    assert try_open(s.path, tmp_path) == "ready"
    # Written to after its close, a session takes the lock again.
    turn(again, load(s.path).state, 2)
    assert f"pid {os.getpid()}" in try_open(s.path, tmp_path)
    again.close()


def test_a_busy_session_forks_without_its_lock(tmp_path: Path) -> None:
    parent, _ = new_session(tmp_path, turns=2)
    parent.close()
    before = parent.path.read_bytes()
    with holder(parent.path, tmp_path):
        for fork, loaded in (
            Session.open(parent.session_id, tmp_path, fork=True),
            Session.latest(tmp_path, fork=True),
        ):
            assert loaded.path == parent.path  # the parent, as read
            assert fork.session_id != parent.session_id
            assert not fork.on_disk and not fork.path.exists()
            fork.close()
        fork, loaded = Session.open(parent.path, tmp_path, fork=True)
        fork.append_event("model", provider="anthropic", model="claude-sonnet-4-5")
        turn(fork, loaded.state, 3)
        assert parent.path.read_bytes() == before
        # The fork is this process's to write; the parent is still the other's.
        assert f"pid {os.getpid()}" in try_open(fork.path, tmp_path)
    lines = [orjson.loads(x) for x in fork.path.read_bytes().splitlines()]
    assert lines[0]["forked_from"] == parent.session_id
    assert lines[0]["session_id"] == fork.session_id
    parent_lines = [orjson.loads(x) for x in before.splitlines()]
    assert lines[1 : len(parent_lines)] == parent_lines[1:]
    assert [x["type"] for x in lines[len(parent_lines) :]] == [
        "model",
        "message",
        "usage",
        "message",
        "checkpoint",
    ]
    forked = read_alike(fork.path)
    assert forked.state.turns == 3
    assert forked.totals.usage.input_tokens == 100 + 200 + 300
    assert forked.warnings == []
    fork.close()


class Watched(FileOps):
    """Real calls; right after a new file is renamed into place, another process tries to
    open it for writing."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.seen: list[str] = []

    def replace(self, src: Path, dst: Path) -> None:
        super().replace(src, dst)
        self.seen.append(try_open(dst, self.home))


def test_a_new_session_is_locked_before_its_file_appears(tmp_path: Path) -> None:
    ops = Watched(tmp_path)
    s = Session.create(tmp_path, cwd="/w", provider="openai", model="m", ops=ops)
    turn(s, AgentState(session_id=s.session_id), 1)
    assert len(ops.seen) == 1
    assert ops.seen[0].startswith("SessionBusy") and f"pid {os.getpid()}" in ops.seen[0]
    s.close()
    # So is a fork, written at once.
    s, _ = Session.open(s.path, tmp_path, ops=ops)
    fork = s.fork()
    assert len(ops.seen) == 2 and f"pid {os.getpid()}" in ops.seen[1]
    fork.close()
    s.close()
    assert try_open(fork.path, tmp_path) == "ready"


def test_latest_names_the_holder_of_the_latest_session(tmp_path: Path) -> None:
    s, _ = new_session(tmp_path, turns=1)
    s.close()
    with holder("latest", tmp_path) as child:
        message = try_open("latest", tmp_path)
        assert message.startswith("SessionBusy") and f"pid {child.pid}" in message


def test_chit_on_a_busy_session_says_so_in_one_line(tmp_path: Path, replay: ReplayServer) -> None:
    s, _ = new_session(tmp_path, turns=1)
    s.close()
    before = s.path.read_bytes()
    with holder(s.path, tmp_path) as child:
        for how in (["-c"], ["-r", s.session_id[:8]]):
            r = subprocess.run(
                [*CHIT, "--provider", "anthropic", "--base-url", replay.url, *how, "-p", "hi"],
                env=env_for(tmp_path, ANTHROPIC_API_KEY=KEY),
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert r.returncode == 2
            (line,) = r.stderr.splitlines()
            assert f"pid {child.pid}" in line and "--fork" in line
    assert replay.received == []  # nothing was sent
    assert s.path.read_bytes() == before
