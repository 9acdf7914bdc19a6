"""The agent loop over the real providers and the replay server."""

from __future__ import annotations

import signal
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import wire
from helpers import ctrl_c_raises, make_agent, run_turn
from replay import ReplayServer, Reply

from chit.agent import (
    AgentEvent,
    Budget,
    BudgetWarning,
    PermissionRequest,
    Tool,
    ToolContext,
    ToolDone,
    UsageRecorded,
    default_tools,
    drain,
)
from chit.checkpoint import Session
from chit.errors import BadInput, BudgetSpent
from chit.messages import Ended, TextDelta


def test_a_three_request_tool_loop_records_and_sums_each_request(
    replay: ReplayServer, tmp_path: Path
) -> None:
    (tmp_path / "notes.txt").write_text("alpha\nbeta\n")
    replay.queue(
        Reply(
            body=wire.anthropic(
                "Looking.",
                [("tu_1", "read_file", {"path": "notes.txt"})],
                input_tokens=100,
                cache_write=900,
                output_tokens=20,
            )
        ),
        Reply(
            body=wire.anthropic(
                "",
                [("tu_2", "search", {"pattern": "beta"})],
                input_tokens=40,
                cache_read=900,
                cache_write=60,
                output_tokens=15,
            )
        ),
        Reply(
            body=wire.anthropic(
                "Found beta on line 2.",
                input_tokens=30,
                cache_read=960,
                cache_write=25,
                output_tokens=9,
            )
        ),
    )
    session = Session.create(
        tmp_path / "home", cwd=str(tmp_path), provider="anthropic", model="claude-sonnet-4-5"
    )
    agent = make_agent(replay, tmp_path, journal=session)
    done, events = run_turn(agent, "find beta")

    assert done.ended is Ended.COMPLETE
    assert done.text == "Found beta on line 2."
    records = [e.record for e in events if isinstance(e, UsageRecorded)]
    assert len(records) == 3
    # Anthropic's exclusive input converted to inclusive, per request, then summed.
    assert [r.response.usage.input_tokens for r in records] == [1000, 1000, 1015]
    assert done.totals.requests == 3
    assert done.totals.usage.input_tokens == 3015
    assert done.totals.usage.cache_read_tokens == 1860
    assert done.totals.usage.cache_write_tokens == 985
    assert done.totals.usage.output_tokens == 44
    assert done.totals.cost.usd is not None and done.totals.cost.usd > 0

    tools_run = [e.result for e in events if isinstance(e, ToolDone)]
    assert tools_run[0].content.startswith("alpha")
    assert "notes.txt:2: beta" in tools_run[1].content

    # Every request carried the cache markers, and system + tools stayed byte-identical.
    bodies = [r.json for r in replay.received]
    for body in bodies:
        assert body["system"][-1]["cache_control"]["type"] == "ephemeral"
        assert body["tools"][-1]["cache_control"]["type"] == "ephemeral"
        last_block = body["messages"][-1]["content"][-1]
        assert last_block["cache_control"]["type"] == "ephemeral"
    assert bodies[0]["system"] == bodies[2]["system"]
    assert bodies[0]["tools"] == bodies[2]["tools"]

    _, loaded = Session.open(session.path, tmp_path / "home")
    assert len(loaded.state.records) == 3
    assert loaded.state.totals().usage == done.totals.usage
    assert loaded.state.turns == 1


def test_openai_tool_loop_sends_the_prompt_cache_key_shape(
    replay: ReplayServer, tmp_path: Path
) -> None:
    replay.queue(
        Reply(
            body=wire.openai_chat(
                "", [("call_1", "list_files", {"pattern": "*.md"})], prompt_tokens=1200, cached=1024
            )
        ),
        Reply(body=wire.openai_chat("None.", prompt_tokens=1250, cached=1152)),
    )
    (tmp_path / "a.md").write_text("x")
    agent = make_agent(replay, tmp_path, api="openai_chat")
    done, _ = run_turn(agent)
    assert done.totals.usage.cache_read_tokens == 2176
    second = replay.received[1].json
    tool_msgs = [m for m in second["messages"] if m["role"] == "tool"]
    assert tool_msgs[0]["tool_call_id"] == "call_1"
    assert "a.md" in tool_msgs[0]["content"]
    assert replay.received[0].json["tools"] == second["tools"]


def test_a_denied_permission_does_not_run_the_tool(replay: ReplayServer, tmp_path: Path) -> None:
    replay.queue(
        Reply(
            body=wire.anthropic("", [("tu_1", "write_file", {"path": "x.txt", "content": "hi"})])
        ),
        Reply(body=wire.anthropic("OK, I won't.")),
    )
    agent = make_agent(replay, tmp_path)
    done, events = run_turn(agent, answer="no")
    assert done.ended is Ended.COMPLETE
    assert not (tmp_path / "x.txt").exists()
    asked = [e for e in events if isinstance(e, PermissionRequest)]
    assert [a.call.name for a in asked] == ["write_file"]
    result = next(e.result for e in events if isinstance(e, ToolDone))
    assert result.is_error and "refused" in result.content
    sent = replay.received[1].json["messages"][-1]["content"][0]
    assert sent["type"] == "tool_result" and sent["is_error"] is True


def test_always_allows_the_tool_for_the_session(replay: ReplayServer, tmp_path: Path) -> None:
    call = ("tu_{}", "write_file", {"path": "x.txt", "content": "hi"})
    replay.queue(
        Reply(body=wire.anthropic("", [("tu_1", call[1], call[2])])),
        Reply(body=wire.anthropic("", [("tu_2", call[1], {"path": "y.txt", "content": "yo"})])),
        Reply(body=wire.anthropic("done")),
    )
    agent = make_agent(replay, tmp_path)
    done, events = run_turn(agent, answer="always")
    assert done.ended is Ended.COMPLETE
    assert (tmp_path / "x.txt").read_text() == "hi"
    assert (tmp_path / "y.txt").read_text() == "yo"
    assert len([e for e in events if isinstance(e, PermissionRequest)]) == 1


def test_a_tool_that_raises_returns_an_error_result(replay: ReplayServer, tmp_path: Path) -> None:
    def boom(args: dict[str, Any], ctx: ToolContext) -> str:
        raise RuntimeError("disk on fire")

    tools = default_tools()
    tools.register(Tool("boom", "Fails.", {"type": "object", "properties": {}}, boom))
    replay.queue(
        Reply(body=wire.anthropic("", [("tu_1", "boom", {})])),
        Reply(body=wire.anthropic("It failed.")),
    )
    done, events = run_turn(make_agent(replay, tmp_path, tools=tools))
    assert done.ended is Ended.COMPLETE
    result = next(e.result for e in events if isinstance(e, ToolDone))
    assert result.is_error and "disk on fire" in result.content


def test_an_unknown_tool_name_is_answered_not_crashed(replay: ReplayServer, tmp_path: Path) -> None:
    replay.queue(
        Reply(body=wire.anthropic("", [("tu_1", "teleport", {"to": "mars"})])),
        Reply(body=wire.anthropic("Sorry.")),
    )
    done, events = run_turn(make_agent(replay, tmp_path))
    result = next(e.result for e in events if isinstance(e, ToolDone))
    assert result.is_error and "no tool named 'teleport'" in result.content
    assert done.text == "Sorry."


def test_the_request_limit_ends_the_turn(replay: ReplayServer, tmp_path: Path) -> None:
    replay.queue(
        *(Reply(body=wire.anthropic("", [(f"tu_{i}", "list_files", {})])) for i in range(3))
    )
    done, _ = run_turn(make_agent(replay, tmp_path, max_requests=2))
    assert done.ended is Ended.ERROR
    assert done.error is not None and done.error.type == "request_limit"
    assert len(replay.received) == 2
    assert done.totals.requests == 2


def test_no_tools_records_the_call_and_ends_the_turn(replay: ReplayServer, tmp_path: Path) -> None:
    replay.queue(
        Reply(
            body=wire.anthropic(
                "Let me look.", [("tu_1", "write_file", {"path": "x", "content": "y"})]
            )
        )
    )
    agent = make_agent(replay, tmp_path, tools=None)
    done, events = run_turn(agent)
    assert done.ended is Ended.COMPLETE
    assert "tools" not in replay.received[0].json
    assert not (tmp_path / "x").exists()
    assert not [e for e in events if isinstance(e, ToolDone)]
    assert agent.state.messages[-1].tool_results[0].is_error


def test_budget_warns_then_stops_new_requests(replay: ReplayServer, tmp_path: Path) -> None:
    # 100 tokens: the first request spends 60 (warnings at 50 %), the second 40 more.
    replay.queue(
        Reply(
            body=wire.anthropic("", [("tu_1", "list_files", {})], input_tokens=50, output_tokens=10)
        ),
        Reply(
            body=wire.anthropic("", [("tu_2", "list_files", {})], input_tokens=30, output_tokens=10)
        ),
        Reply(body=wire.anthropic("never sent")),
    )
    agent = make_agent(replay, tmp_path, budget=Budget(max_tokens=100))
    done, events = run_turn(agent)
    warnings = [e for e in events if isinstance(e, BudgetWarning)]
    # The second request took it from 60 % to 100 %: one warning, that it is spent.
    assert [w.fraction for w in warnings] == [Decimal("0.5"), Decimal(1)]
    assert [w.used for w in warnings] == [Decimal("0.6"), Decimal(1)]
    assert warnings[-1].describe() == (
        "100% of the budget (100 tokens) is spent: no new request will be sent"
    )
    assert done.error is not None and done.error.type == "budget"
    assert len(replay.received) == 2
    # Each request asked for no more output than the budget had left.
    assert [r.json["max_tokens"] for r in replay.received] == [100, 40]
    with pytest.raises(BudgetSpent):
        run_turn(agent)
    assert len(replay.received) == 2


def test_a_warning_says_how_much_is_really_spent(replay: ReplayServer, tmp_path: Path) -> None:
    replay.queue(Reply(body=wire.anthropic("big", input_tokens=900, output_tokens=120)))
    agent = make_agent(replay, tmp_path, budget=Budget(max_tokens=1000), max_output_tokens=500)
    _, events = run_turn(agent)
    [warning] = [e for e in events if isinstance(e, BudgetWarning)]
    assert warning.used == Decimal("1.02")
    assert warning.describe().startswith("102% of the budget (1,000 tokens) is spent")
    assert replay.received[0].json["max_tokens"] == 500


def test_ctrl_c_mid_stream_records_the_interrupted_request(
    replay: ReplayServer, tmp_path: Path
) -> None:
    body = wire.anthropic(
        "A long answer that streams slowly " * 5, input_tokens=70, cache_read=500, output_tokens=40
    )
    replay.queue(
        Reply(body=body, chunk_size=64, delay=0.01), Reply(body=wire.anthropic("Hi again."))
    )
    session = Session.create(
        tmp_path / "home", cwd=str(tmp_path), provider="anthropic", model="claude-sonnet-4-5"
    )
    agent = make_agent(replay, tmp_path, journal=session)
    seen: list[AgentEvent] = []

    def handle(e: AgentEvent) -> None:
        seen.append(e)
        if isinstance(e, TextDelta):
            raise KeyboardInterrupt

    done = drain(agent.run("talk"), handle)
    assert done.ended is Ended.INTERRUPTED
    record = agent.state.records[-1]
    assert record.response.ended is Ended.INTERRUPTED
    assert record.response.usage.input_tokens == 570  # exact from message_start
    assert record.response.usage.cache_read_tokens == 500
    assert record.response.usage.output_tokens is None  # never measured
    assert agent.state.messages[-1].interrupted

    # The session is consistent: the next turn runs and sends a valid conversation.
    done2, _ = run_turn(agent, "again")
    assert done2.ended is Ended.COMPLETE
    roles = [m["role"] for m in replay.received[-1].json["messages"]]
    assert roles == ["user", "assistant", "user"]
    _, loaded = Session.open(session.path, tmp_path / "home")
    assert [r.response.ended for r in loaded.state.records] == [Ended.INTERRUPTED, Ended.COMPLETE]


def test_ctrl_c_during_a_tool_stops_it(replay: ReplayServer, tmp_path: Path) -> None:
    replay.queue(
        Reply(
            body=wire.anthropic(
                "", [("tu_1", "run_command", {"command": "sleep 30"}), ("tu_2", "list_files", {})]
            )
        )
    )
    agent = make_agent(replay, tmp_path)

    def handle(e: AgentEvent) -> None:
        if isinstance(e, PermissionRequest):
            e.answer("yes")
            # A real SIGINT to the main thread while the command runs, as Ctrl-C would send.
            main = threading.main_thread().ident
            assert main is not None
            threading.Timer(0.3, signal.pthread_kill, (main, signal.SIGINT)).start()

    start = time.monotonic()
    with ctrl_c_raises():
        done = drain(agent.run("run it"), handle)
    assert time.monotonic() - start < 10
    assert done.ended is Ended.INTERRUPTED
    results = agent.state.messages[-1].tool_results
    assert [r.content for r in results] == ["interrupted by the user", "not run: interrupted"]
    assert len(replay.received) == 1


def test_a_cost_budget_for_a_model_without_a_price_is_refused(
    replay: ReplayServer, tmp_path: Path
) -> None:
    replay.queue(Reply(body=wire.anthropic("never sent")))
    agent = make_agent(replay, tmp_path, budget=Budget(max_cost=Decimal("1")))
    agent.model = "my-local-finetune"
    with pytest.raises(BadInput, match=r"my-local-finetune.*--max-tokens"):
        run_turn(agent)
    assert replay.received == []
    # A token budget works for any model.
    agent.budget = Budget(max_tokens=1000)
    done, _ = run_turn(agent)
    assert done.ended is Ended.COMPLETE
