"""The frozen corpus: session files written by schema version 1, and the same file with each
optional field removed (and with all of them removed). Each loads with the figures it holds.

The files under tests/corpus/ are never regenerated: they stand for files users already have.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path

import orjson
import pytest
from sessionfiles import read_alike

from chit.checkpoint import SCHEMA_VERSION, load
from chit.messages import SUMMARY_INTRO, Ended
from chit.state import Totals

CORPUS = Path(__file__).parent / "corpus" / "v1"
BASE = CORPUS / "session.jsonl"
VARIANTS = sorted((CORPUS / "without").glob("*.jsonl"))
MODELS = ["claude-sonnet-4-5-20250929", "gpt-4o-mini", "o4-mini-2025-04-16", "llama3.2"]


@dataclass(frozen=True)
class Figures:
    turns: int = 5
    requests: int = 6
    usage: tuple[int | None, ...] = (6352, 3458, 1217, 273, 64)
    unknown: tuple[int, int] = (1, 2)
    cost_usd: Decimal | None = Decimal("0.00912115")
    unpriced: int = 1
    messages: int = 8
    models: list[str] = field(default_factory=lambda: MODELS)
    warnings: tuple[str, ...] = ()
    """Words each warning must contain, in order; no other warnings."""


FULL = Figures()
NONE5 = (None, None, None, None, None)
DISAGREE = ("snapshot disagrees",)

#: What each variant holds where it differs from the full file (worked out from its lines).
EXPECTED = {
    "everything": Figures(
        usage=NONE5,
        unknown=(6, 6),
        cost_usd=None,
        unpriced=6,
        messages=12,  # the rewind lost its target: every message stays
        models=[""],
        warnings=("rewind", "priced again"),
    ),
    "rewind.to_turn": replace(FULL, messages=12, warnings=("rewind", *DISAGREE)),
    "usage.cost": replace(FULL, warnings=("6 request(s) had no recorded cost",)),
    "usage.model": replace(
        FULL, models=["claude-sonnet-4-5", "gpt-4o-mini", "o4-mini", "llama3.2"]
    ),
    "usage.model_requested": replace(
        FULL, models=["claude-sonnet-4-5-20250929", "", "o4-mini-2025-04-16", "llama3.2"]
    ),
    "usage.usage": replace(FULL, usage=NONE5, unknown=(6, 6), warnings=DISAGREE),
    "usage.usage.input_tokens": replace(
        FULL, usage=(None, 3458, 1217, 273, 64), unknown=(6, 2), warnings=DISAGREE
    ),
    "usage.usage.cache_read_tokens": replace(
        FULL, usage=(6352, None, 1217, 273, 64), warnings=DISAGREE
    ),
    "usage.usage.cache_write_tokens": replace(
        FULL, usage=(6352, 3458, None, 273, 64), warnings=DISAGREE
    ),
    "usage.usage.output_tokens": replace(
        FULL, usage=(6352, 3458, 1217, None, 64), unknown=(1, 6), warnings=DISAGREE
    ),
    "usage.usage.reasoning_tokens": replace(
        FULL, usage=(6352, 3458, 1217, 273, None), warnings=DISAGREE
    ),
}


def check(path: Path, want: Figures) -> None:
    loaded = read_alike(path)
    totals = loaded.totals
    assert loaded.state.turns == want.turns
    assert totals.requests == want.requests
    assert tuple(totals.usage.counts().values()) == want.usage
    assert (totals.usage.input_unknown, totals.usage.output_unknown) == want.unknown
    assert totals.cost.usd == want.cost_usd
    assert totals.cost.unpriced == want.unpriced
    assert len(loaded.state.messages) == want.messages
    assert loaded.models == want.models
    assert len(loaded.warnings) == len(want.warnings), loaded.warnings
    for warning, words in zip(loaded.warnings, want.warnings, strict=True):
        assert words in warning
    # The derived totals are the state's own: one source of truth.
    assert loaded.state.totals() == totals


def test_the_corpus_is_complete() -> None:
    assert BASE.is_file()
    assert len(VARIANTS) == 51
    assert set(EXPECTED) <= {p.stem for p in VARIANTS}


def test_the_full_file_loads_with_its_figures() -> None:
    check(BASE, FULL)
    loaded = load(BASE)
    assert loaded.schema_version == 1  # read by a chit of a later version too
    assert loaded.state.session_id == "5d127522-1a98-4710-b75f-b01aca4dada4"
    assert loaded.header["cwd"] == "/home/user/project"
    assert loaded.totals.cost.saved_usd == Decimal("0.00650385")
    assert loaded.totals.cost.partial
    records = loaded.state.records
    assert [r.turn for r in records] == [1, 1, 2, 3, 4, 5]
    assert [r.response.ended for r in records] == [
        Ended.COMPLETE,
        Ended.COMPLETE,
        Ended.INTERRUPTED,
        Ended.ERROR,
        Ended.COMPLETE,
        Ended.COMPLETE,
    ]
    assert records[0].cost.usd == Decimal("0.00535275")
    assert records[0].response.extras["cache_write_5m"] == 1217
    assert records[0].response.extras["raw_usage"][0]["cache_creation_input_tokens"] == 1217
    assert records[2].response.usage.output_tokens is None
    assert records[3].response.error is not None
    assert records[3].response.error.status == 500
    assert records[5].cost.usd is None
    assert records[5].response.extras["durations_ns"]["eval"] == 700000000
    # The rewind to turn 2 dropped turns 3 and 4 from the conversation, not from the totals.
    roles = [m.role for m in loaded.state.messages]
    assert roles == [
        "user",
        "assistant",
        "tool",
        "assistant",
        "user",
        "assistant",
        "user",
        "assistant",
    ]
    assert loaded.state.messages[1].tool_calls[0].arguments == '{"path": "README.md"}'
    assert loaded.state.messages[2].tool_results[0].content.startswith("# chit")
    assert loaded.state.messages[5].interrupted
    assert loaded.state.messages[-1].text == "Hi!"
    assert sorted(loaded.checkpoints) == [1, 2, 3, 4, 5]
    at_four = loaded.conversation_at(4)
    assert at_four is not None
    assert len(at_four) == 10
    assert at_four[-1].text == "chit keeps an exact tab of every token."
    assert [e["type"] for e in loaded.events] == ["model", "model", "budget", "model"]
    assert loaded.events[2]["max_cost"] == "0.50"


def test_figures_by_model() -> None:
    report = read_alike(BASE).report()
    assert report.turns == 5
    assert report.last_turn is not None
    assert report.last_turn[0] == 5
    assert report.last_turn[1].requests == 1
    by_model = {m: totals for m, (_, totals) in report.by_model.items()}
    assert [turns for turns, _ in report.by_model.values()] == [2, 1, 1, 1]  # 1, 1, 2 | 3 | 4 | 5
    assert list(by_model) == MODELS
    claude = by_model["claude-sonnet-4-5-20250929"]
    assert claude.to_json() == {
        "requests": 3,
        "usage": {
            "input_tokens": 3840,
            "cache_read_tokens": 2434,
            "cache_write_tokens": 1217,
            "output_tokens": 83,
            "reasoning_tokens": 0,
        },
        "unknown": {"input_tokens": 0, "output_tokens": 1},
        "cost_usd": "0.007106",
        "cache_hit_rate": round(2434 / 3840, 4),
        # 2,434 reads save $2.70/M, 1,217 writes cost $0.75/M more.
        "cache_saved_usd": "0.005659",
    }
    assert claude.cost.usd == Decimal("0.00710595")
    failed = by_model["gpt-4o-mini"]
    assert failed.usage.counts() == dict.fromkeys(failed.usage.counts())  # all unknown
    assert (failed.usage.input_unknown, failed.usage.output_unknown) == (1, 1)
    assert by_model["o4-mini-2025-04-16"].usage.reasoning_tokens == 64
    assert by_model["llama3.2"].cost.usd is None
    assert by_model["llama3.2"].cost.unpriced == 1


@pytest.mark.parametrize("path", VARIANTS, ids=[p.stem for p in VARIANTS])
def test_each_variant_loads_with_the_figures_it_holds(path: Path) -> None:
    check(path, EXPECTED.get(path.stem, FULL))


def variant(name: str) -> Path:
    return CORPUS / "without" / f"{name}.jsonl"


def test_missing_message_fields_take_their_defaults() -> None:
    assert {m.role for m in load(variant("message.role")).state.messages} == {"user"}
    assert {m.text for m in load(variant("message.text")).state.messages} == {""}
    assert not any(m.tool_calls for m in load(variant("message.tool_calls")).state.messages)
    assert not any(m.tool_results for m in load(variant("message.tool_results")).state.messages)
    assert not any(m.interrupted for m in load(variant("message.interrupted")).state.messages)


def test_missing_usage_fields_take_their_defaults() -> None:
    # Without its turn, a request belongs to the turn in progress: the same numbers.
    assert [r.turn for r in load(variant("usage.turn")).state.records] == [1, 1, 2, 3, 4, 5]
    assert {r.response.ended for r in load(variant("usage.ended")).state.records} == {
        Ended.COMPLETE
    }
    assert all(r.response.error is None for r in load(variant("usage.error")).state.records)
    assert all(r.response.extras == {} for r in load(variant("usage.extras")).state.records)
    assert all(
        r.response.stop_reason is None for r in load(variant("usage.stop_reason")).state.records
    )
    # A cost priced again equals the one written (same prices), request by request.
    again = [r.cost.usd for r in load(variant("usage.cost")).state.records]
    assert again == [r.cost.usd for r in load(BASE).state.records]


def test_missing_header_and_checkpoint_fields_take_their_defaults() -> None:
    assert load(variant("session.session_id")).state.session_id == "session.session_id"
    assert load(variant("session.schema_version")).schema_version == 1
    assert sorted(load(variant("checkpoint.turn")).checkpoints) == [1, 2, 3, 4, 5]
    everything = load(variant("everything"))
    assert sorted(everything.checkpoints) == [1, 2, 3, 4, 5]
    assert [r.turn for r in everything.state.records] == [1, 1, 2, 3, 4, 5]
    assert [e["type"] for e in everything.events] == ["model", "model", "budget", "model"]


def test_a_torn_last_line_is_ignored(tmp_path: Path) -> None:
    data = BASE.read_bytes()
    cut = tmp_path / "torn.jsonl"
    cut.write_bytes(data[:-40])  # the last checkpoint, cut short
    loaded = load(cut)
    assert loaded.totals.requests == 6  # the request was recorded before the crash
    assert sorted(loaded.checkpoints) == [1, 2, 3, 4]
    assert len(loaded.state.messages) == 6  # the unfinished turn is left out
    assert loaded.state.turns == 5  # ... but its number is not used again
    assert "line 29 is incomplete" in loaded.warnings[0]
    assert "did not finish" in loaded.warnings[1]


def test_a_damaged_line_in_the_middle_is_skipped_and_named(tmp_path: Path) -> None:
    lines = BASE.read_bytes().split(b"\n")
    lines[9] = lines[9][:50] + b"\x00garbage"  # line 10: the interrupted request of turn 2
    damaged = tmp_path / "damaged.jsonl"
    damaged.write_bytes(b"\n".join(lines))
    loaded = read_alike(damaged)
    assert loaded.totals.requests == 5
    assert loaded.totals.usage.input_tokens == 6352 - 1330
    assert loaded.warnings[0] == "skipped 1 damaged line(s): 10"
    assert "snapshot disagrees" in loaded.warnings[1]
    assert loaded.totals == Totals.of(loaded.state.records)


@pytest.mark.parametrize("kind", ["message", "checkpoint", "usage"])
def test_damage_in_any_line_is_named_by_every_reader(tmp_path: Path, kind: str) -> None:
    # Past the line's first bytes, its closing "}" kept: each line is decoded whole.
    lines = BASE.read_bytes().split(b"\n")
    at = next(i for i, b in enumerate(lines) if orjson.loads(b)["type"] == kind)
    lines[at] = lines[at][:30] + b"\x00" + lines[at][31:]
    damaged = tmp_path / "damaged.jsonl"
    damaged.write_bytes(b"\n".join(lines))
    loaded = read_alike(damaged)  # reports and listings name it too
    assert loaded.warnings[0] == f"skipped 1 damaged line(s): {at + 1}"


def test_lines_are_read_whatever_the_order_of_their_keys(tmp_path: Path) -> None:
    lines = [orjson.loads(b) for b in BASE.read_bytes().splitlines()]
    reordered = tmp_path / "reordered.jsonl"
    reordered.write_bytes(
        b"".join(orjson.dumps(dict(reversed(line.items()))) + b"\n" for line in lines)
    )
    check(reordered, FULL)


@pytest.mark.parametrize(
    ("value", "warned"), [(b"273.0", False), (b"true", False), (b'"273"', False), (b"274", True)]
)
def test_a_snapshot_figure_is_compared_only_when_it_is_a_count(
    tmp_path: Path, value: bytes, warned: bool
) -> None:
    # 273 output tokens in the last snapshot; a figure in no form a count takes is "not
    # recorded", alike for both readers, whether or not the rest of the snapshot agrees.
    data = BASE.read_bytes()
    last = data.rstrip(b"\n").rsplit(b"\n", 1)[1]
    assert b'"output_tokens":273' in last
    changed = tmp_path / "s.jsonl"
    changed.write_bytes(
        data.replace(last, last.replace(b'"output_tokens":273', b'"output_tokens":' + value))
    )
    loaded = read_alike(changed)
    assert any("snapshot disagrees" in w for w in loaded.warnings) == warned


# --- schema version 2: the compact line -----------------------------------------------------

V2 = Path(__file__).parent / "corpus" / "v2"
#: The summaries of v2/session.jsonl: /compact (turn 2), then a too-long refusal (turn 4).
SUMMARIES = (
    "The user asked what README.md holds: it describes chit. No file changed; nothing open.",
    "README.md describes chit, which keeps an exact tab of every token. Open: nothing.",
)


def test_a_version_2_file_loads_with_its_compactions() -> None:
    loaded = read_alike(V2 / "session.jsonl")
    assert loaded.schema_version == SCHEMA_VERSION == 2
    assert loaded.warnings == []
    assert loaded.state.turns == 4
    records = loaded.state.records
    assert [r.turn for r in records] == [1, 1, 2, 3, 4, 4, 4]
    assert [r.compaction for r in records] == [False, False, True, False, False, True, False]
    # A summary request is counted like any other.
    assert loaded.totals.requests == 7
    assert loaded.totals.usage.input_tokens == 7030
    assert loaded.totals.cost.usd == Decimal("0.015531")
    # The conversation: the last summary, then what followed it.
    texts = [m.text for m in loaded.state.messages]
    assert texts == [SUMMARY_INTRO + SUMMARIES[1], "Is that all?", "Yes."]
    # Each checkpoint keeps the conversation it closed: before the first compaction ...
    first = loaded.conversation_at(1)
    assert first is not None
    assert [m.role for m in first] == ["user", "assistant", "tool", "assistant"]
    # ... and after it.
    assert [m.text for m in loaded.conversation_at(3) or []] == [
        SUMMARY_INTRO + SUMMARIES[0],
        "What does it keep?",
        "An exact tab of every token.",
    ]


def test_version_2_without_its_optional_fields() -> None:
    without = V2 / "without"
    # No summary: the conversation still starts again at the compaction, from an empty one.
    no_summary = load(without / "compact.summary.jsonl")
    assert no_summary.state.messages[0].text == SUMMARY_INTRO
    assert len(no_summary.state.messages) == 3
    # No mark on the usage lines: the same figures, no request marked.
    unmarked = load(without / "usage.compaction.jsonl")
    assert not any(r.compaction for r in unmarked.state.records)
    assert unmarked.totals == load(V2 / "session.jsonl").totals
    for name in ("compact.replaced", "compact.focus"):
        assert load(without / f"{name}.jsonl").state.messages == unmarked.state.messages
