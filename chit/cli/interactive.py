"""The interactive chat: a prompt with a live toolbar, answers rendered as they stream,
tools shown compactly with a diff before each edit, and slash commands.

The parts live in :mod:`chit.cli.repl`; this module runs the loop. Ctrl-C during an
answer stops it (the loop records the request) and comes back to the prompt; Ctrl-C twice
on an empty prompt, Ctrl-D, or ``/exit`` leaves.
"""

from __future__ import annotations

import argparse
import sys
import termios
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from prompt_toolkit import PromptSession
from rich.console import Console
from rich.text import Text

from chit.agent import (
    Agent,
    AgentEvent,
    BudgetWarning,
    Compacted,
    Decision,
    PermissionRequest,
    ToolDone,
    TurnDone,
    drain,
)
from chit.checkpoint import home_dir
from chit.cli.render import footer, tokens_and_cost
from chit.cli.repl import conversation as _conversation  # noqa: F401  (registers its commands)
from chit.cli.repl.commands import Repl, descriptions, dispatch, is_command
from chit.cli.repl.context import compacted_line  # registers /context and /compact
from chit.cli.repl.prompt import Toolbar, make_session, prompts_for_this_terminal
from chit.cli.screen import make_console, short_model
from chit.cli.setup import build_agent
from chit.errors import BadInput, ChitError
from chit.messages import ReasoningDelta, Retrying, TextDelta, ToolCall, ToolCallEvent
from chit.pricing import warm
from chit.providers import Connecting
from chit.telemetry import OFF, Telemetry, start_telemetry

#: Lines of an earlier answer shown when a session is resumed.
RESUME_LINES = 12


def run_interactive(args: argparse.Namespace) -> int:
    """Run the chat until it is left; returns the exit status."""
    if not sys.stdin.isatty():
        raise BadInput("chit needs a terminal for a chat: use chit -p PROMPT (or -p - for stdin)")
    console = make_console()
    root = Path.cwd()
    questions: list[PromptSession[str]] = []

    def permission(call: ToolCall) -> Decision:
        from chit.cli.repl.tools import ask

        if not questions:
            questions.append(PromptSession())
        return ask(console, questions[0], call, root)

    agent, session = build_agent(args, permission, background=True)
    repl = Repl(
        agent,
        console,
        session.path,
        len(agent.state.records),
        permission=permission,
        session=session,
    )
    telemetry = start_telemetry()
    try:
        with prompts_for_this_terminal():
            toolbar = Toolbar(agent, on_change=lambda: prompt.app.invalidate())
            history = home_dir(args.home) / "history"
            prompt = make_session(history, descriptions(), root, toolbar)
            prompt.app.after_render += lambda _: _load_while_typing(agent)
            console.print(
                Text.assemble(
                    ("chit", "bold cyan"),
                    f" · session {session.session_id[:8]} · {short_model(agent.model)} · ",
                    ("/help for commands", "dim"),
                )
            )
            if agent.state.messages:
                show_resumed(console, agent)
            _loop(repl, prompt, telemetry)
    finally:
        agent.close()
        if repl.session is not None:  # /fork and /clear move on to another one
            repl.session.close()
        telemetry.close()
    return 0


def _load_while_typing(agent: Agent) -> None:
    """Once the prompt is drawn, the provider's modules and genai-prices load while the
    user types (loaded before it, they would keep the prompt waiting)."""
    if isinstance(agent.provider, Connecting):
        agent.provider.start()
    warm()


def _loop(repl: Repl, prompt: PromptSession[str], telemetry: Telemetry) -> None:
    interrupts = 0
    while repl.running:
        try:
            line = prompt.prompt([("class:prompt", "› ")])
        except KeyboardInterrupt:  # Ctrl-C on an empty line
            interrupts += 1
            if interrupts >= 2:
                break
            repl.console.print("press Ctrl-C again or Ctrl-D to leave", style="dim")
            continue
        except EOFError:
            break
        interrupts = 0
        if not line.strip():
            continue
        if is_command(line):
            with _keys_unechoed():
                dispatch(repl, line)
            continue
        run_turn(repl, line, telemetry)


def run_turn(repl: Repl, line: str, telemetry: Telemetry = OFF) -> None:
    """Send one message and draw the turn as it streams."""
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
            view.wait()
        elif isinstance(event, Compacted):
            view.pause()
            console.print(compacted_line(event))
            view.wait()
        elif isinstance(event, TurnDone):
            view.finish()
            _done(console, event)

    with _keys_unechoed():
        try:
            view.wait()
            drain(agent.run(line), telemetry.watch(show, agent.state.session_id))
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


def show_resumed(console: Console, agent: Agent) -> None:
    """The last exchange or two of a resumed session, and what the session holds."""
    from chit.cli.repl.stream import Answer

    messages = agent.state.messages
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
    state = agent.state
    console.print(
        f"resumed · {state.turns} turn(s) · {tokens_and_cost(state.totals())}", style="dim"
    )


@contextmanager
def _keys_unechoed() -> Iterator[None]:
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
