"""Properties of the journal: what is written loads back; any prefix of a journal loads as a
prefix of its records; damage gives a valid state or a SessionError, never anything else.
And `tally` (what `chit usage` reads) gives the figures of a full load, every time."""

from __future__ import annotations

import itertools
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chit.checkpoint import Loaded, Session, load, tally
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


def write(
    home: Path, plan: list[tuple[list[Message], list[tuple[AssistantTurn, Cost]]]]
) -> tuple[Session, AgentState]:
    s = Session.create(home, cwd="/w", provider="openai", model="m")
    state = AgentState(session_id=s.session_id)
    for n, (said, requests) in enumerate(plan, start=1):
        for m in said:
            state.messages.append(m)
            s.append_message(m)
        for response, cost in requests:
            record = RequestRecord(n, response, cost)
            state.record(record)
            s.append_usage(record)
        state.turns = n
        s.append_checkpoint(state)
    s.close()
    return s, state


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


def same_figures(path: Path, loaded: Loaded, buffering: int = 1 << 16) -> None:
    """`tally` reads the file as the full load did: the same report, every figure."""
    read = tally(path, buffering)
    assert read.warnings == tally(path).warnings  # however much was read at a time
    report = loaded.state.report()
    damaged = any("damaged" in w for w in loaded.warnings)
    if not damaged:
        assert read.report == report
        return
    # Damage inside a message or checkpoint line, which only a full load notices, can shift
    # a turn number; never a token or a cent.
    assert read.report.totals == report.totals
    assert {m: t for m, (_, t) in read.report.by_model.items()} == {
        m: t for m, (_, t) in report.by_model.items()
    }


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
    assert tally(s.path).report == state.report()
    assert tally(s.path).warnings == []


@SETTINGS
@given(turns, st.data())
def test_any_prefix_loads_as_a_prefix(tmp_path: Path, plan: Any, data: st.DataObject) -> None:
    buffering = data.draw(st.integers(1, 600))
    s, state = write(folder(tmp_path), plan)
    whole = s.path.read_bytes()
    header_end = whole.index(b"\n") + 1
    cut = data.draw(st.integers(0, len(whole)))
    part = s.path.with_name("part.jsonl")
    part.write_bytes(whole[:cut])
    if cut < header_end:
        try:
            load(part)
        except SessionError:
            return
        raise AssertionError("a file without a complete header loaded")
    loaded = load(part)
    got = [kept(r) for r in loaded.state.records]
    assert got == [kept(r) for r in state.records][: len(got)]
    # Every complete line is read: the records are exactly those whose line is whole.
    complete = whole[:cut].split(b"\n")[:-1]
    assert len(got) == sum(line.startswith(b'{"type":"usage"') for line in complete)
    # The conversation is one some checkpoint had.
    assert loaded.state.messages == state.messages[: len(loaded.state.messages)]
    assert len([w for w in loaded.warnings if "incomplete" in w]) <= 1
    assert not [w for w in loaded.warnings if "damaged" in w]
    same_figures(part, loaded, buffering)


@SETTINGS
@given(
    turns,
    st.lists(st.tuples(st.integers(0, 10**9), st.integers(0, 255)), min_size=1, max_size=8),
    st.integers(1, 600),
)
def test_damage_gives_a_state_or_a_session_error(
    tmp_path: Path, plan: Any, flips: list[tuple[int, int]], buffering: int
) -> None:
    s, _ = write(folder(tmp_path), plan)
    data = bytearray(s.path.read_bytes())
    for at, value in flips:
        data[at % len(data)] = value
    s.path.write_bytes(bytes(data))
    try:
        loaded = load(s.path)
    except SessionError:
        with pytest.raises(SessionError):
            tally(s.path, buffering)
        return
    same_figures(s.path, loaded, buffering)
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
        loaded = load(path)
    except SessionError:
        with pytest.raises(SessionError):
            tally(path)
        return
    assert loaded.totals == loaded.state.totals()
    same_figures(path, loaded)


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
        loaded = load(path)
        assert loaded.totals == loaded.state.totals()
        assert tally(path).report == loaded.state.report()
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
    loaded = load(path)
    (record,) = loaded.state.records
    assert record.cost.usd is None or record.cost.usd >= 0
    assert "priced again" in loaded.warnings[-1]
    read = tally(path)
    assert read.report == loaded.state.report()
    assert "priced again" in read.warnings[-1]


odd = json_value | money.map(lambda d: None if d is None else str(d))
usage_lines = st.fixed_dictionaries(
    {"type": st.just("usage")},
    optional={
        "turn": st.integers(0, 9) | odd,
        "model": text | odd,
        "model_requested": text | odd,
        "usage": st.dictionaries(
            st.sampled_from(FIELDS), count | st.integers(-5, -1) | st.booleans() | odd, max_size=5
        )
        | odd,
        "cost": st.fixed_dictionaries(
            {},
            optional={
                "usd": money.map(lambda d: None if d is None else str(d)) | odd,
                "saved_usd": money.map(lambda d: None if d is None else str(d)) | odd,
                "unpriced": st.integers(0, 3) | odd,
                "partial": st.booleans() | odd,
                "prices_version": st.sampled_from(["", "0.0.40"]) | odd,
            },
        ),
    },
)


@settings(max_examples=300, deadline=None)
@given(st.lists(usage_lines, max_size=8))
def test_figures_sum_as_the_records_do(lines: list[dict[str, Any]]) -> None:
    # tally's column sums are Totals.of the records a full load builds, to the last field.
    from chit.checkpoint.codec import record_from
    from chit.checkpoint.figures import figures_totals, get_int, usage_row
    from chit.state import Totals

    records = [record_from(line, 1)[0] for line in lines]
    rows = [usage_row(line) for line in lines]
    assert figures_totals([figures for _, _, figures in rows]) == Totals.of(records)
    assert [model for _, model, _ in rows] == [r.response.model_name for r in records]
    assert [turn for turn, _, _ in rows] == [get_int(line, "turn") for line in lines]


count_kinds = [st.integers(0, 10**9), st.integers(-5, 10), st.booleans(), st.none(), odd]
# Usage objects whose every count column is of one kind: where a check may be made for the
# whole column at once.
uniform_usages = st.integers(1, 6).flatmap(
    lambda n: st.tuples(
        *(
            st.sampled_from(count_kinds).flatmap(lambda k: st.lists(k, min_size=n, max_size=n))
            for _ in FIELDS
        )
    ).map(
        lambda columns: [dict(zip(FIELDS, row, strict=True)) for row in zip(*columns, strict=True)]
    )
)


@settings(max_examples=200, deadline=None)
@given(uniform_usages)
def test_count_columns_sum_as_the_records_do(usages: list[dict[str, Any]]) -> None:
    from chit.checkpoint.codec import record_from
    from chit.checkpoint.figures import figures_totals, usage_row
    from chit.state import Totals

    lines = [{"type": "usage", "usage": u, "cost": {}} for u in usages]
    records = [record_from(line, 1)[0] for line in lines]
    assert figures_totals([usage_row(line)[2] for line in lines]) == Totals.of(records)
