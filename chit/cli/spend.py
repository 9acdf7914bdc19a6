"""Spend over time: ``chit usage --all [--since 7d|DATE]`` sums every session, and
``chit usage SESSION --requests`` lists one session's requests. No model is called.

``--all`` reads every session file once. A fork starts as a copy of its parent's lines, so
a usage line found again in another file (the same line, field for field) is counted once.
Days are the UTC dates of the usage lines' ``at``; projects, the sessions' working folders.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from chit.checkpoint import Loaded, find, load, sessions_dir
from chit.cli.render import latest_session, print_json, usd, warn
from chit.errors import BadInput, SessionError
from chit.state import RequestRecord, Totals, cache_write_split

_COUNTS = ("input", "cache read", "cache write", "output", "reasoning")
_UNKNOWN_DAY = "unknown"


def run_spend(args: argparse.Namespace) -> int:
    """``chit usage`` with ``--all``, ``--since`` or ``--requests``; the exit status."""
    if args.requests and (args.all or args.since is not None):
        raise BadInput("--requests lists one session's requests; it does not go with --all")
    if not args.requests and not args.all:
        raise BadInput("--since goes with --all (chit usage --all --since 7d)")
    if args.requests:
        return _requests(args)
    if args.session is not None:
        raise BadInput(f"--all sums every session; leave out {args.session!r}")
    since = parse_since(args.since)
    spend = Spend.of(args.home, since)
    if args.json:
        print_json(spend.to_json(since))
    else:
        sys.stdout.write(spend.text(since))
    return 0


# --- --since --------------------------------------------------------------------------------


def parse_since(text: str | None, now: dt.datetime | None = None) -> dt.datetime | None:
    """``7d`` (the last 7 days) or ``2026-11-01`` (from that UTC midnight) as a UTC time;
    :class:`BadInput` for anything else."""
    if text is None:
        return None
    now = now or dt.datetime.now(dt.UTC)
    days = re.fullmatch(r"(\d{1,5})d", text.strip())
    if days:
        return now - dt.timedelta(days=int(days[1]))
    try:
        day = dt.date.fromisoformat(text.strip())
    except ValueError:
        wanted = "a number of days (7d) or a date (2026-11-01)"
        raise BadInput(f"--since wants {wanted}, not {text!r}") from None
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


def _when(at: object) -> dt.datetime | None:
    if not isinstance(at, str):
        return None
    try:
        t = dt.datetime.fromisoformat(at)
    except ValueError:
        return None
    return t.astimezone(dt.UTC) if t.tzinfo else t.replace(tzinfo=dt.UTC)


# --- one session's requests -----------------------------------------------------------------


@dataclass(frozen=True)
class Dated:
    """A request with when it was recorded."""

    record: RequestRecord
    """The request's record."""
    at: dt.datetime | None
    """Its usage line's ``at`` (UTC), ``None`` when the line has none that can be read."""
    key: bytes
    """The usage line, canonical: the same request copied into a fork has the same key."""


def dated(loaded: Loaded) -> list[Dated]:
    """A session's records with their usage lines' times (``loaded`` read with messages)."""
    usage = [d for d in map(orjson.loads, loaded.lines[1:]) if d.get("type") == "usage"]
    records = loaded.state.records
    if len(usage) != len(records):  # not the lines the reader counted: no time is known
        usage = [{"n": n} for n in range(len(records))]
    return [
        Dated(r, _when(u.get("at")), orjson.dumps(u, option=orjson.OPT_SORT_KEYS))
        for r, u in zip(records, usage, strict=True)
    ]


def request_json(d: Dated) -> dict[str, Any]:
    """One row of ``chit usage SESSION --requests --json``."""
    r = d.record.response
    return {
        "turn": d.record.turn,
        "at": None if d.at is None else d.at.isoformat().replace("+00:00", "Z"),
        "model": r.model_name,
        "ended": r.ended.value,
        "truncated": r.truncated,
        "compaction": d.record.compaction,
        "usage": r.usage.counts(),
        "cache_write_split": cache_write_split([d.record]),
        "cost_usd": d.record.cost.usd_str(),
    }


def _requests(args: argparse.Namespace) -> int:
    path = latest_session(args.home) if args.session is None else find(args.session, args.home)
    loaded = load(path)
    warn(path, loaded.warnings)
    rows = dated(loaded)
    if args.json:
        print_json([request_json(d) for d in rows])
        return 0
    header = ["turn", "model", "ended", *_COUNTS, "cost"]
    table = [
        [
            str(d.record.turn),
            d.record.response.model_name or "?",
            d.record.response.ended.value
            + (" (cut)" if d.record.response.truncated else "")
            + (" (compaction)" if d.record.compaction else ""),
            *(_count(n) for n in d.record.response.usage.counts().values()),
            usd(d.record.cost),
        ]
        for d in rows
    ]
    splits = [cache_write_split([d.record]) for d in rows]
    if any(split and split["1h"] for split in splits):  # beside cache write: its 1h part
        header.insert(6, "1h write")
        for row, split in zip(table, splits, strict=True):
            row.insert(6, "-" if split is None else f"{split['1h']:,}")
    sys.stdout.write(f"session {loaded.state.session_id} · {path}\n")
    sys.stdout.write(_table(header, table) if table else "no requests yet\n")
    return 0


# --- every session --------------------------------------------------------------------------


@dataclass(frozen=True)
class Past:
    """A session as the reports read it."""

    session_id: str
    """Its id."""
    project: str
    """Its working folder."""
    requests: list[Dated]
    """Its requests, oldest first."""


def every_session(home: str | Path | None) -> list[Past]:
    """Every readable session under ``home``, oldest first (unreadable files are said so
    and skipped). Created in the same second (a whole-second time): the parent first."""
    sessions: list[tuple[tuple[str, bool], Past]] = []
    folder = sessions_dir(home)
    for path in sorted(folder.glob("*.jsonl")) if folder.is_dir() else []:
        if path.name.startswith("."):
            continue
        try:
            loaded = load(path)
        except SessionError as e:
            print(f"chit: warning: skipped {e}", file=sys.stderr)
            continue
        warn(path, loaded.warnings)
        created, cwd = loaded.header.get("created_at"), loaded.header.get("cwd")
        project = cwd if isinstance(cwd, str) and cwd else "(folder not recorded)"
        when = (created if isinstance(created, str) else "", "forked_from" in loaded.header)
        sessions.append((when, Past(loaded.state.session_id, project, dated(loaded))))
    return [past for _, past in sorted(sessions, key=lambda s: s[0])]


def first_seen(sessions: list[Past]) -> Iterator[tuple[Past, list[Dated]]]:
    """Each session with the requests no earlier session had: a fork starts as a copy of
    its parent's lines, and a request it copied is its parent's."""
    seen: set[bytes] = set()
    for past in sessions:
        fresh = []
        for d in past.requests:
            if d.key not in seen:
                seen.add(d.key)
                fresh.append(d)
        yield past, fresh


@dataclass
class Spend:
    """Every session's requests summed, and grouped by model, UTC day and project."""

    sessions: int = 0
    """Sessions with a request counted (every readable session when no ``since``)."""
    total: Totals = field(default_factory=Totals)
    """Every request counted."""
    by_model: dict[str, Totals] = field(default_factory=dict)
    """Per reported model."""
    by_day: dict[str, Totals] = field(default_factory=dict)
    """Per UTC day of the usage lines (``unknown`` for a line without a time)."""
    by_project: dict[str, Totals] = field(default_factory=dict)
    """Per working folder of the sessions."""
    records: list[RequestRecord] = field(default_factory=list)
    """Every request counted (for the figures totals do not keep, the cache-write split)."""

    @classmethod
    def of(cls, home: str | Path | None, since: dt.datetime | None) -> Spend:
        """Read every session under ``home``; unreadable files are said so and skipped."""
        spend = cls()
        for past, fresh in first_seen(every_session(home)):
            counted = False
            for d in fresh:
                if since is None or (d.at is not None and d.at >= since):
                    counted = True
                    spend.add(d, past.project)
            spend.sessions += counted or since is None
        return spend

    def add(self, d: Dated, project: str) -> None:
        """Count one request."""
        day = _UNKNOWN_DAY if d.at is None else d.at.date().isoformat()
        self.total = self.total.plus(d.record)
        self.records.append(d.record)
        for groups, key in (
            (self.by_model, d.record.response.model_name or "(model not recorded)"),
            (self.by_day, day),
            (self.by_project, project),
        ):
            groups[key] = groups.get(key, Totals()).plus(d.record)

    def groups(self) -> dict[str, dict[str, Totals]]:
        """The groupings, days in order, the others most expensive first."""
        return {
            "by_model": _costliest(self.by_model),
            "by_day": dict(sorted(self.by_day.items())),
            "by_project": _costliest(self.by_project),
        }

    def to_json(self, since: dt.datetime | None) -> dict[str, Any]:
        """spec/cli.md's ``chit usage --all --json``."""
        return {
            "sessions": self.sessions,
            "since": None if since is None else since.isoformat().replace("+00:00", "Z"),
            **self.total.to_json(),
            "prices_version": self.total.cost.prices_version,
            "cache_write_split": cache_write_split(self.records),
            **{
                name: {k: t.to_json() for k, t in group.items()}
                for name, group in self.groups().items()
            },
        }

    def text(self, since: dt.datetime | None) -> str:
        """The report as a person reads it: one table per grouping, the total last in each."""
        when = "" if since is None else f" since {since:%Y-%m-%d %H:%M} UTC"
        out = [f"{self.sessions} session(s), {self.total.requests} request(s){when}\n"]
        header = ["", "requests", *_COUNTS, "cost", "cache hit", "cache saved"]
        for name, group in self.groups().items():
            header[0] = name.removeprefix("by_")
            rows = [_row(k, t) for k, t in group.items()]
            out.append("\n" + _table(header, [*rows, _row("total", self.total)]))
        u = self.total.usage
        if not u.complete:
            out.append(
                f"not reported by the provider: input of {u.input_unknown} request(s), "
                f"output of {u.output_unknown} (summed without them)\n"
            )
        if self.total.cost.unpriced:
            out.append(f"{self.total.cost.unpriced} request(s) have no known price\n")
        return "".join(out)


def _costliest(group: dict[str, Totals]) -> dict[str, Totals]:
    return dict(sorted(group.items(), key=lambda kv: -(kv[1].cost.usd or 0)))


# --- text -----------------------------------------------------------------------------------


def _count(n: int | None) -> str:
    return "?" if n is None else f"{n:,}"


def _row(name: str, t: Totals) -> list[str]:
    rate, saved = t.cache_hit_rate, t.cost.saved_usd
    return [
        name,
        f"{t.requests:,}",
        *(_count(n) for n in t.usage.counts().values()),
        usd(t.cost),
        "-" if rate is None else f"{rate:.0%}",
        "-" if saved is None else f"${saved:.6f}",
    ]


def _table(header: list[str], rows: list[list[str]]) -> str:
    """Columns padded to their widest cell, all but the first right-aligned."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = []
    for row in [header, *rows]:
        cells = zip(row, widths, strict=True)
        lines.append("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(cells)))
    return "\n".join(line.rstrip() for line in lines) + "\n"
