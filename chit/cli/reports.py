"""``chit usage`` and ``chit sessions`` (and the text of ``/usage``); no model is called.

Starts fast: only orjson and the session tally are imported (genai-prices only when a
usage line lacks its cost and has to be priced again).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import orjson

from chit.checkpoint import SessionInfo, find, latest_path, list_sessions, tally
from chit.pricing import Cost
from chit.state import Report, Totals
from chit.usage import Usage

_COLUMNS = ("input", "cache read", "cache write", "output", "reasoning")


def run_report(command: str, args: argparse.Namespace) -> int:
    """Print a report; returns the exit status."""
    from chit.cli.main import home_dir

    home = home_dir(args)
    if command == "usage":
        path = latest_path(home) if args.session is None else find(args.session, home)
        read = tally(path)
        for warning in read.warnings:
            print(f"chit: warning: {path}: {warning}", file=sys.stderr)
        if args.json:
            _print_json(session_json(read.report, path))
        else:
            sys.stdout.write(usage_text(read.report, path))
        return 0
    problems: list[str] = []
    infos = list_sessions(home, problems)
    for problem in problems:
        print(f"chit: warning: skipped {problem}", file=sys.stderr)
    if args.json:
        _print_json([_info_json(i) for i in infos])
    else:
        sys.stdout.write(sessions_text(infos))
    return 0


def _print_json(value: Any) -> None:
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")
    sys.stdout.flush()


# --- usage ------------------------------------------------------------------------------


def _figures(turns: int, totals: Totals) -> dict[str, Any]:
    return {"turns": turns, **totals.to_json()}


def session_json(report: Report, path: Path) -> dict[str, Any]:
    """spec/cli.md's ``session`` object, with ``by_model``, ``session_id``, ``session_file``."""
    return {
        "session_id": report.session_id,
        "session_file": str(Path(path).absolute()),
        **_figures(report.turns, report.totals),
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


# --- sessions ---------------------------------------------------------------------------


def _info_json(i: SessionInfo) -> dict[str, Any]:
    figures = Totals(i.requests, i.tokens, i.cost).to_json()
    return {
        "session_id": i.session_id,
        "started": i.started,
        "models": i.models,
        "turns": i.turns,
        **figures,
        "session_file": str(i.path.absolute()),
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
            _tokens(i.tokens),
            _usd(i.cost),
            str(i.path),
        ]
        for i in infos
    ]
    return _table(header, rows, numbers=False)
