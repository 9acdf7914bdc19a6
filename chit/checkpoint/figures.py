"""Figures of usage lines and checkpoint snapshots: counts, costs and their totals, read
without building a message or a record (what reports over long sessions need); and the
typed getters every line reader uses.

The readers never raise on what a file holds: a field that is missing or of the wrong type
takes its default (see the table in :mod:`chit.checkpoint.journal` for the names).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from operator import itemgetter
from typing import Any

from chit.pricing import COST_KEYS, Cost, cost_columns, parse_usd
from chit.state import Totals
from chit.usage import FIELDS, Usage


def get_str(d: dict[str, Any], key: str, default: str = "") -> str:
    v = d.get(key)
    return v if isinstance(v, str) else default


def get_opt_str(d: dict[str, Any], key: str) -> str | None:
    v = d.get(key)
    return v if isinstance(v, str) else None


def get_int(d: dict[str, Any], key: str) -> int | None:
    v = d.get(key)
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def get_bool(d: dict[str, Any], key: str) -> bool:
    return d.get(key) is True


def get_dict(d: dict[str, Any], key: str) -> dict[str, Any]:
    v = d.get(key)
    return v if isinstance(v, dict) else {}


# --- money ------------------------------------------------------------------------------


def usd_json(value: Decimal | None) -> str | None:
    """An amount of USD as a file holds it: an exact decimal string."""
    return None if value is None else format(value, "f")


def cost_json(cost: Cost) -> dict[str, Any]:
    """A cost with exact decimal strings (``Cost.to_json`` rounds to six places)."""
    return {
        "usd": usd_json(cost.usd),
        "saved_usd": usd_json(cost.saved_usd),
        "unpriced": cost.unpriced,
        "partial": cost.partial,
        "prices_version": cost.prices_version,
    }


# --- usage lines ------------------------------------------------------------------------


def count(value: object) -> int | None:
    """A token count as a file holds it: a whole number >= 0, else ``None`` (no count)."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


#: A usage line's figures as it holds them, one flat tuple: the five counts (``FIELDS``) of
#: its ``usage``, then the fields of its ``cost`` (``COST_KEYS``); checked when summed.
Figures = tuple[object, ...]

_COUNTS, _COST = itemgetter(*FIELDS), itemgetter(*COST_KEYS)


def usage_row(d: dict[str, Any]) -> tuple[int | None, str, Figures]:
    """What a report needs of a ``usage`` line, read as
    :func:`chit.checkpoint.codec.record_from` reads it: the turn it states (``None``: none),
    the model to show (reported, else requested), and its figures for
    :func:`figures_totals`."""
    # The getters' rules, inlined: a report reads tens of thousands of these lines.
    turn, model, usage, cost = d.get("turn"), d.get("model"), d.get("usage"), d.get("cost")
    if type(turn) is not int:
        turn = get_int(d, "turn")
    if not model or type(model) is not str:
        model = get_str(d, "model_requested")
    if type(usage) is not dict:
        usage = {}
    if type(cost) is not dict:
        cost = {}
    try:  # the usual line has every field: read in one call each
        figures = _COUNTS(usage) + _COST(cost)
    except KeyError:
        figures = (*map(usage.get, FIELDS), *map(cost.get, COST_KEYS))
    return turn, model, figures


def figures_totals(rows: Sequence[Figures]) -> Totals:
    """``Totals.of`` the records these figures come from, summed column by column
    (:meth:`Usage.total`, :meth:`Cost.total`). Tests check the two agree."""
    if not rows:
        return Totals()
    columns = list(zip(*rows, strict=True))
    counts, costs = columns[: len(FIELDS)], columns[len(FIELDS) :]
    return Totals(
        len(rows), Usage.total([_counts(c) for c in counts]), Cost.total(*cost_columns(costs))
    )


def _counts(column: Sequence[Any]) -> list[int | None]:
    """``count`` of each value; checked a column at a time where every value is already
    a count."""
    if set(map(type, column)) <= {int} and min(column, default=0) >= 0:
        return list(column)
    return list(map(count, column))


# --- snapshots --------------------------------------------------------------------------


def snapshot_json(totals: Totals) -> dict[str, Any]:
    """A checkpoint's ``token_snapshot``."""
    u = totals.usage
    return {
        "requests": totals.requests,
        "usage": u.counts(),
        "unknown": {"input_tokens": u.input_unknown, "output_tokens": u.output_unknown},
        "cost": cost_json(totals.cost),
    }


def snapshot_from(d: dict[str, Any]) -> dict[str, object]:
    """The figures a snapshot holds, flat. A figure it lacks, or holds in no form a usage
    line could hold it (``10.0``, ``true``, ``"10"``), is absent: not recorded, not compared.
    ``null`` is held: "never reported"."""
    out: dict[str, object] = {}
    requests = get_int(d, "requests")
    if requests is not None:
        out["requests"] = requests
    usage = get_dict(d, "usage")
    for f in FIELDS:
        if f in usage and (usage[f] is None or count(usage[f]) is not None):
            out[f] = usage[f]
    unknown = get_dict(d, "unknown")
    for side in ("input_tokens", "output_tokens"):
        n = get_int(unknown, side)
        if n is not None:
            out[f"unknown_{side}"] = n
    cost = get_dict(d, "cost")
    usd = cost.get("usd")
    if "usd" in cost and (usd is None or parse_usd(usd) is not None):
        out["cost_usd"] = parse_usd(usd)
    return out


def totals_figures(totals: Totals) -> dict[str, object]:
    """The same flat figures, of derived totals (what :func:`snapshot_from` is compared with)."""
    u = totals.usage
    out: dict[str, object] = {"requests": totals.requests, **u.counts()}
    out["unknown_input_tokens"] = u.input_unknown
    out["unknown_output_tokens"] = u.output_unknown
    out["cost_usd"] = totals.cost.usd
    return out
