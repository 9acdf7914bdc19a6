"""Odd entries in the sessions folder (an empty ``.jsonl``, a file that is no session, a
named pipe, a link to ``/dev/zero``, a folder, a dangling link) never break ``chit -c``,
``chit usage`` or ``chit sessions``: only regular files are read, the rest is passed over;
nothing hangs (every run has a timeout), nothing prints a traceback."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import orjson
import pytest
import wire
from helpers import CHIT, KEY, env_for
from replay import ReplayServer, Reply
from sessionfiles import new_session

from chit.checkpoint import Session, latest_path, list_sessions, load, sessions_dir
from chit.errors import SessionError

ODD = ["empty", "notes", "pipe", "zero", "folder", "dangling"]


@pytest.fixture
def home(tmp_path: Path) -> tuple[Path, str]:
    """A home with one real session (one turn), older than every odd entry beside it."""
    s, _ = new_session(tmp_path, turns=1)
    s.close()
    an_hour_ago = time.time() - 3600
    os.utime(s.path, (an_hour_ago, an_hour_ago))
    folder = sessions_dir(tmp_path)
    (folder / "empty.jsonl").write_bytes(b"")
    (folder / "notes.jsonl").write_text("remember the milk\n")
    os.mkfifo(folder / "pipe.jsonl")
    (folder / "zero.jsonl").symlink_to("/dev/zero")
    (folder / "folder.jsonl").mkdir()
    (folder / "dangling.jsonl").symlink_to(folder / "gone")
    return tmp_path, s.session_id


def chit(home: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    r = subprocess.run(
        [*CHIT, *args, "--home", str(home)],
        env=env_for(home, **extra),
        capture_output=True,
        text=True,
        timeout=60,  # a hang fails the test
        stdin=subprocess.DEVNULL,
    )
    assert "Traceback" not in r.stderr, r.stderr
    return r


def test_listing_passes_over_each_odd_entry_and_says_so(home: tuple[Path, str]) -> None:
    folder, session_id = home
    problems: list[str] = []
    assert [i.session_id for i in list_sessions(folder, problems)] == [session_id]
    assert len(problems) == len(ODD)
    for name in ODD:
        assert any(f"{name}.jsonl" in p for p in problems), (name, problems)
    assert any("named pipe" in p for p in problems)
    assert any("a device" in p for p in problems)
    assert any("a folder" in p for p in problems)
    assert any("the file is empty" in p for p in problems)


def test_continuing_takes_the_newest_real_session(home: tuple[Path, str]) -> None:
    folder, session_id = home
    problems: list[str] = []
    path = latest_path(folder, problems)
    assert path.stem == session_id
    assert {name for name in ODD if any(f"{name}.jsonl" in p for p in problems)} == set(ODD)
    s, loaded = Session.latest(folder)
    assert s.session_id == session_id and loaded.state.turns == 1
    s.close()


def test_reading_an_odd_entry_by_name_is_one_clear_error(home: tuple[Path, str]) -> None:
    folder = sessions_dir(home[0])
    for name, why in [
        ("pipe", "named pipe"),
        ("zero", "device"),
        ("folder", "folder"),
        ("empty", "empty"),
        ("notes", "not a chit session"),
    ]:
        with pytest.raises(SessionError, match=why):
            load(folder / f"{name}.jsonl")


def test_only_odd_entries_is_no_session(tmp_path: Path) -> None:
    folder = sessions_dir(tmp_path)
    folder.mkdir(parents=True)
    os.mkfifo(folder / "pipe.jsonl")
    (folder / "empty.jsonl").write_bytes(b"")
    with pytest.raises(SessionError, match=r"no sessions yet .*\(skipped 2 entries"):
        latest_path(tmp_path)


def test_chit_sessions(home: tuple[Path, str]) -> None:
    folder, session_id = home
    r = chit(folder, "sessions")
    assert r.returncode == 0
    assert session_id[:8] in r.stdout  # the table shows ids by their first 8 characters
    warnings = r.stderr.splitlines()
    assert len(warnings) == len(ODD)
    for name in ODD:
        assert any(f"{name}.jsonl" in w and w.startswith("chit: warning:") for w in warnings)

    r = chit(folder, "sessions", "--json")
    assert r.returncode == 0
    assert [s["session_id"] for s in orjson.loads(r.stdout)] == [session_id]
    assert len(r.stderr.splitlines()) == len(ODD)


def test_chit_usage(home: tuple[Path, str]) -> None:
    folder, session_id = home
    r = chit(folder, "usage")
    assert r.returncode == 0
    assert r.stdout.startswith(f"session {session_id} · ")
    r = chit(folder, "usage", "--json")
    assert r.returncode == 0
    assert orjson.loads(r.stdout)["session_id"] == session_id
    r = chit(folder, "usage", str(sessions_dir(folder) / "pipe.jsonl"))
    assert r.returncode == 2
    assert len(r.stderr.splitlines()) == 1


def test_chit_continue(home: tuple[Path, str], replay: ReplayServer) -> None:
    folder, session_id = home
    replay.queue(Reply(body=wire.anthropic("two")))
    r = chit(
        folder,
        *("--provider", "anthropic", "--base-url", replay.url, "-c", "-p", "hi"),
        ANTHROPIC_API_KEY=KEY,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout == "two\n"
    (sent,) = replay.received
    assert [m["role"] for m in sent.json["messages"]] == ["user", "assistant", "user"]
    loaded = load(sessions_dir(folder) / f"{session_id}.jsonl")
    assert loaded.state.turns == 2
    assert loaded.warnings == []
    assert list_sessions(folder)[0].session_id == session_id
