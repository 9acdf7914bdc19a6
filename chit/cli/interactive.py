"""The interactive terminal: a prompt, streamed answers, and slash commands.

prompt-toolkit reads the line, rich draws the output; both are imported only here.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from chit.agent import (
    Agent,
    AgentEvent,
    BudgetWarning,
    Decision,
    PermissionRequest,
    ToolDone,
    TurnDone,
    drain,
)
from chit.checkpoint import home_dir
from chit.cli.render import footer, usage_text
from chit.cli.setup import build_agent
from chit.errors import BadInput, BudgetSpent
from chit.messages import ReasoningDelta, TextDelta, ToolCall, ToolCallEvent


@dataclass
class Repl:
    """One interactive session: the agent, where to write, and whether to go on."""

    agent: Agent
    session_path: Path
    write: Callable[[str], None]
    running: bool = True


Command = Callable[[Repl, str], None]
COMMANDS: dict[str, Command] = {}


def command(name: str) -> Callable[[Command], Command]:
    """Register a slash command; its docstring is its line in ``/help``."""

    def register(fn: Command) -> Command:
        COMMANDS[name] = fn
        return fn

    return register


@command("help")
def _help(repl: Repl, arg: str) -> None:
    """List the commands."""
    for name, fn in sorted(COMMANDS.items()):
        repl.write(f"/{name:<8} {(fn.__doc__ or '').strip()}\n")


@command("usage")
def _usage(repl: Repl, arg: str) -> None:
    """Where the tokens and the money went: this session, by model, last turn."""
    repl.write(usage_text(repl.agent.state.report(), repl.session_path))


@command("exit")
def _exit(repl: Repl, arg: str) -> None:
    """Leave chit (the session stays on disk; resume it with chit -c)."""
    repl.running = False


def dispatch(repl: Repl, line: str) -> None:
    """Run a slash command line."""
    name, _, arg = line[1:].partition(" ")
    fn = COMMANDS.get(name)
    if fn is None:
        repl.write(f"unknown command /{name}: try /help\n")
    else:
        fn(repl, arg.strip())


def run_interactive(args: argparse.Namespace) -> int:
    """Run the REPL until /exit or end of input; returns the exit status."""
    from prompt_toolkit import PromptSession
    from prompt_toolkit.history import FileHistory

    if not sys.stdin.isatty():
        raise BadInput("chit needs a terminal for a chat: use chit -p PROMPT (or -p - for stdin)")
    prompt_session: PromptSession[str] = PromptSession(
        history=FileHistory(str(_history_file(home_dir(args.home))))
    )

    def write(text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()

    def permission(call: ToolCall) -> Decision:
        answer = prompt_session.prompt(f"allow {call.name} {call.arguments[:200]}? [y/n/a] ")
        return {"y": "yes", "a": "always"}.get(answer.strip().lower()[:1], "no")  # type: ignore[return-value]

    agent, session = build_agent(args, permission)
    repl = Repl(agent, session.path, write)
    write(f"chit · session {session.session_id[:8]} · {agent.model} · /help for commands\n")

    def show(event: AgentEvent) -> None:
        if isinstance(event, TextDelta):
            write(event.text)
        elif isinstance(event, ReasoningDelta):
            write(f"\x1b[2m{event.text}\x1b[0m")
        elif isinstance(event, ToolCallEvent):
            write(f"\n→ {event.call.name} {event.call.arguments[:120]}\n")
        elif isinstance(event, PermissionRequest):
            event.answer(permission(event.call))
        elif isinstance(event, ToolDone) and event.result.is_error:
            write(f"  ✗ {event.result.content[:200]}\n")
        elif isinstance(event, BudgetWarning):
            write(f"\n! {event.describe()}\n")
        elif isinstance(event, TurnDone):
            write("\n")
            if event.error is not None:
                write(f"! {event.error.message}\n")
            write(f"\x1b[2m{footer(event)}\x1b[0m\n")

    try:
        while repl.running:
            try:
                line = prompt_session.prompt("› ")
            except KeyboardInterrupt:
                continue
            except EOFError:
                break
            if not line.strip():
                continue
            if line.startswith("/"):
                dispatch(repl, line.strip())
                continue
            try:
                drain(agent.run(line), show)
            except BudgetSpent as e:
                write(f"! {e}\n")
    finally:
        agent.close()
    return 0


def _history_file(home: Path) -> Path:
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = home / "history"
    path.touch(mode=0o600, exist_ok=True)
    return path
