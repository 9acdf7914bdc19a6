"""The conversation operations from Python (chit.agent.conversation) against the replay
server and real session files: what the REPL's /model, /rewind, /fork and /clear stand on."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
import wire
from helpers import make_agent, run_turn
from replay import ReplayServer, Reply

from chit.agent import Budget, conversation
from chit.checkpoint import Session, load
from chit.checkpoint.snapshots import changes_after
from chit.errors import BadInput
from chit.providers import Endpoint


def session_for(tmp_path: Path) -> Session:
    return Session.create(tmp_path / "home", cwd=str(tmp_path), provider="anthropic", model="m")


def test_rewind_gives_back_the_files_each_turn_changed(
    replay: ReplayServer, tmp_path: Path
) -> None:
    (tmp_path / "a.txt").write_text("one\n")
    replay.queue(
        Reply(body=wire.anthropic("", [("t1", "write_file", {"path": "a.txt", "content": "two"})])),
        Reply(body=wire.anthropic("", [("t2", "write_file", {"path": "a.txt", "content": "2b"})])),
        Reply(body=wire.anthropic("turn 1 done")),
        Reply(body=wire.anthropic("", [("t3", "write_file", {"path": "a.txt", "content": "3"})])),
        Reply(body=wire.anthropic("turn 2 done")),
    )
    session = session_for(tmp_path)
    agent = make_agent(replay, tmp_path, journal=session)
    agent.state.session_id = session.session_id
    conversation.track_files(agent, session)
    run_turn(agent, "first", answer="yes")
    run_turn(agent, "second", answer="yes")
    assert (tmp_path / "a.txt").read_text() == "3"
    kept = [e for e in load(session.path).events if e["type"] == "snapshot"]
    assert [e["turn"] for e in kept] == [1, 2]  # once per file and turn

    changes = conversation.rewind(agent, session, 1)
    assert [(c.path.name, c.turn) for c in changes] == [("a.txt", 2)]
    conversation.restore(session, changes)
    assert (tmp_path / "a.txt").read_text() == "2b"  # as turn 1 left it
    assert [t.number for t in conversation.turns(agent, session)] == [1]

    changes = conversation.rewind(agent, session, 0)
    conversation.restore(session, changes)
    assert (tmp_path / "a.txt").read_text() == "one\n"
    assert agent.state.messages == [] and agent.state.totals().requests == 5
    with pytest.raises(BadInput, match="no turn 9"):
        conversation.rewind(agent, session, 9)
    session.close()


def test_a_fork_keeps_what_its_parent_kept(replay: ReplayServer, tmp_path: Path) -> None:
    replay.queue(
        Reply(body=wire.anthropic("", [("t1", "write_file", {"path": "b.txt", "content": "new"})])),
        Reply(body=wire.anthropic("done")),
    )
    (tmp_path / "b.txt").write_text("old")
    session = session_for(tmp_path)
    agent = make_agent(replay, tmp_path, journal=session)
    conversation.track_files(agent, session)
    run_turn(agent, "write", answer="yes")
    parent = session.session_id
    forked = conversation.fork(agent, session)
    assert load(forked.path).header["forked_from"] == parent
    assert agent.state.session_id == forked.session_id and agent.journal is forked
    conversation.restore(forked, conversation.rewind(agent, forked, 0))
    assert (tmp_path / "b.txt").read_text() == "old"  # from the fork's own folder
    assert [e["type"] for e in load(session.path).events] == ["snapshot"]  # parent untouched
    forked.close()


def test_clear_goes_on_in_a_fresh_session_with_the_budget(
    replay: ReplayServer, tmp_path: Path
) -> None:
    replay.queue(Reply(body=wire.anthropic("one")), Reply(body=wire.anthropic("two")))
    session = session_for(tmp_path)
    agent = make_agent(replay, tmp_path, journal=session, budget=Budget(max_tokens=10_000))
    run_turn(agent, "first")
    fresh = conversation.clear(agent, session)
    run_turn(agent, "second")
    [sent] = replay.received[1].json["messages"]
    assert sent["content"][0]["text"] == "second"
    loaded = load(fresh.path)
    assert loaded.budget().max_tokens == 10_000
    assert loaded.state.turns == 1 and load(session.path).state.turns == 1
    fresh.close()


def test_endpoint_for_keeps_the_endpoint_unless_the_name_points_elsewhere() -> None:
    current = Endpoint("anthropic", "http://127.0.0.1:9", "k", "ANTHROPIC_API_KEY", max_retries=5)
    env = {"ANTHROPIC_API_KEY": "a", "OPENAI_API_KEY": "o"}
    same, model = conversation.endpoint_for(current, "claude-haiku-4-5", env)
    assert (same.provider, same.base_url, same.max_retries, model) == (
        "anthropic",
        "http://127.0.0.1:9",
        5,
        "claude-haiku-4-5",
    )
    served, _ = conversation.endpoint_for(current, "qwen3:8b", env)  # says nothing: same
    assert served.base_url == "http://127.0.0.1:9"
    other, _ = conversation.endpoint_for(current, "gpt-5-mini", env)
    assert (other.provider, other.base_url, other.max_retries) == ("openai", None, 5)


def test_switch_model_changes_nothing_when_refused(replay: ReplayServer, tmp_path: Path) -> None:
    session = session_for(tmp_path)
    agent = make_agent(replay, tmp_path, journal=session, budget=Budget(max_cost=Decimal(1)))
    before = agent.endpoint, agent.model, agent.provider
    with pytest.raises(BadInput, match="a cost budget cannot be kept for house-model"):
        conversation.switch_model(agent, session, "house-model", {"ANTHROPIC_API_KEY": "k"})
    assert (agent.endpoint, agent.model, agent.provider) == before
    conversation.switch_model(agent, session, "claude-haiku-4-5", {"ANTHROPIC_API_KEY": "k"})
    assert agent.model == "claude-haiku-4-5" and agent.provider is not before[2]
    session.flush()
    [event] = [e for e in load(session.path).events if e["type"] == "model"]
    assert (event["provider"], event["model"]) == ("anthropic", "claude-haiku-4-5")
    session.close()


def test_a_snapshot_naming_no_hash_of_ours_is_not_restored() -> None:
    events = [
        {"type": "snapshot", "path": "/x/a", "turn": 2, "sha256": "../../etc/passwd"},
        {"type": "snapshot", "path": "/x/b", "turn": 1, "sha256": None},
        {"type": "snapshot", "path": "/x/c", "turn": 3, "sha256": None},
        {"type": "snapshot", "path": "/x/c", "turn": 4, "sha256": "ab" * 32},
    ]
    changes = changes_after(json.loads(json.dumps(events)), 1)
    assert [(str(c.path), c.turn, c.sha256) for c in changes] == [("/x/c", 3, None)]
