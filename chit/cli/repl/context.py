"""Slash commands on the context window: ``/context`` (how full it is, and with what) and
``/compact`` (a summary replaces the conversation). Registered in the one registry of
:mod:`chit.cli.repl.commands` when the chat imports this module."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from chit.agent.context import estimate
from chit.cli.repl.chat import draw_turn
from chit.cli.repl.commands import Repl, command
from chit.cli.text import short_model


@command("context")
def _context(repl: Repl, arg: str) -> None:
    """How full the context window is: system prompt and tools, conversation, tool results."""
    agent, console = repl.agent, repl.console
    use = agent.context()
    model = short_model(agent.model)
    used = use.used
    if used is None:
        why = "the conversation was just compacted" if agent.state.records else "nothing sent yet"
        console.print(f"context · {model} · no request measured it ({why})", style="dim")
        _instructions(console, repl)
        return
    if use.window:
        share = f"{used:,} of {use.window:,} tokens ({use.share:.0%})"
    else:
        share = f"{used:,} tokens (genai-prices does not know this model's window)"
    console.print(Text.assemble(("context", "bold"), f" · {model} · {share}"))
    record = use.record
    assert record is not None  # a figure comes from a request
    messages = agent.state.messages
    if messages and messages[-1].role == "assistant":
        messages = messages[:-1]  # the last request's answer: its output, not its input
    tools = agent.tools.specs() if agent.tools is not None else ()
    split = estimate(record, agent.system, tools, agent.instructions.text, messages)
    table = Table.grid(padding=(0, 2))
    table.add_column()
    table.add_column(justify="right")
    rows = [
        ("system prompt and tools", split.system),
        ("  of which project instructions", split.instructions),
        ("conversation", split.conversation),
        ("tool results", split.tool_results),
        ("output", record.response.usage.output_tokens),
    ]
    for label, tokens in rows:
        table.add_row(f"  {label}", "unknown" if tokens is None else f"{tokens:,}")
    console.print(table)
    console.print(
        f"the split is estimated: each part's share of the characters sent, scaled to the "
        f"{record.response.usage.input_tokens:,} input tokens the provider reported for the "
        "last request",
        style="dim",
    )
    _instructions(console, repl)


def _instructions(console: Console, repl: Repl) -> None:
    found = repl.agent.instructions
    if not found.files:
        console.print("no project instructions (AGENTS.md or CLAUDE.md)", style="dim")
        return
    names = ", ".join(str(p) for p in found.files)
    console.print(f"project instructions: {names} ({len(found.text):,} characters)", style="dim")


@command("compact")
def _compact(repl: Repl, arg: str) -> None:
    """Summarise the conversation and go on from the summary (/compact FOCUS: keep FOCUS)."""
    if not repl.agent.state.messages:
        repl.console.print("nothing to compact yet", style="dim")
        return
    draw_turn(repl, repl.agent.compact(arg), status="compacting")
