"""``chit -p``: one turn without the REPL, for scripts and bots (spec/cli.md).

However it ends, the request in flight is recorded first: a signal stops it as Ctrl-C does
(exit 130, 143 for SIGTERM, 129 for SIGHUP), a closed stdout stops the printing but not the
reading (the provider generates and bills the whole answer anyway), and a session file that
cannot be written still leaves the request's usage in the output.
"""

from __future__ import annotations

import argparse
import os
import sys

from chit import signals
from chit.agent import AgentEvent, BudgetWarning, Compacted, Decision, ToolDone, TurnDone, drain
from chit.cli.render import footer, print_json, turn_json
from chit.cli.setup import build_agent
from chit.errors import BadInput, BudgetSpent, ChitError
from chit.messages import Ended, Retrying, TextDelta, ToolCall
from chit.telemetry import Telemetry, start_telemetry


def read_prompt(args: argparse.Namespace) -> str:
    """The prompt from ``-p``, or from stdin for ``-p -``; it must be UTF-8 text."""
    prompt = str(args.prompt)
    if prompt == "-":
        data = sys.stdin.buffer.read()
        try:
            prompt = data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise BadInput(
                f"the prompt on stdin is not UTF-8 text (byte {e.start + 1} is {data[e.start]:#x})"
            ) from None
    if not prompt.strip():
        raise BadInput("the prompt is empty")
    return prompt


def exit_status(done: TurnDone) -> int:
    """How the turn ended, as spec/cli.md numbers it."""
    error = done.error
    if error is not None and error.type == "budget":
        return BudgetSpent.exit_code
    if error is not None and error.type == "interrupted":
        signum = signals.received()
        return 130 if signum is None else signals.exit_status(signum)
    return 0 if done.ended is Ended.COMPLETE and error is None else 1


def run_print(args: argparse.Namespace) -> int:
    """Run one turn and print it; returns the exit status."""
    as_json = args.output_format == "json"
    telemetry = start_telemetry()
    try:
        return _run(args, as_json, telemetry)
    except ChitError as e:
        if not as_json:
            raise
        print_json(turn_json(None, None, None, None, e))
        print(f"chit: {e}", file=sys.stderr)
        return e.exit_code
    finally:
        telemetry.close()


class _Stdout:
    """The answer's way out; once the reader has gone (``| head``), it is closed quietly."""

    def __init__(self) -> None:
        self.gone = False

    def write(self, text: str) -> None:
        if self.gone:
            return
        try:
            sys.stdout.write(text)
            sys.stdout.flush()
        except BrokenPipeError:
            self.close()

    def close(self) -> None:
        """The reader has gone: whatever is still buffered can never be delivered, so let
        the exit flush it into nothing instead of failing."""
        self.gone = True
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _run(args: argparse.Namespace, as_json: bool, telemetry: Telemetry) -> int:
    prompt = read_prompt(args)
    allow = bool(args.allow_tools)

    def permission(call: ToolCall) -> Decision:
        if not allow:
            print(f"chit: refused {call.name} (print mode: pass --allow-tools)", file=sys.stderr)
        return "yes" if allow else "no"

    agent, session = build_agent(args, permission)
    out = _Stdout()

    def show(event: AgentEvent) -> None:
        if isinstance(event, TextDelta) and not as_json:
            out.write(event.text)
        elif isinstance(event, BudgetWarning | Retrying | Compacted):
            print(f"chit: {event.describe()}", file=sys.stderr)
        elif isinstance(event, ToolDone) and event.result.is_error and not as_json:
            print(f"chit: {event.call.name}: {event.result.content[:200]}", file=sys.stderr)

    try:
        done = drain(agent.run(prompt), telemetry.watch(show, agent.state.session_id))
    except BudgetSpent as e:
        if as_json:
            print_json(turn_json(agent.state, session.path, agent.endpoint.provider, None, e))
        print(f"chit: {e}", file=sys.stderr)
        return e.exit_code
    finally:
        agent.close()
        session.close()
    if as_json:
        try:
            print_json(turn_json(agent.state, session.path, agent.endpoint.provider, done))
        except BrokenPipeError:
            out.close()
    else:
        if done.text and not done.text.endswith("\n"):
            out.write("\n")
        print(footer(done), file=sys.stderr)
    if done.error is not None:
        print(f"chit: {done.error.message}", file=sys.stderr)
    return exit_status(done)
