"""What print mode, the reports and the chat share without rich: the footer, the JSON
objects of spec/cli.md, warnings. The tables are drawn with rich in :mod:`chit.cli.screen`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from chit.checkpoint import SessionInfo, latest_path
from chit.errors import BadInput, BudgetSpent, ChitError, NoCredentials, SessionError
from chit.messages import Ended
from chit.pricing import Cost
from chit.state import AgentState, Report, Totals, cache_write_split

if TYPE_CHECKING:  # annotations only: the reports run without the agent
    from chit.agent import TurnDone


def print_json(value: Any) -> None:
    """One JSON value on stdout, indented."""
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")
    sys.stdout.flush()


def warn(path: Path, warnings: list[str]) -> None:
    """What was wrong with a session file, one line each on stderr."""
    for warning in warnings:
        print(f"chit: warning: {path}: {warning}", file=sys.stderr)


def latest_session(home: str | None) -> Path:
    """The newest session, saying which entries of the sessions folder were passed over."""
    problems: list[str] = []
    try:
        return latest_path(home, problems)
    finally:
        for problem in problems:
            print(f"chit: warning: skipped {problem}", file=sys.stderr)


def footer(done: TurnDone) -> str:
    """``claude-sonnet-4-5 · 13,579 tokens (12,100 cached) · $0.0123``, then how the answer
    was cut short, if it was: ``· cut at the output limit``, ``· interrupted``."""
    line = f"{done.model or 'unknown model'} · {tokens_and_cost(done.totals)}"
    if done.truncated:
        line += " · cut at the output limit"
    if done.ended is Ended.INTERRUPTED:
        line += " · interrupted"
    if done.unsaved:
        line += f" · {done.unsaved} request(s) not saved"
    return line


def usd(cost: Cost) -> str:
    """``$0.001234``, ``≥ $0.001234`` (a lower bound), or ``unknown``: money in tables."""
    if cost.usd is None:
        return "unknown"
    return ("≥ " if cost.partial else "") + f"${cost.usd:.6f}"


def tokens_and_cost(totals: Totals) -> str:
    """``13,579 tokens (12,100 cached) · $0.0123``; "at least" where a count is unknown."""
    u = totals.usage
    if not u.complete and not u.total_tokens:
        return "no usage reported"  # nothing known was billed: no "at least $0.0000"
    tokens = f"{u.total_tokens:,} tokens"
    if not u.complete:
        tokens = f"at least {tokens}"
    if u.cache_read_tokens:
        tokens += f" ({u.cache_read_tokens:,} cached)"
    usd = totals.cost.usd
    cost = "cost unknown" if usd is None else f"${usd:.4f}"
    if usd is not None and totals.cost.partial:
        cost = f"at least {cost}"
    return f"{tokens} · {cost}"


# --- chit -p --output-format json ---------------------------------------------------------


def turn_json(
    state: AgentState | None,
    session_file: Path | None,
    provider: str | None,
    done: TurnDone | None,
    failure: ChitError | None = None,
) -> dict[str, Any]:
    """The object ``chit -p --output-format json`` prints: the turn ``done`` in a session,
    or the ``failure`` that stopped it (before it started, when there is no ``state``)."""
    error = None if failure is None else error_json(failure)
    records = [] if state is None else state.records
    turn = [r for r in records if done is not None and r.turn == done.turn]
    if done is not None and done.error is not None:
        error = {"type": done.error.type, "message": done.error.message}
    return {
        "session_id": None if state is None else state.session_id,
        "session_file": None if session_file is None else str(session_file.resolve()),
        "provider": provider,
        "model": None if done is None else done.model,
        "result": "" if done is None else done.text,
        "ended": (Ended.ERROR if done is None else done.ended).value,
        "stop_reason": None if done is None else done.stop_reason,
        "truncated": done is not None and done.truncated,
        "error": error,
        "turn": {
            **(Totals() if done is None else done.totals).to_json(),
            "cache_write_split": cache_write_split(turn),
        },
        "session": None
        if state is None
        else {
            **_figures(state.turns, state.totals()),
            "cache_write_split": cache_write_split(records),
        },
        # Requests of this turn counted above that the session file could not take.
        "unsaved_requests": 0 if done is None else done.unsaved,
    }


def error_json(e: ChitError) -> dict[str, str]:
    """The ``error`` object for a failure of chit's own (not the provider's)."""
    kinds = [
        (BudgetSpent, "budget"),
        (NoCredentials, "no_credentials"),
        (SessionError, "session"),
        (BadInput, "bad_input"),
    ]
    kind = next((name for cls, name in kinds if isinstance(e, cls)), "error")
    return {"type": kind, "message": str(e)}


# --- chit usage -----------------------------------------------------------------------------


def _figures(turns: int, totals: Totals) -> dict[str, Any]:
    return {"turns": turns, **totals.to_json()}


def session_json(report: Report, path: Path) -> dict[str, Any]:
    """spec/cli.md's ``session`` object, with ``by_model``, ``session_id``, ``session_file``."""
    return {
        "session_id": report.session_id,
        "session_file": str(Path(path).absolute()),
        **_figures(report.turns, report.totals),
        "cache_write_split": report.cache_write_split,
        "prices_version": report.totals.cost.prices_version,
        "by_model": {m: _figures(turns, t) for m, (turns, t) in report.by_model.items()},
    }


# --- chit sessions --------------------------------------------------------------------------


def info_json(i: SessionInfo) -> dict[str, Any]:
    """One session of ``chit sessions --json``."""
    return {
        "session_id": i.session_id,
        "started": i.started,
        "models": i.models,
        "turns": i.turns,
        **i.totals.to_json(),
        "session_file": str(i.path.absolute()),
        "forked_from": i.forked_from,
        "cwd": i.cwd,
    }
