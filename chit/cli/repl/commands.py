"""Slash commands: ``/usage`` (and ``/cost``), ``/thinking``, ``/help``, ``/exit``.

A command is found whatever its case and with space before it (``/USAGE``, `` /help``);
an unknown one is answered with the nearest known name.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass

from rich.console import Console
from rich.text import Text

from chit.agent import Agent, Decision
from chit.checkpoint import Session
from chit.cli.screen import Column, usage_table
from chit.messages import ToolCall


@dataclass
class Repl:
    """One chat: the agent, the screen, and what the commands need to know."""

    agent: Agent
    console: Console
    session: Session
    """The session the agent writes to (another one after ``/fork`` or ``/clear``)."""
    run_start: int = 0
    """How many request records the session held when chit started (``this run`` follows)."""
    reasoning: str = ""
    """The last turn's reasoning, for ``/thinking``."""
    permission: Callable[[ToolCall], Decision] = lambda call: "no"
    """Asks whether a tool call may run."""
    running: bool = True


Command = Callable[[Repl, str], None]
COMMANDS: dict[str, Command] = {}
#: Other names of a command.
ALIASES = {"cost": "usage", "quit": "exit"}


def command(name: str) -> Callable[[Command], Command]:
    """Register a slash command; its docstring is its line in ``/help``."""

    def register(fn: Command) -> Command:
        COMMANDS[name] = fn
        return fn

    return register


def descriptions() -> dict[str, str]:
    """Every command name (aliases included) and its one line, for completion."""
    lines = {name: (fn.__doc__ or "").strip() for name, fn in sorted(COMMANDS.items())}
    return {**lines, **{a: f"same as /{name}" for a, name in ALIASES.items()}}


@command("help")
def _help(repl: Repl, arg: str) -> None:
    """List the commands and keys."""
    for name, line in descriptions().items():
        repl.console.print(Text.assemble((f"/{name:<9}", "bold"), line))
    repl.console.print(
        "Enter sends · Alt-Enter or Ctrl-J adds a line · Ctrl-C stops an answer · "
        "Ctrl-R searches history · Ctrl-D leaves",
        style="dim",
    )


@command("usage")
def _usage(repl: Repl, arg: str) -> None:
    """Tokens and cost: this turn, this run and the whole session side by side."""
    state = repl.agent.state
    records = state.records
    last = [r for r in records if records and r.turn == records[-1].turn]
    columns = [
        Column.of("this turn", last),
        Column.of("this run", records[repl.run_start :]),
        Column.of("session", records),
    ]
    heading = f"session {state.session_id[:8]} · {state.turns} turn(s)"
    repl.console.print(usage_table(columns, heading, repl.session.path))


@command("thinking")
def _thinking(repl: Repl, arg: str) -> None:
    """Reasoning in full or folded to one line (a toggle); shows the last."""
    from chit.cli.repl.stream import StreamView

    full = StreamView.reasoning_in_full = not StreamView.reasoning_in_full
    if full and repl.reasoning:
        repl.console.print(Text(repl.reasoning.strip(), style="dim italic"))
    elif full:
        repl.console.print("the last answer showed no reasoning", style="dim")
    said = "shown in full" if full else "folded to one line"
    repl.console.print(f"reasoning {said} from now on (/thinking again to change)", style="dim")


@command("exit")
def _exit(repl: Repl, arg: str) -> None:
    """Leave chit (the session stays on disk; resume it with chit -c)."""
    repl.running = False


def is_command(line: str) -> bool:
    """Whether the line is a slash command (space before the slash allowed)."""
    return line.lstrip().startswith("/")


def dispatch(repl: Repl, line: str) -> None:
    """Run a slash command line; an unknown name gets the nearest one suggested."""
    name, _, arg = line.strip()[1:].partition(" ")
    name = name.lower()
    fn = COMMANDS.get(ALIASES.get(name, name))
    if fn is not None:
        fn(repl, arg.strip())
        return
    near = difflib.get_close_matches(name, list(descriptions()), n=1, cutoff=0.5)
    hint = f"did you mean /{near[0]}?" if near else "try /help"
    repl.console.print(f"unknown command /{name}: {hint}", style="yellow")
