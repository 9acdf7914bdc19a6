"""Sessions as the agent and the user use them: create, append, find, list, rewind, fork,
export; files that are not sessions, or from a newer chit; secrets never written."""

from __future__ import annotations

import os
import shutil
import stat
import time
from decimal import Decimal
from pathlib import Path

import orjson
import pytest
from sessionfiles import CORPUS, new_session, read_alike, turn

from chit.checkpoint import (
    SCHEMA_VERSION,
    SavedBudget,
    Session,
    find,
    home_dir,
    list_sessions,
    load,
    sessions_dir,
)
from chit.checkpoint.store import last_sealed, summary
from chit.errors import SessionError
from chit.messages import AssistantTurn, Ended, Message, RequestError, ToolCall, ToolResult
from chit.pricing import Cost
from chit.state import AgentState, RequestRecord
from chit.usage import Usage


def test_create_writes_a_private_header(tmp_path: Path) -> None:
    existing = tmp_path / "existing"
    existing.mkdir()
    existing.chmod(0o755)
    s, _ = new_session(existing / "home")
    assert s.path.parent == existing / "home" / "sessions"
    assert stat.S_IMODE(s.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(s.path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(s.path.parent.parent.stat().st_mode) == 0o700  # the home chit made
    assert stat.S_IMODE(existing.stat().st_mode) == 0o755  # a folder that was there is kept
    header = orjson.loads(s.path.read_bytes().splitlines()[0])
    assert header["type"] == "session"
    assert header["format"] == "chit.session"
    assert header["schema_version"] == SCHEMA_VERSION
    assert header["session_id"] == s.session_id
    assert (header["cwd"], header["provider"], header["model"]) == (
        "/work",
        "openai",
        "gpt-4o-mini",
    )


def test_appended_turns_load_back(tmp_path: Path) -> None:
    s, state = new_session(tmp_path, turns=3)
    s.append_event("budget", max_cost="1.50", max_tokens=None)
    s.flush()  # an event waits for the next line of a turn, or this
    s.close()
    loaded = load(s.path)
    assert loaded.warnings == []
    assert loaded.state.messages == state.messages
    assert loaded.state.turns == 3
    assert loaded.totals == state.totals()
    assert loaded.totals.usage.input_tokens == 600
    assert loaded.totals.cost.usd == Decimal("0.006")
    assert loaded.events[-1]["type"] == "budget"
    assert loaded.events[-1]["max_cost"] == "1.50"
    # Each checkpoint's snapshot is the running total, and agrees with the lines.
    last = orjson.loads(s.path.read_bytes().splitlines()[-2])
    assert last["type"] == "checkpoint"
    assert last["token_snapshot"]["usage"]["input_tokens"] == 600
    assert last["token_snapshot"]["cost"]["usd"] == "0.006"
    assert last["messages"] == 6


def test_core_line_types_are_not_events(tmp_path: Path) -> None:
    s, _ = new_session(tmp_path)
    with pytest.raises(ValueError):
        s.append_event("usage", turn=1)


def test_home_comes_from_the_argument_then_chit_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert home_dir(tmp_path / "x") == tmp_path / "x"
    monkeypatch.setenv("CHIT_HOME", str(tmp_path / "env"))
    assert home_dir(None) == tmp_path / "env"
    assert sessions_dir(None) == tmp_path / "env" / "sessions"
    monkeypatch.delenv("CHIT_HOME")
    assert home_dir(None).name == "chit"  # the platform's user data folder


def test_find_by_id_prefix_and_path(tmp_path: Path) -> None:
    a, _ = new_session(tmp_path, turns=1)
    b, _ = new_session(tmp_path, turns=1)
    assert find(a.session_id, tmp_path) == a.path
    assert find(b.session_id[:8], tmp_path) == b.path
    assert find(str(a.path), tmp_path) == a.path
    assert find(a.path.name, tmp_path) == a.path  # a file name in the sessions folder
    assert find(a.path, None) == a.path
    opened, loaded = Session.open(b.session_id[:6], tmp_path)
    assert opened.path == b.path
    assert opened.session_id == b.session_id
    assert loaded.state.turns == 1


def test_an_ambiguous_prefix_is_a_clear_error(tmp_path: Path) -> None:
    folder = sessions_dir(tmp_path)
    folder.mkdir(parents=True)
    for name in ("abc111", "abc222"):
        shutil.copyfile(CORPUS, folder / f"{name}.jsonl")
    with pytest.raises(SessionError, match="'abc' matches 2 sessions"):
        find("abc", tmp_path)
    assert find("abc1", tmp_path).stem == "abc111"
    with pytest.raises(SessionError, match="no session 'zzz'"):
        find("zzz", tmp_path)
    with pytest.raises(SessionError, match="no session file"):
        find(str(tmp_path / "missing.jsonl"), tmp_path)


def test_list_newest_first_and_latest(tmp_path: Path) -> None:
    with pytest.raises(SessionError, match="no sessions yet"):
        Session.latest(tmp_path)
    assert list_sessions(tmp_path) == []
    a, state_a = new_session(tmp_path, turns=2)
    time.sleep(0.05)  # file times are coarse: keep the order unambiguous
    b, _ = new_session(tmp_path, turns=1)
    assert [i.session_id for i in list_sessions(tmp_path)] == [b.session_id, a.session_id]
    assert Session.latest(tmp_path)[0].path == b.path
    time.sleep(0.05)
    turn(a, state_a, 3)  # writing to a session makes it the most recent
    infos = list_sessions(tmp_path)
    assert [i.session_id for i in infos] == [a.session_id, b.session_id]
    assert Session.latest(tmp_path)[0].session_id == a.session_id
    first = infos[0]
    assert (first.turns, first.totals.requests) == (3, 3)
    assert first.totals.usage.input_tokens == 600
    assert first.totals.cost.usd == Decimal("0.006")
    assert first.models == ["gpt-4o-mini"]
    assert first.started is not None


def test_listing_agrees_with_a_full_load(tmp_path: Path) -> None:
    # The corpus ends with a checkpoint; a request after it (a crashed turn) still counts.
    folder = sessions_dir(tmp_path)
    folder.mkdir(parents=True)
    copy = folder / "corpus.jsonl"
    shutil.copyfile(CORPUS, copy)
    s, _ = Session.open(copy, tmp_path)
    s.append_usage(
        RequestRecord(
            6, AssistantTurn("anthropic", "x", Usage.reported(7, 0, 0, 1, 0)), Cost(Decimal(1))
        )
    )
    s.close()
    (info,) = list_sessions(tmp_path)
    loaded = read_alike(copy)
    assert (info.turns, info.totals.requests) == (loaded.state.turns, loaded.totals.requests)
    assert (info.turns, info.totals.requests) == (6, 7)
    assert info.totals == loaded.totals
    assert info.models == loaded.models


def test_listing_counts_turnless_requests_after_the_last_checkpoint_as_one_turn(
    tmp_path: Path,
) -> None:
    # Two usage lines without a turn number after checkpoint 2: both belong to turn 3.
    s, _ = new_session(tmp_path, turns=2)
    line = {"type": "usage", "model": "m", "usage": {"input_tokens": 5}, "cost": {"usd": "1"}}
    with open(s.path, "ab") as f:
        f.write(orjson.dumps(line) + b"\n" + orjson.dumps(line) + b"\n")
    (info,) = list_sessions(tmp_path)
    loaded = read_alike(s.path)
    assert info.turns == loaded.state.turns == 3
    assert info.totals.requests == loaded.totals.requests == 4


def test_list_skips_files_that_are_not_sessions(tmp_path: Path) -> None:
    good, _ = new_session(tmp_path, turns=1)
    (sessions_dir(tmp_path) / "junk.jsonl").write_bytes(b"\x00\x01binary")
    problems: list[str] = []
    assert [i.session_id for i in list_sessions(tmp_path, problems)] == [good.session_id]
    assert len(problems) == 1
    assert "not a chit session" in problems[0]


def test_rewind_goes_back_but_keeps_every_token(tmp_path: Path) -> None:
    s, state = new_session(tmp_path, turns=3)
    before = s.path.read_bytes()
    assert s.rewind(7) is None  # no such checkpoint: nothing written
    assert s.path.read_bytes() == before
    back = s.rewind(1)
    assert back is not None
    assert [m.text for m in back.messages] == ["question 1", "answer 1"]
    assert back.totals() == state.totals()  # tokens are never un-spent
    assert back.turns == 3  # and turn numbers are not reused
    assert s.path.read_bytes().startswith(before)  # nothing deleted, one line appended
    # The next turn continues from the rewound conversation.
    turn(s, back, 4)
    loaded = load(s.path)
    assert [m.text for m in loaded.state.messages] == [
        "question 1",
        "answer 1",
        "question 4",
        "answer 4",
    ]
    assert loaded.totals.requests == 4
    assert loaded.warnings == []
    # Rewinding to before the first turn empties the conversation.
    empty = s.rewind(0)
    assert empty is not None
    assert empty.messages == []
    assert load(s.path).state.messages == []


def test_fork_copies_under_a_new_id(tmp_path: Path) -> None:
    s, state = new_session(tmp_path, turns=2)
    fork = s.fork()
    assert fork.session_id != s.session_id
    assert fork.path.parent == s.path.parent
    assert stat.S_IMODE(fork.path.stat().st_mode) == 0o600
    loaded = load(fork.path)
    assert loaded.header["forked_from"] == s.session_id
    assert loaded.state.session_id == fork.session_id
    assert loaded.state.messages == state.messages
    assert loaded.totals == state.totals()
    # The two go their own ways; the fork's next checkpoint is sealed over its own bytes.
    turn(fork, loaded.state, 3)
    assert read_alike(fork.path).state.turns == 3
    assert read_alike(s.path).state.turns == 2
    data = fork.path.read_bytes()
    assert last_sealed(data, data.index(b"\n") + 1) is not None


def test_export_is_a_private_copy(tmp_path: Path) -> None:
    s, state = new_session(tmp_path / "home", turns=2)
    dest = s.export(tmp_path / "out.jsonl")
    assert stat.S_IMODE(dest.stat().st_mode) == 0o600
    assert dest.read_bytes() == s.path.read_bytes()
    into_folder = s.export(tmp_path)
    assert into_folder == tmp_path / s.path.name
    assert load(into_folder).totals == state.totals()
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_unknown_fields_and_lines_survive_fork_and_export(tmp_path: Path) -> None:
    lines = [orjson.loads(x) for x in CORPUS.read_bytes().splitlines()]
    for i, line in enumerate(lines):
        line[f"x_future_{i}"] = {"kept": [i, "as written"]}
    lines.insert(5, {"type": "x_future_line", "value": 42})
    source = tmp_path / "future-fields.jsonl"
    source.write_bytes(b"".join(orjson.dumps(x) + b"\n" for x in lines))
    s, loaded = Session.open(source, tmp_path)
    assert loaded.totals.usage.input_tokens == 6352  # unknown fields change nothing
    assert {"type": "x_future_line", "value": 42} in loaded.events
    exported = [orjson.loads(x) for x in s.export(tmp_path / "e.jsonl").read_bytes().splitlines()]
    assert exported == lines
    forked = [orjson.loads(x) for x in s.fork().path.read_bytes().splitlines()]
    assert forked[1:] == lines[1:]
    assert forked[0]["x_future_0"] == {"kept": [0, "as written"]}


def test_a_newer_schema_is_refused_and_left_untouched(tmp_path: Path) -> None:
    lines = CORPUS.read_bytes().split(b"\n")
    header = orjson.loads(lines[0])
    header["schema_version"] = SCHEMA_VERSION + 1
    path = sessions_dir(tmp_path) / "newer.jsonl"
    path.parent.mkdir(parents=True)
    data = b"\n".join([orjson.dumps(header), *lines[1:]])
    path.write_bytes(data)
    mtime = path.stat().st_mtime_ns
    for attempt in (
        lambda: load(path),
        lambda: Session.open("newer", tmp_path),
        lambda: Session.latest(tmp_path),
    ):
        with pytest.raises(SessionError) as e:
            attempt()
        assert f"version {SCHEMA_VERSION + 1}" in str(e.value)
        assert f"up to {SCHEMA_VERSION}" in str(e.value)
    assert path.read_bytes() == data
    assert path.stat().st_mtime_ns == mtime


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"", "empty"),
        (b"\n\n", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not a chit session"),
        (b'{"type": "message", "role": "user"}\n', "not a chit session"),
        (b'{"type": "session", "schema_version": 1}\n', "not a chit session"),  # no format
        (b'{"type": "session", "format": "chit.session"', "no complete header"),
        (b'{"type": "session", "format": "chit.session", "schema_version": "x"}\n', "schema"),
    ],
)
def test_files_that_are_not_sessions(tmp_path: Path, content: bytes, why: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(content)
    for read in (load, lambda p: load(p, messages=False), summary):
        with pytest.raises(SessionError, match=why):
            read(path)
    assert path.read_bytes() == content


def test_a_folder_or_unreadable_path_is_a_session_error(tmp_path: Path) -> None:
    for read in (load, lambda p: load(p, messages=False), summary):
        with pytest.raises(SessionError, match="folder"):
            read(tmp_path)
        with pytest.raises(SessionError, match="no session file"):
            read(tmp_path / "nope.jsonl")


@pytest.mark.parametrize("cut", ["message", "checkpoint"])
def test_a_line_torn_by_a_crash_and_closed_on_resume_is_damage_to_every_reader(
    tmp_path: Path, cut: str
) -> None:
    s, state = new_session(tmp_path, turns=1)
    s.close()
    whole = s.path.read_bytes()
    last = whole.rstrip(b"\n").rsplit(b"\n", 1)[1] if cut == "checkpoint" else None
    if last is None:  # a crash in the middle of the next turn's user message
        torn = orjson.dumps({"type": "message", "role": "user", "text": "question 2"})[:30]
        s.path.write_bytes(whole + torn)
    else:  # a crash in the middle of turn 1's checkpoint
        s.path.write_bytes(whole[: -len(last) - 1] + last[:40])
    s, _ = Session.open(s.path, tmp_path)
    turn(s, state, 2)  # resuming closes the torn line with a mark, then appends
    s.close()
    loaded = read_alike(s.path)
    assert len([w for w in loaded.warnings if "damaged" in w]) == 1


def test_opening_writes_nothing_until_something_is_appended(tmp_path: Path) -> None:
    torn = tmp_path / "torn.jsonl"
    data = CORPUS.read_bytes()[:-25]
    torn.write_bytes(data)
    s, loaded = Session.open(torn, tmp_path)
    assert "incomplete" in loaded.warnings[0]
    assert torn.read_bytes() == data
    # An event waits for a line of a turn: closed before one, the file is as it was.
    s.append_event("model", provider="openai", model="o3")
    s.close()
    assert torn.read_bytes() == data
    # The first write ends the torn line, so the new line is whole; the fragment is then
    # reported as a damaged line.
    s, _ = Session.open(torn, tmp_path)
    s.append_event("model", provider="openai", model="o3")
    s.flush()
    s.close()
    again = load(torn)
    assert again.events[-1]["model"] == "o3"
    assert again.warnings[0] == "skipped 1 damaged line(s): 29"


def test_secrets_are_never_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = "sk-ant-api03-RECOGNIZABLE-test-key-0123456789abcdef"
    other = "sk-proj-ANOTHER-recognizable-secret-9876543210"
    monkeypatch.setenv("ANTHROPIC_API_KEY", key)
    monkeypatch.setenv("OPENAI_API_KEY", other)
    home = tmp_path / "home"
    s = Session.create(home, cwd=f"/tmp/{key}", provider="anthropic", model="claude-sonnet-4-5")
    state = AgentState(session_id=s.session_id)
    pasted = Message("user", text=f"my key is {key}, is that a problem?")
    s.append_message(pasted)
    response = AssistantTurn(
        "anthropic",
        "claude-sonnet-4-5",
        Usage.reported(10, 0, 0, None, None),
        ended=Ended.ERROR,
        error=RequestError("auth", f"invalid x-api-key {key}", 401),
        extras={"raw_usage": [{"echo": other}], "headers": {"authorization": f"Bearer {other}"}},
    )
    record = RequestRecord(1, response, Cost())
    state.record(record)
    s.append_usage(record)
    s.append_message(
        Message(
            "assistant",
            tool_calls=(ToolCall("c1", "shell", f'{{"cmd": "echo {key}"}}'),),
        )
    )
    s.append_message(Message("tool", tool_results=(ToolResult("c1", "shell", other),)))
    state.turns = 1
    s.append_checkpoint(state)
    s.append_event("note", text=key)
    s.export(tmp_path / "export.jsonl")
    s.fork()
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(written) == 3
    for path in written:
        data = path.read_bytes()
        assert key.encode() not in data, path
        assert other.encode() not in data, path
        assert b"[redacted]" in data
    # The session still loads; the record kept everything but the secret.
    loaded = load(s.path)
    assert loaded.totals.usage.input_tokens == 10
    assert loaded.state.records[0].response.error is not None
    assert loaded.state.records[0].response.error.message == "invalid x-api-key [redacted]"


def test_odd_text_and_extras_do_not_break_a_write(tmp_path: Path) -> None:
    s, _ = new_session(tmp_path)
    s.append_message(Message("user", text="lone surrogate \ud800 here"))
    response = AssistantTurn(
        "openai",
        "m",
        Usage.reported(1, 0, 0, 1, 0),
        extras={"provider_cost": Decimal("0.5"), 7: "int key", "big": 2**70, "set": {"b", "a"}},
    )
    s.append_usage(RequestRecord(1, response, Cost()))
    loaded = load(s.path)
    assert loaded.warnings == [
        "the last turn did not finish: its 1 message(s) are left out of the conversation "
        "(its requests still count)"
    ]
    assert b"lone surrogate ? here" in s.path.read_bytes()
    extras = loaded.state.records[0].response.extras
    assert extras == {
        "provider_cost": "0.5",
        "7": "int key",
        "big": "1180591620717411303424",
        "set": ["a", "b"],
    }


def test_a_session_written_elsewhere_appends_in_place(tmp_path: Path) -> None:
    copy = tmp_path / "elsewhere" / "mine.jsonl"
    copy.parent.mkdir()
    shutil.copyfile(CORPUS, copy)
    s, loaded = Session.open(str(copy), tmp_path / "home")
    state = loaded.state
    turn(s, state, 6)
    again = load(copy)
    assert again.state.turns == 6
    assert again.totals.requests == 7
    assert again.warnings == []  # the running snapshot picked up from the loaded totals
    assert os.listdir(copy.parent) == ["mine.jsonl"]


@pytest.mark.parametrize(
    ("fields", "budget", "problems"),
    [
        ({"max_cost": "1.50", "max_tokens": 900}, (Decimal("1.50"), 900), []),
        ({"max_cost": None, "max_tokens": None}, (None, None), []),
        ({"max_cost": "abc", "max_tokens": 900}, (None, 900), ['max_cost "abc"']),
        ({"max_cost": "-1", "max_tokens": "9"}, (None, None), ['max_cost "-1"', 'max_tokens "9"']),
        ({"max_cost": 1.5, "max_tokens": True}, (None, None), ["max_cost 1.5", "max_tokens true"]),
        ({"max_cost": "1e999999", "max_tokens": 0}, (None, None), ["max_cost", "max_tokens 0"]),
    ],
)
def test_the_budget_is_read_defensively(
    tmp_path: Path, fields: dict[str, object], budget: tuple[object, object], problems: list[str]
) -> None:
    s, _ = new_session(tmp_path, turns=1)
    s.append_event("budget", max_cost="2", max_tokens=5)  # an earlier budget: replaced
    s.append_event("budget", **fields)
    s.flush()
    loaded = read_alike(s.path)
    saved = loaded.budget()
    assert (saved.max_cost, saved.max_tokens) == budget
    assert len(saved.problems) == len(problems)
    for words, problem, warning in zip(problems, saved.problems, loaded.warnings, strict=True):
        assert words in problem
        assert warning == f"line 7: budget {problem}: ignored"


def test_the_model_is_the_last_model_event_else_the_header(tmp_path: Path) -> None:
    s, _ = new_session(tmp_path, turns=1)
    assert load(s.path).model() == ("openai", "gpt-4o-mini")
    assert load(s.path).budget() == SavedBudget()
    s.append_event("model", provider="anthropic", model="claude-sonnet-4-5")
    s.flush()
    assert load(s.path).model() == ("anthropic", "claude-sonnet-4-5")
    s.append_event("model", provider=["not", "a", "name"], model=7)
    s.flush()
    assert load(s.path).model() == (None, None)


@pytest.mark.parametrize("when", ["before the first append", "between two turns"])
def test_lines_another_writer_appended_are_never_sealed_over(tmp_path: Path, when: str) -> None:
    # A seal vouches that the checkpoint's figures are those of the lines before it; lines
    # this session never read (another process appending) are not in its figures.
    first, _ = new_session(tmp_path, turns=1)
    s, loaded = Session.open(first.path, tmp_path)
    if when == "between two turns":
        turn(s, loaded.state, 2)
    foreign = {"type": "usage", "turn": 9, "usage": {"input_tokens": 5}, "cost": {"usd": "1"}}
    with open(s.path, "ab") as f:
        f.write(orjson.dumps(foreign) + b"\n")
    turn(s, loaded.state, 3)
    last = orjson.loads(s.path.read_bytes().splitlines()[-1])
    assert last["type"] == "checkpoint" and "seal" not in last
    read_alike(s.path)  # listed from every line: the foreign request counts
