"""``chit usage --export-otlp [SESSION | --all [--since WHEN]]``: past sessions' records sent
to the OpenTelemetry collector the OTEL_* variables name (see :mod:`chit.telemetry.past`
for what a session file lets it tell). No model is called; nothing is written.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys

from chit.checkpoint import find, load
from chit.cli.render import latest_session, print_json, warn
from chit.cli.spend import dated, every_session, first_seen, parse_since
from chit.errors import BadInput, ChitError
from chit.telemetry.settings import settings, where


class ExportFailed(ChitError):
    """The collector did not take what was sent."""


def run_export(args: argparse.Namespace) -> int:
    """Send the records; the exit status (1 when the collector did not take them all)."""
    if args.requests:
        raise BadInput("--export-otlp sends the records; it does not go with --requests")
    if args.since is not None and not args.all:
        raise BadInput("--since goes with --all (chit usage --export-otlp --all --since 7d)")
    if args.all and args.session is not None:
        raise BadInput(f"--all sends every session; leave out {args.session!r}")
    wanted = settings()
    if wanted is None:
        raise BadInput(
            "--export-otlp sends to the collector OTEL_EXPORTER_OTLP_ENDPOINT names "
            "(or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT / _METRICS_ENDPOINT): set it"
        )
    try:
        from chit.telemetry.past import PastSession, export
    except ImportError as e:
        if not (e.name or "").startswith("opentelemetry"):
            raise
        raise BadInput(f"{e.name} is not installed: pip install 'chit[otel]'") from None
    if args.all:
        since = parse_since(args.since)
        sessions = [
            PastSession(past.session_id, [(d.record, d.at) for d in fresh if _after(d.at, since)])
            for past, fresh in first_seen(every_session(args.home))
        ]
        sessions = [s for s in sessions if s.requests]
    else:
        path = latest_session(args.home) if args.session is None else find(args.session, args.home)
        loaded = load(path)
        warn(path, loaded.warnings)
        records = [(d.record, d.at) for d in dated(loaded)]
        sessions = [PastSession(loaded.state.session_id, records)]
    sent = export(sessions, wanted)
    if args.json:
        print_json(
            {
                "sessions": len(sessions),
                "requests": sent.requests,
                "undated": sent.undated,
                "spans": sent.spans,
                "failed": sent.failure,
            }
        )
    elif sent.failure is None:
        n = len(sessions)
        print(f"sent {sent.requests} request(s) of {n} session(s) to {where()}")
    if sent.undated:
        print(
            f"chit: warning: {sent.undated} request(s) have no time in their session file "
            "and were not sent",
            file=sys.stderr,
        )
    if sent.failure is not None:
        raise ExportFailed(f"the collector at {where()} did not take {sent.failure}")
    return 0


def _after(at: dt.datetime | None, since: dt.datetime | None) -> bool:
    return since is None or (at is not None and at >= since)
