"""Resume tells the truth and changes nothing by itself: opening a session and leaving
without a turn writes nothing (new sessions and forks included); what waits goes to disk
with the next line of a turn, in order, and the seal still holds; damage found on resume is
named with its line number."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import orjson
from sessionfiles import new_session, read_alike, turn

from chit.checkpoint import Session, sessions_dir
from chit.checkpoint.store import last_sealed
from chit.messages import Message
from chit.state import AgentState


def types(path: Path) -> list[str]:
    return [orjson.loads(line)["type"] for line in path.read_bytes().splitlines()]


def crashed(home: Path) -> Path:
    """A session of two turns whose third was cut off by a crash after its user message."""
    s, _ = new_session(home, turns=2)
    s.append_message(Message("user", text="question 3"))
    s.close()
    return s.path


def test_opening_and_leaving_without_a_turn_writes_nothing(tmp_path: Path) -> None:
    path = crashed(tmp_path)
    before = path.read_bytes(), path.stat().st_mtime_ns
    for opened in (Session.open(path, tmp_path), Session.latest(tmp_path)):
        s, loaded = opened
        assert loaded.unfinished == 1  # a rewind is due, and waits
        s.append_event("model", provider="anthropic", model="claude-sonnet-4-5")
        s.append_event("budget", max_cost="1.50", max_tokens=None)
        s.close()
        assert (path.read_bytes(), path.stat().st_mtime_ns) == before


def test_what_waits_goes_with_the_first_line_of_a_turn_in_order(tmp_path: Path) -> None:
    path = crashed(tmp_path)
    size = path.stat().st_size
    s, loaded = Session.open(path, tmp_path)
    s.append_event("model", provider="anthropic", model="claude-sonnet-4-5")
    s.append_event("budget", max_cost="1.50", max_tokens=None)
    turn(s, loaded.state, 3)
    s.close()
    assert types(path)[-7:] == [
        "rewind",  # the crashed turn's message leaves the conversation first
        "model",
        "budget",
        "message",
        "usage",
        "message",
        "checkpoint",
    ]
    data = path.read_bytes()
    rewind = orjson.loads(data[size:].split(b"\n")[0])
    assert (rewind["type"], rewind["to_turn"]) == ("rewind", 2)
    # The checkpoint is sealed over every byte before it, the waiting lines included.
    sealed = last_sealed(data, data.index(b"\n") + 1)
    assert sealed is not None and sealed[0] == len(data)
    again = read_alike(path)
    assert again.warnings == []
    assert again.model() == ("anthropic", "claude-sonnet-4-5")
    assert [m.text for m in again.state.messages if m.role == "user"] == [
        "question 1",
        "question 2",
        "question 3",
    ]


def test_a_new_session_without_a_turn_leaves_no_file(tmp_path: Path) -> None:
    home = tmp_path / "home"
    s = Session.create(home, cwd="/w", provider="openai", model="m")
    s.append_event("budget", max_cost="1", max_tokens=None)
    assert s.path == sessions_dir(home) / f"{s.session_id}.jsonl"  # known from the start
    assert not s.on_disk
    s.close()
    assert not home.exists()  # not even the folders


def test_a_fork_without_a_turn_leaves_no_file(tmp_path: Path) -> None:
    parent, _ = new_session(tmp_path, turns=1)
    parent.close()
    before = parent.path.read_bytes()
    fork, loaded = Session.open(parent.path, tmp_path, fork=True)
    fork.append_event("model", provider="anthropic", model="claude-sonnet-4-5")
    fork.close()
    assert not fork.path.exists()
    assert os.listdir(sessions_dir(tmp_path)) == [parent.path.name]
    assert parent.path.read_bytes() == before
    assert loaded.state.turns == 1


def test_a_new_session_appears_with_its_first_line(tmp_path: Path) -> None:
    home = tmp_path / "home"
    s = Session.create(home, cwd="/w", provider="openai", model="gpt-4o-mini")
    s.append_event("model", provider="openai", model="o3")
    state = AgentState(session_id=s.session_id)
    turn(s, state, 1)
    assert s.on_disk
    assert types(s.path) == ["session", "model", "message", "usage", "message", "checkpoint"]
    assert stat.S_IMODE(s.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(sessions_dir(home).stat().st_mode) == 0o700
    assert os.listdir(sessions_dir(home)) == [s.path.name]  # no temporary file left
    data = s.path.read_bytes()
    assert last_sealed(data, data.index(b"\n") + 1) is not None
    turn(s, state, 2)
    s.close()
    loaded = read_alike(s.path)
    assert loaded.warnings == []
    assert loaded.state.session_id == s.session_id
    assert loaded.model() == ("openai", "o3")
    assert loaded.totals.usage.input_tokens == 300


def test_a_rewind_writes_what_waits_before_it(tmp_path: Path) -> None:
    s, _ = new_session(tmp_path, turns=2)
    s.append_event("note", text="kept")
    rewound = s.rewind(1)
    assert rewound is not None and len(rewound.messages) == 2
    assert types(s.path)[-2:] == ["note", "rewind"]
    assert s.rewind(9) is None  # no such checkpoint: nothing written
    assert types(s.path)[-2:] == ["note", "rewind"]
    s.close()


def test_damage_found_on_resume_is_named_with_its_line_number(tmp_path: Path) -> None:
    s, _ = new_session(tmp_path, turns=3)
    s.close()
    lines = s.path.read_bytes().splitlines(keepends=True)
    # Lines: 1 header; then per turn: message, usage, message, checkpoint (2-5, 6-9, 10-13).
    assert [orjson.loads(x)["type"] for x in lines[5:9]] == [
        "message",
        "usage",
        "message",
        "checkpoint",
    ]
    lines[6] = lines[6].replace(b'"usage"', b'"usage","note":"caf\xe9"', 1)  # invalid UTF-8
    lines.insert(3, b"garbage, not JSON\n")  # a new line 4: the rest move down one
    data = b"".join(lines) + b'{"type":"message","role":"user","te'  # torn by a crash
    s.path.write_bytes(data)

    opened, loaded = Session.open(s.path, tmp_path)
    assert loaded.warnings == [
        "line 15 is incomplete (a write was cut off before its end): ignored",
        "skipped 2 damaged line(s): 4, 8",
        "the last checkpoint's snapshot disagrees with the usage lines, which win: "
        + "; ".join(
            f"line 14 (turn 3): {figure} in the snapshot, {derived} from the lines"
            for figure, derived in [
                ("requests 3", 2),
                ("input_tokens 600", 400),
                ("cache_read_tokens 60", 40),
                ("output_tokens 6", 4),
                ("cost_usd 0.006", "0.004"),
            ]
        ),
    ]
    opened.close()
    assert s.path.read_bytes() == data  # found, reported, and left as it was
    assert read_alike(s.path).warnings == loaded.warnings  # reports say the same
