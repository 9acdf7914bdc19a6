"""``chit -p``: one turn without the REPL, for scripts and bots (spec/cli.md)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import orjson

from chit.agent import AgentEvent, BudgetWarning, PermissionRequest, ToolDone, TurnDone, drain
from chit.agent.loop import Decision
from chit.errors import BadInput, BudgetSpent, ChitError, NoCredentials, SessionError
from chit.messages import Ended, TextDelta, ToolCall
from chit.state import Totals

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


def footer(model: str | None, totals: Totals) -> str:
    """``claude-sonnet-4-5 · 13,579 tokens (12,100 cached) · $0.0123``"""
    u = totals.usage
    tokens = f"{u.total_tokens:,} tokens"
    if not u.complete:
        tokens = f"at least {tokens}"
    if u.cache_read_tokens:
        tokens += f" ({u.cache_read_tokens:,} cached)"
    usd = totals.cost.usd
    cost = "cost unknown" if usd is None else f"${usd:.4f}"
    if usd is not None and totals.cost.partial:
        cost = f"at least {cost}"
    return f"{model or 'unknown model'} · {tokens} · {cost}"


def run_print(args: argparse.Namespace) -> int:
    """Run one turn and print it; returns the exit status."""
    as_json = args.output_format == "json"
    try:
        return _run(args, as_json)
    except ChitError as e:
        if not as_json:
            raise
        _print_json(_failure(e))
        print(f"chit: {e}", file=sys.stderr)
        return e.exit_code


def _run(args: argparse.Namespace, as_json: bool) -> int:
    from chit.cli.main import home_dir
    from chit.cli.setup import build_agent

    prompt = read_prompt(args)
    home = home_dir(args)
    allow = bool(args.allow_tools)

    def permission(call: ToolCall) -> Decision:
        if not allow:
            print(f"chit: refused {call.name} (print mode: pass --allow-tools)", file=sys.stderr)
        return "yes" if allow else "no"

    agent, session = build_agent(args, Path(home) if home else None, permission)

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
        elif isinstance(event, PermissionRequest):
            pass  # answered by the permission callback

    try:
        done = drain(agent.run(prompt), show)
    except BudgetSpent as e:
        if as_json:
            _print_json(_result(agent.state.session_id, str(session.path), agent, None, e))
        print(f"chit: {e}", file=sys.stderr)
        return e.exit_code
    if as_json:
        _print_json(_result(agent.state.session_id, str(session.path), agent, done, None))
    else:
        if done.text and not done.text.endswith("\n"):
            sys.stdout.write("\n")
        print(footer(done.model, done.totals), file=sys.stderr)
    if done.error is not None:
        print(f"chit: {done.error.message}", file=sys.stderr)
    if done.error is not None and done.error.type == "budget":
        return BudgetSpent.exit_code
    return EXIT[done.ended]


def _result(
    session_id: str, path: str, agent: Any, done: TurnDone | None, failure: ChitError | None
) -> dict[str, Any]:
    state = agent.state
    session = state.totals().to_json()
    session = {"turns": state.turns, **session}
    error: dict[str, str] | None = None
    if failure is not None:
        error = {"type": _error_type(failure), "message": str(failure)}
    elif done is not None and done.error is not None:
        error = {"type": done.error.type, "message": done.error.message}
    return {
        "session_id": session_id,
        "session_file": str(Path(path).resolve()),
        "provider": agent.endpoint.provider,
        "model": done.model if done is not None else None,
        "result": done.text if done is not None else "",
        "ended": done.ended.value if done is not None else Ended.ERROR.value,
        "stop_reason": done.stop_reason if done is not None else None,
        "error": error,
        "turn": (done.totals if done is not None else Totals()).to_json(),
        "session": session,
    }


def _error_type(e: ChitError) -> str:
    kinds = [
        (BudgetSpent, "budget"),
        (NoCredentials, "no_credentials"),
        (SessionError, "session"),
        (BadInput, "bad_input"),
    ]
    return next((name for cls, name in kinds if isinstance(e, cls)), "error")


def _failure(e: ChitError) -> dict[str, Any]:
    """The JSON object for a failure before any turn could start."""
    return {
        "session_id": None,
        "session_file": None,
        "provider": None,
        "model": None,
        "result": "",
        "ended": Ended.ERROR.value,
        "stop_reason": None,
        "error": {"type": _error_type(e), "message": str(e)},
        "turn": Totals().to_json(),
        "session": None,
    }


def _print_json(obj: dict[str, Any]) -> None:
    sys.stdout.write(orjson.dumps(obj, option=orjson.OPT_INDENT_2).decode() + "\n")
    sys.stdout.flush()
