"""Properties of the journal: what is written loads back; any prefix of a journal loads as a
prefix of its records; damage gives a valid state or a SessionError, never anything else.
And every reader agrees, on every file: a report (no messages) and ``chit sessions`` (which
starts after a sealed checkpoint when it can) give the figures of a full load."""

from __future__ import annotations

import itertools
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sessionfiles import read_alike

from chit.checkpoint import Session, load
from chit.checkpoint.store import last_sealed, summary
from chit.errors import SessionError
from chit.messages import AssistantTurn, Ended, Message, RequestError, ToolCall, ToolResult
from chit.pricing import Cost
from chit.state import AgentState, RequestRecord
from chit.usage import FIELDS, Usage

_folders = itertools.count()
SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

# Text without lone surrogates (those are not UTF-8; a separate test covers them).
text = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)
count = st.one_of(st.none(), st.integers(0, 10**9))
money = st.one_of(
    st.none(),
    st.decimals(min_value=0, max_value=1000, places=8, allow_nan=False, allow_infinity=False),
)
json_value = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1), text),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(text, inner, max_size=3)),
    max_leaves=8,
)

calls = st.builds(ToolCall, text, text, text)
results = st.builds(ToolResult, text, text, text, st.booleans())
messages = st.builds(
    Message,
    role=st.sampled_from(["user", "assistant", "tool"]),
    text=text,
    reasoning=text,
    tool_calls=st.lists(calls, max_size=2).map(tuple),
    tool_results=st.lists(results, max_size=2).map(tuple),
    interrupted=st.booleans(),
)
responses = st.builds(
    AssistantTurn,
    provider=st.sampled_from(["anthropic", "openai", "ollama", "x"]),
    model_requested=text,
    usage=st.builds(Usage.reported, count, count, count, count, count),
    model=st.one_of(st.none(), text),
    stop_reason=st.one_of(st.none(), text),
    ended=st.sampled_from(list(Ended)),
    error=st.one_of(
        st.none(), st.builds(RequestError, text, text, st.one_of(st.none(), st.integers(100, 599)))
    ),
    extras=st.dictionaries(text, json_value, max_size=3),
)
costs = st.builds(Cost, money, money, st.integers(0, 3), st.booleans(), st.one_of(st.none(), text))
# A turn: some messages, some requests.
turns = st.lists(
    st.tuples(
        st.lists(messages, min_size=1, max_size=3),
        st.lists(st.tuples(responses, costs), max_size=3),
    ),
    min_size=1,
    max_size=4,
)


Plan = list[tuple[list[Message], list[tuple[AssistantTurn, Cost]]]]


def write(home: Path, plan: Plan) -> tuple[Session, AgentState]:
    s = Session.create(home, cwd="/w", provider="openai", model="m")
    state = AgentState(session_id=s.session_id)
    append(s, state, plan)
    s.close()
    return s, state


def append(s: Session, state: AgentState, plan: Plan) -> None:
    """The turns of ``plan``, appended as the agent appends them."""
    for said, requests in plan:
        n = state.turns + 1
        for m in said:
            state.messages.append(m)
            s.append_message(m)
        for response, cost in requests:
            record = RequestRecord(n, response, cost)
            state.record(record)
            s.append_usage(record)
        state.turns = n
        s.append_checkpoint(state)


def kept(r: RequestRecord) -> tuple[Any, ...]:
    """What a usage line keeps of a record (the text lives in the messages)."""
    a = r.response
    return (
        r.turn,
        a.provider,
        a.model_requested,
        a.model,
        a.usage,
        a.stop_reason,
        a.ended,
        a.error,
        a.extras,
        r.cost,
    )


def folder(tmp_path: Path) -> Path:
    return tmp_path / f"h{next(_folders)}"


def fails_alike(path: Path) -> None:
    """Every reader refuses the file."""
    for read in (load, lambda p: load(p, messages=False), summary):
        with pytest.raises(SessionError):
            read(path)


@SETTINGS
@given(turns)
def test_write_then_load_round_trips(tmp_path: Path, plan: Any) -> None:
    s, state = write(folder(tmp_path), plan)
    loaded = load(s.path)
    assert loaded.warnings == []
    assert loaded.state.messages == state.messages
    assert [kept(r) for r in loaded.state.records] == [kept(r) for r in state.records]
    assert loaded.totals == state.totals()
    assert loaded.state.turns == len(plan)
    assert read_alike(s.path).state.report() == state.report()
    # chit sessions starts after the last checkpoint: its seal holds.
    data = s.path.read_bytes()
    sealed = last_sealed(data, data.index(b"\n") + 1)
    assert sealed is not None and sealed[0] == len(data)


@SETTINGS
@given(turns, st.data())
def test_any_prefix_loads_as_a_prefix(tmp_path: Path, plan: Any, data: st.DataObject) -> None:
    s, state = write(folder(tmp_path), plan)
    whole = s.path.read_bytes()
    header_end = whole.index(b"\n") + 1
    cut = data.draw(st.integers(0, len(whole)))
    part = s.path.with_name("part.jsonl")
    part.write_bytes(whole[:cut])
    if cut < header_end:
        fails_alike(part)
        return
    loaded = read_alike(part)
    got = [kept(r) for r in loaded.state.records]
    assert got == [kept(r) for r in state.records][: len(got)]
    # Every complete line is read: the records are exactly those whose line is whole.
    complete = whole[:cut].split(b"\n")[:-1]
    assert len(got) == sum(line.startswith(b'{"type":"usage"') for line in complete)
    # The conversation is one some checkpoint had.
    assert loaded.state.messages == state.messages[: len(loaded.state.messages)]
    assert len([w for w in loaded.warnings if "incomplete" in w]) <= 1
    assert not [w for w in loaded.warnings if "damaged" in w]


@SETTINGS
@given(
    turns,
    st.lists(st.tuples(st.integers(0, 10**9), st.integers(0, 255)), min_size=1, max_size=8),
)
def test_damage_gives_a_state_or_a_session_error(
    tmp_path: Path, plan: Any, flips: list[tuple[int, int]]
) -> None:
    s, _ = write(folder(tmp_path), plan)
    data = bytearray(s.path.read_bytes())
    for at, value in flips:
        data[at % len(data)] = value
    s.path.write_bytes(bytes(data))
    try:
        loaded = read_alike(s.path)
    except SessionError:
        fails_alike(s.path)
        return
    # Whatever loaded is a consistent state: totals add up and serialize.
    assert loaded.totals == loaded.state.totals()
    loaded.totals.to_json()
    assert loaded.state.turns >= max((r.turn for r in loaded.state.records), default=0)
    for turn in loaded.checkpoints:
        assert loaded.conversation_at(turn) is not None


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_after_a_header(tmp_path_factory: Any, tail: bytes) -> None:
    path = tmp_path_factory.mktemp("b") / "s.jsonl"
    path.write_bytes(b'{"type":"session","format":"chit.session","schema_version":1}\n' + tail)
    try:
        loaded = read_alike(path)
    except SessionError:
        fails_alike(path)
        return
    assert loaded.totals == loaded.state.totals()


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "type",
                "turn",
                "usage",
                "cost",
                "role",
                "text",
                "to_turn",
                "token_snapshot",
                "messages",
                "tool_calls",
                "error",
                "extras",
            ]
        ),
        json_value | money.map(lambda d: None if d is None else str(d)),
        max_size=6,
    )
)
def test_lines_of_any_shape_load(tmp_path_factory: Any, line: dict[str, Any]) -> None:
    import orjson

    path = tmp_path_factory.mktemp("l") / "s.jsonl"
    for kind in ("message", "usage", "checkpoint", "rewind", "event"):
        body = {**line, "type": kind}
        path.write_bytes(
            b'{"type":"session","format":"chit.session"}\n' + orjson.dumps(body) + b"\n"
        )
        loaded = read_alike(path)
        assert loaded.totals == loaded.state.totals()
        for field in FIELDS:
            value = getattr(loaded.totals.usage, field)
            assert value is None or isinstance(value, int)
        assert loaded.totals.cost.usd is None or isinstance(loaded.totals.cost.usd, Decimal)


@settings(max_examples=100, deadline=None)
@given(
    st.sampled_from(["anthropic", "openai", "openai-responses", "ollama", ""]),
    st.sampled_from(["claude-sonnet-4-5", "gpt-4o", "", "\x00", "o4-mini"]),
    st.lists(
        st.one_of(st.integers(-(2**63), 2**63 - 1), st.none(), st.text(max_size=3)),
        min_size=5,
        max_size=5,
    ),
    json_value,
)
def test_a_usage_line_without_its_cost_is_priced_or_left_unpriced(
    tmp_path_factory: Any, provider: str, model: str, counts: list[Any], one_hour: Any
) -> None:
    import orjson

    line = {
        "type": "usage",
        "provider": provider,
        "model_requested": model,
        "usage": dict(zip(FIELDS, counts, strict=True)),
        "extras": {"cache_write_1h": one_hour},
    }
    path = tmp_path_factory.mktemp("p") / "s.jsonl"
    path.write_bytes(b'{"type":"session","format":"chit.session"}\n' + orjson.dumps(line) + b"\n")
    loaded = read_alike(path)
    (record,) = loaded.state.records
    assert record.cost.usd is None or record.cost.usd >= 0
    assert "priced again" in loaded.warnings[-1]


odd = json_value | money.map(lambda d: None if d is None else str(d))
figures = st.fixed_dictionaries(
    {},
    optional={
        "input_tokens": count | odd,
        "cache_read_tokens": count | odd,
        "output_tokens": count | odd,
    },
)
# Lines of every type a file may hold, of any shape: what a hand edit, another tool or a
# future chit may have written.
any_line = st.one_of(
    st.fixed_dictionaries(
        {"type": st.just("usage")},
        optional={
            "turn": st.integers(0, 9) | odd,
            "model": st.sampled_from(["a", "b"]) | odd,
            "usage": figures | odd,
            "cost": st.fixed_dictionaries(
                {}, optional={"usd": money.map(lambda d: None if d is None else str(d)) | odd}
            )
            | odd,
        },
    ),
    st.fixed_dictionaries(
        {"type": st.just("checkpoint")},
        optional={
            "turn": st.integers(0, 9) | odd,
            "token_snapshot": st.fixed_dictionaries(
                {}, optional={"requests": st.integers(0, 9), "usage": figures}
            )
            | odd,
            "models": st.lists(st.sampled_from(["a", "b"])) | odd,
            "seal": st.fixed_dictionaries({"bytes": st.integers(0, 5000), "crc32": count}) | odd,
        },
    ),
    st.fixed_dictionaries(
        {"type": st.sampled_from(["message", "rewind", "budget", "model", "session", "x"])},
        optional={"role": st.sampled_from(["user", "bot"]), "to_turn": st.integers(0, 5) | odd},
    ),
).map(lambda line: orjson.dumps(line) + b"\n") | st.binary(max_size=40)

edits = st.lists(
    st.one_of(
        st.tuples(st.just("flip"), st.integers(0, 10**9), st.integers(0, 255)),
        st.tuples(st.just("cut"), st.integers(0, 10**9)),
        st.tuples(st.just("append"), any_line),
        st.tuples(st.just("drop"), st.integers(0, 10**9)),
        st.tuples(st.just("repeat"), st.integers(0, 10**9)),
        st.tuples(st.just("resume"), st.lists(st.tuples(responses, costs), max_size=2)),
    ),
    max_size=4,
)


def edit(path: Path, change: tuple[Any, ...]) -> None:
    """One change to a session file: damage, another writer's line, or chit resuming it."""
    data = path.read_bytes()
    what = change[0]
    if what == "flip" and data:
        at = change[1] % len(data)
        path.write_bytes(data[:at] + bytes([change[2]]) + data[at + 1 :])
    elif what == "cut":
        path.write_bytes(data[: change[1] % (len(data) + 1)])
    elif what == "append":
        path.write_bytes(data + change[1])
    elif what in ("drop", "repeat"):
        lines = data.split(b"\n")
        at = change[1] % len(lines)
        lines[at : at + 1] = [] if what == "drop" else [lines[at], lines[at]]
        path.write_bytes(b"\n".join(lines))
    elif what == "resume":
        try:
            s, loaded = Session.open(path, path.parent)
        except SessionError:
            return
        append(s, loaded.state, [([Message("user", text="resumed")], change[1])])
        s.close()


@settings(max_examples=150, deadline=None)
@given(turns, edits)
def test_every_reader_agrees_on_every_file(tmp_path_factory: Any, plan: Any, changes: Any) -> None:
    # `chit sessions` starts after a sealed checkpoint where the seal holds: whatever was
    # done to the file, before or after it, its figures are those of `chit usage`.
    s, _ = write(tmp_path_factory.mktemp("e"), plan)
    for change in changes:
        edit(s.path, change)
    try:
        read_alike(s.path)
    except SessionError:
        fails_alike(s.path)


@settings(max_examples=50, deadline=None)
@given(turns, st.lists(st.tuples(responses, costs), min_size=1, max_size=2))
def test_a_session_resumed_after_a_crash_is_sealed_again(
    tmp_path_factory: Any, plan: Any, requests: Any
) -> None:
    # A crash mid-turn leaves usage lines (and a torn line) after the last checkpoint; the
    # next checkpoint chit writes is sealed, over the whole file as it is then.
    s, _ = write(tmp_path_factory.mktemp("c"), plan)
    with open(s.path, "ab") as f:
        f.write(b'{"type":"usage","turn":')
    edit(s.path, ("resume", requests))
    data = s.path.read_bytes()
    assert last_sealed(data, data.index(b"\n") + 1) is not None
    loaded = read_alike(s.path)
    assert any("damaged" in w for w in loaded.warnings)  # the torn line, closed and named
