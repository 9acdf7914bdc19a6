"""The chat's working half, built while its first prompt is up: the agent, the console, the
permission question, telemetry; and one turn drawn as it streams.

:mod:`chit.cli.interactive` draws the prompt first and builds this in the background
(:class:`chit.later.Later`), so the prompt does not wait for the agent, the tools, rich or
the provider's modules.
"""

from __future__ import annotations

import argparse
import sys
import termios
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from prompt_toolkit import PromptSession
from rich.console import Console
from rich.text import Text

from chit.agent import (
    AgentEvent,
    BudgetWarning,
    Compacted,
    Decision,
    PermissionRequest,
    ToolDone,
    TurnDone,
    drain,
)
from chit.cli.render import footer, tokens_and_cost
from chit.cli.repl.commands import Repl
from chit.cli.screen import make_console
from chit.cli.setup import Opening, agent_for
from chit.errors import ChitError
from chit.messages import ReasoningDelta, Retrying, TextDelta, ToolCall, ToolCallEvent
from chit.pricing import warm
from chit.providers import Connecting
from chit.state import AgentState
from chit.telemetry import OFF, Telemetry, start_telemetry

#: Lines of an earlier answer shown when a session is resumed.
RESUME_LINES = 12


@dataclass
class Chat:
    """The working half of a chat."""

    repl: Repl
    telemetry: Telemetry

    @classmethod
    def build(cls, args: argparse.Namespace, opening: Opening, root: Path) -> Chat:
        """The agent and all it needs; the provider's modules and genai-prices begin to load."""
        console = make_console()
        questions: list[PromptSession[str]] = []

        def permission(call: ToolCall) -> Decision:
            from chit.cli.repl.tools import ask

            if not questions:
                questions.append(PromptSession())
            return ask(console, questions[0], call, root)

        agent = agent_for(args, opening, permission)
        if isinstance(agent.provider, Connecting):
            agent.provider.start()
        warm()
        repl = Repl(
            agent, console, opening.session(), len(agent.state.records), permission=permission
        )
        telemetry = start_telemetry()
        telemetry.preload()
        return cls(repl, telemetry)

    def close(self) -> None:
        """Close the provider, the session in use (/fork and /clear move on to another
        one, closing theirs) and telemetry."""
        self.repl.agent.close()
        self.repl.session.close()
        self.telemetry.close()


def run_turn(repl: Repl, line: str, telemetry: Telemetry = OFF) -> None:
    """Send one message and draw the turn as it streams."""
    draw_turn(repl, repl.agent.run(line), telemetry)


def draw_turn(
    repl: Repl,
    turn: Generator[AgentEvent, None, None],
    telemetry: Telemetry = OFF,
    status: str = "thinking",
) -> None:
    """Draw a turn's events as they come (an answer, or ``/compact``'s summary): the
    spinner showing ``status`` until something streams."""
    # Markdown, highlighting and the live region load with the first answer, not before
    # the first prompt.
    from chit.cli.repl.stream import StreamView
    from chit.cli.repl.tools import call_line, result_line

    console, agent = repl.console, repl.agent
    view = StreamView(console)

    def show(event: AgentEvent) -> None:
        if isinstance(event, TextDelta):
            view.text(event.text)
        elif isinstance(event, ReasoningDelta):
            view.reasoning(event.text)
        elif isinstance(event, ToolCallEvent):
            view.pause()
            console.print(call_line(event.call))
            view.wait("working")
        elif isinstance(event, PermissionRequest):
            view.pause()
            event.answer(repl.permission(event.call))
        elif isinstance(event, ToolDone):
            view.pause()
            console.print(result_line(event))
            view.wait()
        elif isinstance(event, Retrying | BudgetWarning):
            view.pause()
            mark = "↻" if isinstance(event, Retrying) else "!"
            console.print(f"{mark} {event.describe()}", style="yellow")
            view.wait(status)
        elif isinstance(event, Compacted):
            view.pause()
            style = "yellow" if event.error else "cyan"
            console.print(Text(f"⇣ {event.describe()}", style=style))
            view.wait()
        elif isinstance(event, TurnDone):
            view.finish()
            _done(console, event)

    with keys_unechoed():
        try:
            view.wait(status)
            drain(turn, telemetry.watch(show, agent.state.session_id))
        except ChitError as e:  # the budget is spent, a cost budget on an unpriced model
            view.finish()
            console.print(f"! {e}", style="red")
        except KeyboardInterrupt:  # before the turn started: nothing was sent
            view.finish()
            console.print("interrupted", style="dim")
        finally:
            view.finish()
            repl.reasoning = view.reasoning_text or repl.reasoning


def _done(console: Console, done: TurnDone) -> None:
    if done.error is not None and done.error.type != "interrupted":
        console.print(f"! {done.error.message}", style="red")
    console.print(Text(footer(done), style="dim"))
    console.print()


def show_resumed(state: AgentState) -> None:
    """The last exchange or two of a resumed session, and what the session holds."""
    from chit.cli.repl.stream import Answer

    console = make_console()
    messages = state.messages
    asked = [i for i, m in enumerate(messages) if m.role == "user" and m.text]
    for n, i in enumerate(asked[-2:]):
        end = ([*asked[-2:], len(messages)])[n + 1]
        console.print(Text("› " + messages[i].text.strip(), style="bold"), overflow="ellipsis")
        answers = [m.text for m in messages[i + 1 : end] if m.role == "assistant" and m.text]
        if answers:
            lines = answers[-1].strip().splitlines()
            console.print(Answer("\n".join(lines[:RESUME_LINES])))
            if len(lines) > RESUME_LINES:
                console.print(f"… {len(lines) - RESUME_LINES} more lines", style="dim")
        console.print()
    console.print(
        f"resumed · {state.turns} turn(s) · {tokens_and_cost(state.totals())}", style="dim"
    )


@contextmanager
def keys_unechoed() -> Iterator[None]:
    """While an answer streams or a command runs, keys typed are not echoed into it: they
    wait for the next prompt as typed (Enter as Enter, not turned into a newline that would
    add a line instead of sending; Ctrl-D as a key, not the terminal's end of file); Ctrl-C
    still reaches chit as a signal."""
    try:
        fd = sys.stdin.fileno()
        before = termios.tcgetattr(fd)
    except (termios.error, ValueError, OSError):
        yield
        return
    quiet = list(before)
    quiet[0] &= ~termios.ICRNL
    quiet[3] &= ~(termios.ECHO | termios.ICANON)
    termios.tcsetattr(fd, termios.TCSANOW, quiet)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSANOW, before)
