"""The context window: project instructions in the system prompt, compaction (asked for,
automatic, and on a too-long refusal), ``/context``; real chit processes and the Python API
against the replay server, checked by what the provider received."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import wire
from helpers import CHIT, KEY, env_for, make_agent, raw_value, run_turn
from replay import ReplayServer, Reply
from terminal import Terminal

from chit.agent import Compacted, drain, instructions
from chit.agent.compact import PROMPT
from chit.checkpoint import Session, load
from chit.errors import BadInput
from chit.messages import SUMMARY_INTRO

#: Anthropic's answer to a conversation past the model's window, as the API sends it.
TOO_LONG = {
    "type": "error",
    "error": {
        "type": "invalid_request_error",
        "message": "prompt is too long: 208174 tokens > 200000 maximum",
    },
}
SUMMARY = "The user asked for the capital of France: Paris. Nothing is open."


def chit(
    replay: ReplayServer, home: Path, *args: str, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CHIT, "--provider", "anthropic", "--base-url", replay.url, *args],
        env=env_for(home, ANTHROPIC_API_KEY=KEY),
        cwd=cwd or home,
        capture_output=True,
        text=True,
        timeout=120,
    )


def usage_json(home: Path, *args: str) -> Any:
    r = subprocess.run(
        [*CHIT, "usage", *args, "--json"], env=env_for(home), capture_output=True, text=True
    )
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def texts(body: dict[str, Any]) -> list[list[str]]:
    """The text blocks of each message of an Anthropic request body."""
    return [[b["text"] for b in m["content"] if b.get("type") == "text"] for m in body["messages"]]


# --- project instructions -----------------------------------------------------------------


def test_instructions_from_the_repository_root_down_reach_the_system_prompt(
    replay: ReplayServer, tmp_path: Path
) -> None:
    repo, sub = tmp_path / "repo", tmp_path / "repo" / "pkg"
    sub.mkdir(parents=True)
    (repo / ".git").mkdir()
    (repo / "AGENTS.md").write_text("Indent with tabs.\n")
    (repo / "CLAUDE.md").write_text("CLAUDE.md beside AGENTS.md is not read.\n")
    (sub / "CLAUDE.md").write_text("In pkg, run make test.\n")
    (tmp_path / "AGENTS.md").write_text("Above the repository: not read.\n")
    replay.queue(Reply(body=wire.anthropic("one")), Reply(body=wire.anthropic("two")))
    home = tmp_path / "home"
    assert chit(replay, home, "-p", "one", cwd=sub).returncode == 0
    assert chit(replay, home, "-c", "-p", "two", cwd=sub).returncode == 0

    first, second = replay.received
    # Byte for byte the same system prompt in both requests: the prompt cache holds.
    assert raw_value(first.body, "system") == raw_value(second.body, "system")
    system = "".join(block["text"] for block in first.json["system"])
    assert system.startswith("You are chit")
    assert system.index("Indent with tabs.") < system.index("In pkg, run make test.")
    assert f"## {repo / 'AGENTS.md'}" in system
    assert "not read" not in system


def test_outside_a_repository_only_the_working_folder_counts(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (tmp_path / "AGENTS.md").write_text("parent\n")
    assert instructions.find(work) == instructions.Instructions()
    (work / "CLAUDE.md").write_text("here\n")
    found = instructions.find(work)
    assert found.files == (work / "CLAUDE.md",)
    assert found.system("base").startswith("base\n\n# Project instructions")
    assert found.text.endswith("here")


# --- /compact through the Python API ------------------------------------------------------


def test_compact_replaces_the_history_with_the_summary_and_counts_its_request(
    replay: ReplayServer, tmp_path: Path
) -> None:
    replay.queue(
        Reply(body=wire.anthropic("Paris.", input_tokens=1000, output_tokens=5)),
        Reply(body=wire.anthropic(SUMMARY, input_tokens=1100, output_tokens=20)),
        Reply(body=wire.anthropic("Berlin.", input_tokens=300, output_tokens=4)),
    )
    home = tmp_path / "home"
    session = Session.create(home, cwd=str(tmp_path), provider="anthropic", model="m")
    agent = make_agent(replay, tmp_path, journal=session)
    run_turn(agent, "The capital of France?")

    events: list[object] = []
    done = drain(agent.compact("the capitals"), events.append)
    compacted = [e for e in events if isinstance(e, Compacted)]
    assert len(compacted) == 1
    assert (compacted[0].reason, compacted[0].replaced) == ("asked", 2)
    assert compacted[0].summary == SUMMARY
    assert compacted[0].output_tokens == 20
    assert (done.turn, done.text, done.error) == (2, SUMMARY, None)
    assert done.totals.requests == 1
    # Asked of the model: the whole conversation, then what to keep, with the same system
    # prompt and tools (the cache that held for the conversation holds for this request).
    ask = replay.received[1].json
    assert texts(ask)[:2] == [["The capital of France?"], ["Paris."]]
    assert texts(ask)[2][-1] == PROMPT + "\n\nKeep in particular: the capitals"
    assert ask["system"] == replay.received[0].json["system"]
    assert ask["tools"] == replay.received[0].json["tools"]

    run_turn(agent, "And of Germany?")
    sent = replay.received[2].json
    # The summary instead of the history: one user message, the summary then the prompt.
    assert texts(sent) == [[SUMMARY_INTRO + SUMMARY, "And of Germany?"]]
    assert [m["role"] for m in sent["messages"]] == ["user"]  # no answer of before

    session.close()
    loaded = load(session.path)
    assert loaded.warnings == []
    assert loaded.state.messages == agent.state.messages
    assert [r.compaction for r in loaded.state.records] == [False, True, False]
    assert [m.text for m in loaded.conversation_at(1) or []] == ["The capital of France?", "Paris."]
    totals = usage_json(home, str(session.path))
    assert totals["requests"] == 3
    assert totals["usage"]["input_tokens"] == 2400
    rows = usage_json(home, str(session.path), "--requests")
    assert [row["compaction"] for row in rows] == [False, True, False]
    assert rows[1]["turn"] == 2


# --- a too-long refusal, in print mode ----------------------------------------------------


def test_a_too_long_refusal_is_compacted_and_sent_once_more(
    replay: ReplayServer, tmp_path: Path
) -> None:
    replay.queue(
        Reply(body=wire.anthropic("Paris.", input_tokens=150_000, output_tokens=5)),
        Reply.error(400, TOO_LONG),
        Reply(body=wire.anthropic(SUMMARY, input_tokens=150_000, output_tokens=20)),
        Reply(body=wire.anthropic("Berlin.", input_tokens=400, output_tokens=4)),
    )
    assert chit(replay, tmp_path, "-p", "The capital of France?").returncode == 0
    r = chit(replay, tmp_path, "-c", "-p", "And of Germany?")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "Berlin.\n"
    assert (
        "chit: the provider refused the conversation as too long: compacted 2 message(s) "
        "into a summary (20 tokens), sending it again" in r.stderr
    )
    refused, ask, again = (q.json for q in replay.received[1:])
    assert texts(refused) == [["The capital of France?"], ["Paris."], ["And of Germany?"]]
    assert texts(ask) == [["The capital of France?"], ["Paris."], [PROMPT]]
    assert texts(again) == [[SUMMARY_INTRO + SUMMARY, "And of Germany?"]]
    totals = usage_json(tmp_path)
    assert totals["requests"] == 4  # the refusal and the summary are requests too
    assert totals["usage"]["output_tokens"] == 5 + 20 + 4


def test_a_second_refusal_in_the_same_turn_is_not_compacted_again(
    replay: ReplayServer, tmp_path: Path
) -> None:
    replay.queue(
        Reply(body=wire.anthropic("Paris.")),
        Reply.error(400, TOO_LONG),
        Reply(body=wire.anthropic(SUMMARY)),
        Reply.error(400, TOO_LONG),
    )
    assert chit(replay, tmp_path, "-p", "The capital of France?").returncode == 0
    r = chit(replay, tmp_path, "-c", "-p", "And of Germany?")
    assert r.returncode == 1
    assert "too long for the model's context window (400)" in r.stderr
    assert len(replay.received) == 4
    assert usage_json(tmp_path)["requests"] == 4


def test_with_auto_compact_0_a_refusal_stays_a_refusal(
    replay: ReplayServer, tmp_path: Path
) -> None:
    replay.queue(Reply(body=wire.anthropic("Paris.")), Reply.error(400, TOO_LONG))
    assert chit(replay, tmp_path, "-p", "The capital of France?").returncode == 0
    r = chit(replay, tmp_path, "-c", "-p", "And of Germany?", "--auto-compact", "0")
    assert r.returncode == 1
    assert "compacted" not in r.stderr
    assert len(replay.received) == 2


# --- auto-compaction ----------------------------------------------------------------------


def test_a_nearly_full_window_is_compacted_before_the_next_turn(
    replay: ReplayServer, tmp_path: Path
) -> None:
    # 199,005 of claude-sonnet-4-5's 200,000 tokens: past 85 %, so the next turn compacts
    # first (unless --auto-compact is 0, or higher than what was used).
    full = {"input_tokens": 198_000, "output_tokens": 1_005}
    replay.queue(
        Reply(body=wire.anthropic("one", **full)),
        Reply(body=wire.anthropic("two", **full)),
        Reply(body=wire.anthropic("three", **full)),
        Reply(body=wire.anthropic(SUMMARY, input_tokens=199_100, output_tokens=30)),
        Reply(body=wire.anthropic("four", input_tokens=500)),
    )
    assert chit(replay, tmp_path, "-p", "1").returncode == 0
    r = chit(replay, tmp_path, "-c", "-p", "2", "--auto-compact", "0")
    assert (r.returncode, "compacted" in r.stderr) == (0, False)
    r = chit(replay, tmp_path, "-c", "-p", "3", "--auto-compact", "100")
    assert (r.returncode, "compacted" in r.stderr) == (0, False)
    assert len(replay.received) == 3
    r = chit(replay, tmp_path, "-c", "-p", "4")
    assert r.returncode == 0, r.stderr
    assert (
        "chit: the context window is nearly full: compacted 6 message(s) into a summary "
        "(30 tokens)" in r.stderr
    )
    assert texts(replay.received[3].json)[-1] == [PROMPT]
    assert texts(replay.received[4].json) == [[SUMMARY_INTRO + SUMMARY, "4"]]
    loaded = load(next((tmp_path / "sessions").glob("*.jsonl")))
    assert [r.compaction for r in loaded.state.records] == [False, False, False, True, False]
    assert [r.turn for r in loaded.state.records] == [1, 2, 3, 4, 4]  # part of the turn
    assert [m.text for m in loaded.state.messages] == [SUMMARY_INTRO + SUMMARY, "4", "four"]


# --- in the chat --------------------------------------------------------------------------


def test_context_and_compact_in_the_chat(replay: ReplayServer, tmp_path: Path) -> None:
    (tmp_path / "AGENTS.md").write_text("Answer in French.\n")
    (tmp_path / "notes.txt").write_text("x" * 4000)
    replay.queue(
        Reply(body=wire.anthropic("", [("tu_1", "read_file", {"path": "notes.txt"})])),
        Reply(body=wire.anthropic("Paris.", input_tokens=3000, cache_read=7000, output_tokens=8)),
        Reply(body=wire.anthropic(SUMMARY, input_tokens=9000, output_tokens=20)),
        Reply(body=wire.anthropic("Berlin.", input_tokens=1200, output_tokens=4)),
    )
    t = Terminal(replay, tmp_path)
    t.wait_for("/help for commands")
    t.type("/context\r")
    t.wait_for("no request measured it (nothing sent yet)")
    t.type("The capital of France?\r")
    t.wait_for("Paris.")
    t.wait_for("tokens")
    t.type("/context\r")
    screen = t.wait_for("the split is estimated")
    assert "context · claude-sonnet-4-5 · 10,008 of 200,000 tokens (5%)" in screen
    rows = {
        line.split()[0]: int(line.split()[-1].replace(",", ""))
        for line in screen.splitlines()
        if line.startswith("  ") and line.split()[-1].replace(",", "").isdigit()
    }
    # The 10,000 input tokens split by characters sent: the 4,000-character tool result
    # is the biggest part, then the system prompt and tools (the instructions among them).
    assert rows["system"] + rows["conversation"] + rows["tool"] == 10_000
    assert rows["tool"] > rows["system"] > rows["of"] > 0
    assert rows["output"] == 8
    assert f"project instructions: {tmp_path / 'AGENTS.md'}" in screen
    toolbar = t.settle().splitlines()[-1]
    assert "context 5% of 200k" in toolbar  # the toolbar: the same figure

    t.type("/compact the capitals\r")
    t.wait_for("compacted 4 message(s) into a summary (20 tokens)")
    t.type("/context\r")
    t.wait_for("no request measured it (the conversation was just compacted)")
    t.type("And of Germany?\r")
    t.wait_for("Berlin.")
    t.type("\x04")
    assert t.exit_status() == 0
    ask, again = replay.received[2].json, replay.received[3].json
    assert texts(ask)[-1][-1] == PROMPT + "\n\nKeep in particular: the capitals"
    assert texts(again) == [[SUMMARY_INTRO + SUMMARY, "And of Germany?"]]
    assert "Answer in French." in again["system"][0]["text"]
    totals = usage_json(tmp_path)
    assert totals["requests"] == 4


def test_compacting_nothing_is_refused_before_any_request(
    replay: ReplayServer, tmp_path: Path
) -> None:
    agent = make_agent(replay, tmp_path)
    with pytest.raises(BadInput, match="no conversation to compact"):
        next(agent.compact())
    assert replay.received == []
    assert agent.state.turns == 0
