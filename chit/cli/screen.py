"""What the chat and the reports draw with rich: the console, the usage table with columns
side by side, the sessions table, short model names.

rich is imported here (and by the chat), never by print mode or the front door.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import IO

from rich import box
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from chit.checkpoint import SessionInfo
from chit.cli.render import usd
from chit.cli.text import plain_terminal, short_model
from chit.pricing import Cost
from chit.state import RequestRecord, Totals, cache_write_split
from chit.usage import Usage

#: ... in the sessions table, which has less room.
_SESSION_MODEL = 20


def make_console(file: IO[str] | None = None) -> Console:
    """A console that writes no escape codes for ``NO_COLOR``, ``TERM=dumb`` or a file."""
    return Console(
        file=file,
        highlight=False,
        emoji=False,
        color_system=None if plain_terminal() else "auto",
    )


# --- the usage table ------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """One column of the usage table: the totals of some requests, and theirs per model."""

    title: str
    """``this turn``, ``this run``, ``session``, ``last turn``."""
    totals: Totals = field(default_factory=Totals)
    """Every request the column covers."""
    by_model: dict[str, Totals] = field(default_factory=dict)
    """The same requests per reported model, in order of first use."""
    cache_write_split: dict[str, int] | None = None
    """Their cache writes by lifetime (``5m``, ``1h``); ``None`` when never reported."""

    @classmethod
    def of(cls, title: str, records: Iterable[RequestRecord]) -> Column:
        """The column of some request records."""
        records = list(records)
        models: dict[str, list[RequestRecord]] = {}
        for r in records:
            models.setdefault(r.response.model_name, []).append(r)
        by_model = {m: Totals.of(mine) for m, mine in models.items()}
        return cls(title, Totals.of(records), by_model, cache_write_split(records))


def _count(value: int | None, unknown: int) -> str:
    """An exact count; ``?`` when no request reported it, ``≥`` when some did not."""
    if value is None:  # "?": a request never reported it; "-": the provider does not count it
        return "?" if unknown else "-"
    return ("≥ " if unknown else "") + f"{value:,}"


def _uncached(u: Usage) -> str:
    if u.input_tokens is None:
        return _count(None, u.input_unknown)
    plain = u.input_tokens - (u.cache_read_tokens or 0) - (u.cache_write_tokens or 0)
    return _count(plain, u.input_unknown)


def _one_hour(split: dict[str, int] | None) -> str:
    return "-" if split is None else f"{split['1h']:,}"


def _hit_rate(u: Usage) -> str:
    if not u.input_tokens:
        return "-"
    return f"{Decimal(u.cache_read_tokens or 0) / u.input_tokens:.1%}"


def _saved(cost: Cost) -> str:
    if cost.saved_usd is None:
        return "-"
    sign = "-" if cost.saved_usd < 0 else ""
    return f"{sign}${abs(cost.saved_usd):.6f}"


def _table() -> Table:
    """A table of chit's: a rule under the header, no frame, two spaces between columns."""
    return Table(
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        collapse_padding=True,
        header_style="bold",
    )


def usage_table(columns: Sequence[Column], heading: str, path: Path) -> RenderableType:
    """Usage side by side: rows input (all), of which cache read, cache write (and of that
    the one-hour writes, when there were any) and uncached, output, of which reasoning,
    requests, cost (and per model when several served), the cache hit rate and what caching
    saved. Exact figures; fits 80 columns."""
    table = _table()
    table.add_column("", no_wrap=True, overflow="ellipsis", max_width=30)
    for c in columns:
        table.add_column(c.title, justify="right", no_wrap=True)

    def row(label: str, cell: Callable[[Column], str], style: str = "") -> None:
        table.add_row(label, *(cell(c) for c in columns), style=style)

    row("input (all)", lambda c: _count(c.totals.usage.input_tokens, c.totals.usage.input_unknown))
    row("  cache read", lambda c: _count(c.totals.usage.cache_read_tokens, 0), "dim")
    row("  cache write", lambda c: _count(c.totals.usage.cache_write_tokens, 0), "dim")
    if any(c.cache_write_split and c.cache_write_split["1h"] for c in columns):
        row("    of which 1h", lambda c: _one_hour(c.cache_write_split), "dim")
    row("  uncached", lambda c: _uncached(c.totals.usage), "dim")
    row("output", lambda c: _count(c.totals.usage.output_tokens, c.totals.usage.output_unknown))
    row("  reasoning", lambda c: _count(c.totals.usage.reasoning_tokens, 0), "dim")
    row("requests", lambda c: f"{c.totals.requests:,}")
    row("cost", lambda c: usd(c.totals.cost), "bold")
    models = list(dict.fromkeys(m for c in columns for m in c.by_model))
    if len(models) > 1:
        for m in models:
            cells = (_model_cost(c, m) for c in columns)
            table.add_row(f"  {short_model(m, 26)}", *cells, style="dim")
    row("cache hit rate", lambda c: _hit_rate(c.totals.usage))
    row("saved by caching", lambda c: _saved(c.totals.cost))
    where = Text(str(path), style="dim", no_wrap=True, overflow="ellipsis")
    notes = [Text(heading, style="bold"), where]
    session = columns[-1].totals
    if not session.usage.complete:
        u = session.usage
        notes.append(
            Text(
                f"never reported: the input of {u.input_unknown} request(s), the output of "
                f"{u.output_unknown} (? = unknown, ≥ = at least)",
                style="yellow",
            )
        )
    if session.cost.unpriced:
        notes.append(Text(f"{session.cost.unpriced} request(s) have no known price"))
    return Group(*notes[:2], table, *notes[2:])


def _model_cost(column: Column, model: str) -> str:
    totals = column.by_model.get(model)
    return "-" if totals is None else usd(totals.cost)


# --- chit sessions --------------------------------------------------------------------------


def _tokens(u: Usage) -> str:
    return ("≥ " if not u.complete else "") + f"{u.total_tokens:,}"


def sessions_table(infos: Sequence[SessionInfo]) -> RenderableType:
    """Sessions newest first: id, when, models, turns, tokens, cost (``--json`` has the
    files); fits 80 columns."""
    if not infos:
        return Text("no sessions yet")
    table = _table()
    table.add_column("id", no_wrap=True)
    table.add_column("started", no_wrap=True)
    table.add_column("models", no_wrap=True, overflow="ellipsis", max_width=_SESSION_MODEL)
    for name in ("turns", "tokens", "cost"):
        table.add_column(name, justify="right", no_wrap=True)
    for i in infos:
        table.add_row(
            i.session_id[:8],
            (i.started or "?")[:16].replace("T", " "),
            ", ".join(short_model(m, _SESSION_MODEL) for m in i.models) or "-",
            str(i.turns),
            _tokens(i.totals.usage),
            usd(i.totals.cost),
        )
    return table
