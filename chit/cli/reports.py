"""``chit usage`` and ``chit sessions``: figures read from session files; no model is called."""

from __future__ import annotations

import argparse
import sys

from chit.checkpoint import find, latest_path, list_sessions, load
from chit.cli.render import info_json, print_json, session_json, sessions_text, usage_text, warn


def run_report(command: str, args: argparse.Namespace) -> int:
    """Print a report; returns the exit status."""
    if command == "usage" and (args.all or args.requests or args.since is not None):
        from chit.cli.spend import run_spend

        return run_spend(args)
    if command == "usage":
        path = latest_path(args.home) if args.session is None else find(args.session, args.home)
        loaded = load(path, messages=False)
        warn(path, loaded.warnings)
        report = loaded.report()
        if args.json:
            print_json(session_json(report, path))
        else:
            sys.stdout.write(usage_text(report, path))
        return 0
    problems: list[str] = []
    infos = list_sessions(args.home, problems)
    for problem in problems:
        print(f"chit: warning: skipped {problem}", file=sys.stderr)
    if args.json:
        print_json([info_json(i) for i in infos])
    else:
        sys.stdout.write(sessions_text(infos))
    return 0
