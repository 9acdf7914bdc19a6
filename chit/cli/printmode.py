"""``chit -p``: one turn without the REPL, for scripts and bots (spec/cli.md)."""

from __future__ import annotations

import argparse
import sys

from chit.agent import AgentEvent, BudgetWarning, ToolDone, drain
from chit.agent.loop import Decision
from chit.cli.render import footer, print_json, turn_json
from chit.cli.setup import build_agent
from chit.errors import BadInput, BudgetSpent, ChitError
from chit.messages import Ended, TextDelta, ToolCall

#: Exit status by how the turn ended (spec/cli.md).
EXIT = {Ended.COMPLETE: 0, Ended.ERROR: 1, Ended.INTERRUPTED: 130}


def read_prompt(args: argparse.Namespace) -> str:
    """The prompt from ``-p``, or from stdin for ``-p -``."""
    prompt = str(args.prompt)
    if prompt == "-":
        prompt = sys.stdin.read()
    if not prompt.strip():
        raise BadInput("the prompt is empty")
    return prompt


def run_print(args: argparse.Namespace) -> int:
    """Run one turn and print it; returns the exit status."""
    as_json = args.output_format == "json"
    try:
        return _run(args, as_json)
    except ChitError as e:
        if not as_json:
            raise
        print_json(turn_json(None, None, None, None, e))
        print(f"chit: {e}", file=sys.stderr)
        return e.exit_code


def _run(args: argparse.Namespace, as_json: bool) -> int:
    prompt = read_prompt(args)
    allow = bool(args.allow_tools)

    def permission(call: ToolCall) -> Decision:
        if not allow:
            print(f"chit: refused {call.name} (print mode: pass --allow-tools)", file=sys.stderr)
        return "yes" if allow else "no"

    agent, session = build_agent(args, permission)

    def show(event: AgentEvent) -> None:
        if isinstance(event, TextDelta) and not as_json:
            sys.stdout.write(event.text)
            sys.stdout.flush()
        elif isinstance(event, BudgetWarning):
            print(
                f"chit: {event.fraction:.0%} of the budget ({event.budget.describe()}) is spent",
                file=sys.stderr,
            )
        elif isinstance(event, ToolDone) and event.result.is_error and not as_json:
            print(f"chit: {event.call.name}: {event.result.content[:200]}", file=sys.stderr)

    try:
        done = drain(agent.run(prompt), show)
    except BudgetSpent as e:
        if as_json:
            print_json(turn_json(agent.state, session.path, agent.endpoint.provider, None, e))
        print(f"chit: {e}", file=sys.stderr)
        return e.exit_code
    if as_json:
        print_json(turn_json(agent.state, session.path, agent.endpoint.provider, done))
    else:
        if done.text and not done.text.endswith("\n"):
            sys.stdout.write("\n")
        print(footer(done.model, done.totals), file=sys.stderr)
    if done.error is not None:
        print(f"chit: {done.error.message}", file=sys.stderr)
    if done.error is not None and done.error.type == "budget":
        return BudgetSpent.exit_code
    return EXIT[done.ended]
