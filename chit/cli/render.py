"""Everything the command line shows: the footer, the JSON objects of spec/cli.md, the
usage and session tables, warnings. Print mode, the reports and the chat all render here."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from chit.checkpoint import SessionInfo
from chit.errors import BadInput, BudgetSpent, ChitError, NoCredentials, SessionError
from chit.messages import Ended
from chit.pricing import Cost
from chit.state import AgentState, Report, Totals
from chit.usage import Usage

if TYPE_CHECKING:  # annotations only: the reports run without the agent
    from chit.agent import TurnDone

_COLUMNS = ("input", "cache read", "cache write", "output", "reasoning")


def print_json(value: Any) -> None:
    """One JSON value on stdout, indented."""
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")
    sys.stdout.flush()


def warn(path: Path, warnings: list[str]) -> None:
    """What was wrong with a session file, one line each on stderr."""
    for warning in warnings:
        print(f"chit: warning: {path}: {warning}", file=sys.stderr)


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


def tokens_and_cost(totals: Totals) -> str:
    """``13,579 tokens (12,100 cached) · $0.0123``; "at least" where a count is unknown."""
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
        "turn": (Totals() if done is None else done.totals).to_json(),
        "session": None if state is None else {"turns": state.turns, **state.totals().to_json()},
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
        "prices_version": report.totals.cost.prices_version,
        "by_model": {m: _figures(turns, t) for m, (turns, t) in report.by_model.items()},
    }


def _count(n: int | None) -> str:
    return "?" if n is None else f"{n:,}"


def _usd(cost: Cost) -> str:
    if cost.usd is None:
        return "unknown"
    return ("≥ " if cost.partial else "") + f"${cost.usd:.6f}"


def _row(name: str, turns: int, t: Totals) -> list[str]:
    counts = [_count(n) for n in t.usage.counts().values()]
    return [name, str(turns), str(t.requests), *counts, _usd(t.cost)]


def _table(header: list[str], rows: list[list[str]], numbers: bool = True) -> str:
    """Columns padded to their widest cell; with ``numbers`` all but the first right-aligned."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = []
    for row in [header, *rows]:
        cells = [
            c.rjust(w) if numbers and i else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines) + "\n"


def _unknown_note(u: Usage) -> str:
    if u.complete:
        return ""
    return (
        f"not reported by the provider: input of {u.input_unknown} request(s), "
        f"output of {u.output_unknown} (counts marked ? or summed without them)\n"
    )


def usage_text(report: Report, session_path: Path) -> str:
    """The usage report as ``/usage`` and ``chit usage`` show it: by model, total, last turn."""
    totals = report.totals
    header = ["model", "turns", "requests", *_COLUMNS, "cost"]
    rows = [
        _row(m or "(model not recorded)", turns, t) for m, (turns, t) in report.by_model.items()
    ]
    rows.append(_row("total", report.turns, totals))
    out = [f"session {report.session_id} · {session_path}\n", _table(header, rows)]
    if report.last_turn is not None:
        last, last_totals = report.last_turn
        out.append(_table(header, [_row(f"last turn ({last})", 1, last_totals)]))
    saved = totals.cost.saved_usd
    if saved:
        out.append(
            f"prompt caching {'saved' if saved > 0 else 'cost an extra'} ${abs(saved):.6f}\n"
        )
    if totals.cost.unpriced:
        out.append(f"{totals.cost.unpriced} request(s) have no known price\n")
    out.append(_unknown_note(totals.usage))
    return "".join(out)


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


def _tokens(u: Usage) -> str:
    return ("≥ " if not u.complete else "") + f"{u.total_tokens:,}"


def sessions_text(infos: list[SessionInfo]) -> str:
    """Sessions as a plain table, newest first."""
    if not infos:
        return "no sessions yet\n"
    header = ["id", "started", "models", "turns", "tokens", "cost", "path"]
    rows = [
        [
            i.session_id[:8],
            i.started or "?",
            ", ".join(i.models) or "-",
            str(i.turns),
            _tokens(i.totals.usage),
            _usd(i.totals.cost),
            str(i.path),
        ]
        for i in infos
    ]
    return _table(header, rows, numbers=False)
