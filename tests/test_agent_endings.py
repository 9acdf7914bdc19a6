"""The agent loop keeps every request's record however the turn ends: a journal that fails
mid-turn (disk full), and a signal that lands while a record is being written."""

from __future__ import annotations

import errno
import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
import wire
from helpers import MADE, endpoint_for
from replay import ReplayServer, Reply

from chit import signals
from chit.agent import Agent, AgentEvent, ToolContext, default_tools, drain
from chit.checkpoint import FileOps, Session
from chit.messages import Ended, TextDelta
from chit.providers import connect


class DiskFull(FileOps):
    """Real OS calls, but writes fail with ENOSPC once ``armed`` (after ``after`` more)."""

    def __init__(self) -> None:
        self.armed = False
        self.after = 0

    def write(self, fd: int, data: bytes) -> int:
        if self.armed:
            if self.after <= 0:
                raise OSError(errno.ENOSPC, "No space left on device")
            self.after -= 1
        return super().write(fd, data)


def agent_with(replay: ReplayServer, tmp_path: Path, ops: FileOps) -> tuple[Agent, Session]:
    endpoint = endpoint_for("anthropic_messages", replay)
    session = Session.create(
        tmp_path / "home", cwd=str(tmp_path), provider="anthropic", model="m", ops=ops
    )
    agent = Agent(
        connect(endpoint),
        endpoint,
        "claude-sonnet-4-5",
        journal=session,
        tools=default_tools(),
        tool_context=ToolContext(root=tmp_path),
    )
    agent.state.session_id = session.session_id
    MADE.append(agent)
    return agent, session


def usage_lines(path: Path) -> list[dict[str, object]]:
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    return [x for x in lines if x["type"] == "usage"]


def test_a_full_disk_mid_turn_keeps_the_request_in_the_output(
    replay: ReplayServer, tmp_path: Path
) -> None:
    # The model asks for a tool: the loop would send a second request, but not once the
    # first one's record could not be written.
    replay.queue(
        Reply(body=wire.anthropic("", [("t1", "list_files", {})], input_tokens=321)),
        Reply(body=wire.anthropic("never sent")),
    )
    ops = DiskFull()
    agent, session = agent_with(replay, tmp_path, ops)
    ops.armed, ops.after = True, 1  # the user message is written, the usage line is not
    done = drain(agent.run("go"), lambda e: None)
    assert done.unsaved == 1
    assert done.error is not None and done.error.type == "journal"
    assert "missing from the session file" in done.error.message
    assert "No space left" in done.error.message
    assert done.totals.requests == 1
    assert done.totals.usage.input_tokens == 321
    assert agent.state.totals().requests == 1
    assert len(replay.received) == 1
    assert usage_lines(session.path) == []


def test_a_journal_that_cannot_take_the_prompt_sends_nothing(
    replay: ReplayServer, tmp_path: Path
) -> None:
    replay.queue(Reply(body=wire.anthropic("hello")))
    ops = DiskFull()
    agent, _ = agent_with(replay, tmp_path, ops)
    ops.armed = True
    done = drain(agent.run("go"), lambda e: None)
    assert done.error is not None and done.error.type == "journal"
    assert "no request was sent" in done.error.message
    assert replay.received == []
    assert done.totals.requests == 0


def test_the_journal_recovers_for_the_next_turn(replay: ReplayServer, tmp_path: Path) -> None:
    replay.queue(Reply(body=wire.anthropic("one")), Reply(body=wire.anthropic("two")))
    ops = DiskFull()
    agent, session = agent_with(replay, tmp_path, ops)
    ops.armed, ops.after = True, 1
    first = drain(agent.run("go"), lambda e: None)
    assert first.unsaved == 1
    ops.armed = False  # space was freed
    second = drain(agent.run("again"), lambda e: None)
    assert second.error is None and second.unsaved == 0
    assert [u["turn"] for u in usage_lines(session.path)] == [2]
    assert agent.state.totals().requests == 2


@pytest.fixture
def chit_signals() -> Iterator[None]:
    """chit's signal handlers, as the command line installs them; Python's restored after."""
    saved = {s: signal.getsignal(s) for s in signals.ENDING}
    # As an interactive shell starts chit: no signal ignored (a suite run in the background
    # has SIGINT ignored, and install() leaves an ignored signal ignored).
    for s in signals.ENDING:
        signal.signal(s, signal.SIG_DFL if s != signal.SIGINT else signal.default_int_handler)
    signals.install()
    signals.rearm()
    try:
        yield
    finally:
        for s, handler in saved.items():
            signal.signal(s, handler)
        signals.rearm()


@pytest.mark.parametrize("second", [signal.SIGINT, signal.SIGTERM])
def test_a_second_signal_while_the_first_is_recorded_loses_nothing(
    replay: ReplayServer, tmp_path: Path, chit_signals: None, second: int
) -> None:
    body = wire.anthropic("slow words " * 40, input_tokens=70, output_tokens=40)
    replay.queue(Reply(body=body, chunk_size=64, delay=0.01))
    agent, session = agent_with(replay, tmp_path, FileOps())
    sent: list[int] = []

    def handle(event: AgentEvent) -> None:
        if isinstance(event, TextDelta) and not sent:
            # Two signals back to back, as an impatient person or a job runner sends them:
            # the second lands while the first is being handled.
            sent.append(1)
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), second)

    done = drain(agent.run("talk"), handle)
    assert done.ended is Ended.INTERRUPTED
    assert signals.received() == signal.SIGINT
    [line] = usage_lines(session.path)
    assert line["ended"] == "interrupted"
    assert agent.state.totals().requests == 1


def test_a_signal_during_the_write_stops_the_turn_after_it(
    replay: ReplayServer, tmp_path: Path, chit_signals: None
) -> None:
    class SignalOnUsage(FileOps):
        """Sends SIGTERM from inside the write of the usage line (fsync follows it)."""

        armed = False

        def fsync(self, fd: int) -> None:
            if self.armed and not fired:
                fired.append(1)
                os.kill(os.getpid(), signal.SIGTERM)
            super().fsync(fd)

    fired: list[int] = []
    replay.queue(
        Reply(body=wire.anthropic("", [("t1", "list_files", {})])),
        Reply(body=wire.anthropic("never sent")),
    )
    ops = SignalOnUsage()
    agent, session = agent_with(replay, tmp_path, ops)
    ops.armed = True
    done = drain(agent.run("go"), lambda e: None)
    assert fired
    assert signals.received() == signal.SIGTERM
    # The record was written whole; the tool was not run, no second request was sent.
    assert len(usage_lines(session.path)) == 1
    assert len(replay.received) == 1
    assert done.ended is Ended.INTERRUPTED
    assert agent.state.messages[-1].tool_results[0].content.startswith("not run")
