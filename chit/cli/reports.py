"""``chit usage`` and ``chit sessions``: figures read from session files; no model is called.

The tables are drawn with rich (plain text when piped or with ``NO_COLOR``); ``--json``
prints spec/cli.md's objects.
"""

from __future__ import annotations

import argparse
import sys

from chit.checkpoint import find, list_sessions, load
from chit.cli.render import info_json, latest_session, print_json, session_json, warn


def run_report(command: str, args: argparse.Namespace) -> int:
    """Print a report; returns the exit status."""
    if command == "usage" and args.export_otlp:
        from chit.cli.export import run_export

        return run_export(args)
    if command == "usage" and (args.all or args.requests or args.since is not None):
        from chit.cli.spend import run_spend

        return run_spend(args)
    if command == "usage":
        path = latest_session(args.home) if args.session is None else find(args.session, args.home)
        loaded = load(path, messages=False)
        warn(path, loaded.warnings)
        report = loaded.report()
        if args.json:
            print_json(session_json(report, path))
            return 0
        from chit.cli.screen import Column, make_console, usage_table

        records = loaded.state.records
        last = [r for r in records if records and r.turn == records[-1].turn]
        columns = [Column.of("last turn", last), Column.of("session", records)]
        heading = f"session {report.session_id} · {report.turns} turn(s)"
        make_console().print(usage_table(columns, heading, path))
        return 0
    problems: list[str] = []
    infos = list_sessions(args.home, problems)
    for problem in problems:
        print(f"chit: warning: skipped {problem}", file=sys.stderr)
    if args.json:
        print_json([info_json(i) for i in infos])
    else:
        from chit.cli.screen import make_console, sessions_table

        make_console().print(sessions_table(infos))
    return 0
