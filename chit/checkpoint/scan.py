"""A session's usage report without loading its conversation: what ``chit usage`` reads.

:func:`tally` gives the figures a full :func:`~chit.checkpoint.loader.load` gives (tests
compare the two on random and damaged journals), reading less:

- every ``usage`` line is decoded, as by a full load: every token and cent comes from them;
- ``message`` lines are recognized by their first bytes and not decoded;
- ``checkpoint`` lines give their turn number from their first bytes (a line written in
  another layout is decoded); only the last one is decoded whole, and its snapshot checked
  against the totals derived up to it;
- other lines (events, rewinds, anything unexpected) are decoded, so damage there is
  reported with its line number as a full load reports it.

So damage inside a message or an earlier checkpoint line, which a full load reports, goes
unnoticed here; it can shift a turn number but never a token or a cent.

These shortcuts are taken for lines of the current schema version that end with ``}``
(a torn line that chit closed does not). A line that repeats a key (which chit never
writes, and JSON leaves undefined) may be read differently from a full load.

Like the loader, it reads the file once, never writes to it, and raises only
:class:`~chit.errors.SessionError`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from orjson import JSONDecodeError, loads

from chit.checkpoint.figures import (
    Figures,
    cost_json,
    figures_totals,
    get_int,
    usage_row,
)
from chit.checkpoint.journal import SCHEMA_VERSION
from chit.checkpoint.read import (
    TurnCounter,
    damage_warnings,
    decode,
    disagree_warning,
    disagreements,
    no_cycle_collection,
    opened,
    read_header,
    repriced_warning,
    session_id_of,
)
from chit.state import Report

_MESSAGE = b'{"type":"message"'
_USAGE = b'{"type":"usage",'
# The turn as chit writes it; digits bounded so that the number is one orjson would read.
_TURN = re.compile(rb'\{"type":"checkpoint","turn":(0|[1-9][0-9]{0,17})[,}]')


@dataclass(frozen=True, slots=True)
class Tally:
    """A session's usage report, as read from its file."""

    report: Report
    """The figures."""
    header: dict[str, Any]
    """The header line as read (migrated)."""
    warnings: list[str]
    """What was wrong with the file and how it was read anyway, one line each."""


def tally(path: str | Path, buffering: int = 1 << 16) -> Tally:
    """The usage report of a session file; :class:`SessionError` when it is not one.

    ``buffering``: how many bytes to read at a time (tests take small ones; 0 and 1 mean
    other things to :func:`open`, so it reads at least 2).
    """
    # Collection resumes once _tally's figures are gone: left for it to walk, the first
    # collection after reading would take as long as summing them.
    with no_cycle_collection():
        return _tally(Path(path), max(buffering, 2))


def _tally(path: Path, buffering: int) -> Tally:
    turns = TurnCounter()
    rows: list[tuple[int, str, Figures]] = []
    bad: list[int] = []
    repriced, torn = 0, None
    # The last checkpoint: a _Mark's fields, as a plain tuple (a NamedTuple's constructor is
    # Python code, too slow to call for every checkpoint).
    last: tuple[bytes, int, int, int] | None = None
    with opened(path, buffering) as f:
        _, header, version = read_header(f, path)
        # Lines of another version may need migrating: decode them all.
        fast = version == SCHEMA_VERSION
        # Line by line from the file's own buffer: faster than finding the lines ourselves.
        for number, text in enumerate(f, 2):
            line = None  # a usage line, once decoded
            # The shortcuts, for lines as chit writes them: these end with "}" (a torn line
            # chit closed does not).
            if fast and text.endswith(b"}\n"):
                if text.startswith(_MESSAGE):
                    continue
                if text.startswith(_USAGE):
                    try:  # decoded here: this is most of the time a report takes
                        line = loads(text)
                    except JSONDecodeError:
                        bad.append(number)
                        continue
                    if line.get("type") != "usage":
                        line = None  # a key repeated: read as any other line
                elif m := _TURN.match(text):
                    last = text, number, turns.checkpoint(int(m[1])), len(rows)
                    continue
            if line is None:  # any other line: decoded as a full load decodes it
                if not text.endswith(b"\n"):
                    torn = number  # the last line, cut off by a crash: ignored
                    break
                if text == b"\n":
                    continue
                decoded = decode(text, version)
                if decoded is None:
                    bad.append(number)
                    continue
                kind, line = decoded
                if kind == "checkpoint":
                    turn = turns.checkpoint(get_int(line, "turn"))
                    last = text, number, turn, len(rows)
                elif kind == "message" and not _is_message(line):
                    bad.append(number)
                if kind != "usage":
                    continue
            # A usage line.
            if type(line.get("cost")) is not dict:
                line = _priced(line)
                repriced += 1
            stated, model, figures = usage_row(line)
            rows.append((turns.usage(stated), model, figures))
    report = Report.of(session_id_of(header, path), turns.last, rows, figures_totals)
    warnings = damage_warnings(torn, bad)
    if last is not None:
        warnings += disagree_warning(_check(_Mark(*last), version, rows, report))
    warnings += repriced_warning(repriced)
    return Tally(report, header, warnings)


class _Mark(NamedTuple):
    """A checkpoint line, and what stood when it was written."""

    line: bytes
    """The line as read (with its newline)."""
    number: int
    """Its line number."""
    turn: int
    """The turn it closed."""
    requests: int
    """How many usage lines came before it."""


# Records and messages are built only for the rare line that needs one: importing them is
# most of the start-up this module saves.


def _priced(line: dict[str, Any]) -> dict[str, Any]:
    """A usage line that lacks its cost, with the cost priced again (as a full load does)."""
    from chit.checkpoint.codec import record_from, reprice

    return {**line, "cost": cost_json(reprice(record_from(line, 0)[0]).cost)}


def _is_message(line: dict[str, Any]) -> bool:
    """Whether a full load reads this ``message`` line as a message (not as damage)."""
    from chit.checkpoint.codec import message_from

    return message_from(line) is not None


def _check(
    mark: _Mark, version: int, rows: list[tuple[int, str, Figures]], report: Report
) -> list[str]:
    """How the last checkpoint's snapshot disagrees with the usage lines before it."""
    decoded = decode(mark.line, version)
    if decoded is None:
        return []  # its turn was read; a full load reports the damage
    if mark.requests == len(rows):
        totals = report.totals
    else:
        totals = figures_totals([r for _, _, r in rows[: mark.requests]])
    return disagreements(decoded[1], mark.number, mark.turn, totals, None)
