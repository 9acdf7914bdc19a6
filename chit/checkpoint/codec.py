"""Lines to values and back: messages, request records, snapshots, events, a checkpoint's seal.

Reading never raises on what a file holds: a field that is missing or of the wrong type
takes its default (see :mod:`chit.checkpoint.journal` for the names).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson

from chit.messages import AssistantTurn, Ended, Message, RequestError, ToolCall, ToolResult
from chit.pricing import Cost, parse_usd
from chit.state import RequestRecord, Totals
from chit.usage import FIELDS, Usage, count

ROLES = ("user", "assistant", "tool")
_ENDED = {e.value: e for e in Ended}
_SIDES = ("input_tokens", "output_tokens")


def get_str(d: dict[str, Any], key: str, default: str = "") -> str:
    v = d.get(key)
    return v if isinstance(v, str) else default


def get_opt_str(d: dict[str, Any], key: str) -> str | None:
    v = d.get(key)
    return v if isinstance(v, str) else None


def get_int(d: dict[str, Any], key: str) -> int | None:
    v = d.get(key)
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def get_dict(d: dict[str, Any], key: str) -> dict[str, Any]:
    v = d.get(key)
    return v if isinstance(v, dict) else {}


def counts(d: dict[str, Any]) -> list[int | None]:
    """The five counts (``FIELDS``) of a ``usage`` object as a file holds it."""
    return [count(v) for v in map(d.get, FIELDS)]


# --- messages ---------------------------------------------------------------------------


def message_json(m: Message) -> dict[str, Any]:
    """A ``message`` line."""
    return {
        "type": "message",
        "role": m.role,
        "text": m.text,
        "reasoning": m.reasoning,
        "tool_calls": [
            {"id": c.id, "name": c.name, "arguments": c.arguments} for c in m.tool_calls
        ],
        "tool_results": [
            {"call_id": r.call_id, "name": r.name, "content": r.content, "is_error": r.is_error}
            for r in m.tool_results
        ],
        "interrupted": m.interrupted,
    }


def message_from(d: dict[str, Any]) -> Message:
    """The message of a line whose role is one of :data:`ROLES` (or missing: ``user``)."""
    return Message(
        role=d.get("role", "user"),
        text=get_str(d, "text"),
        reasoning=get_str(d, "reasoning"),
        tool_calls=tuple(
            ToolCall(get_str(c, "id"), get_str(c, "name"), get_str(c, "arguments", "{}"))
            for c in _dicts(d, "tool_calls")
        ),
        tool_results=tuple(
            ToolResult(
                get_str(r, "call_id"),
                get_str(r, "name"),
                get_str(r, "content"),
                r.get("is_error") is True,
            )
            for r in _dicts(d, "tool_results")
        ),
        interrupted=d.get("interrupted") is True,
    )


def _dicts(d: dict[str, Any], key: str) -> list[dict[str, Any]]:
    v = d.get(key)
    return [x for x in v if isinstance(x, dict)] if isinstance(v, list) else []


# --- requests ---------------------------------------------------------------------------


def usage_json(record: RequestRecord, at: str) -> dict[str, Any]:
    """A ``usage`` line: the request's record without its text (messages carry that)."""
    r = record.response
    error = r.error
    return {
        "type": "usage",
        "turn": record.turn,
        "provider": r.provider,
        "model_requested": r.model_requested,
        "model": r.model,
        "ended": r.ended.value,
        "stop_reason": r.stop_reason,
        "error": None
        if error is None
        else {"type": error.type, "message": error.message, "status": error.status},
        "usage": r.usage.counts(),
        "extras": r.extras,
        "cost": record.cost.to_json(),
        **({"compaction": True} if record.compaction else {}),
        "at": at,
    }


def record_from(d: dict[str, Any], turn: int) -> RequestRecord:
    """The record of a ``usage`` line (of turn ``turn``), its cost priced again when the
    line lacks one."""
    error = d.get("error")
    response = AssistantTurn(
        provider=get_str(d, "provider"),
        model_requested=get_str(d, "model_requested"),
        usage=Usage.reported(*counts(get_dict(d, "usage"))),
        model=get_opt_str(d, "model"),
        stop_reason=get_opt_str(d, "stop_reason"),
        ended=_ENDED.get(get_str(d, "ended"), Ended.COMPLETE),
        error=None
        if not isinstance(error, dict)
        else RequestError(
            get_str(error, "type", "error"), get_str(error, "message"), get_int(error, "status")
        ),
        extras=get_dict(d, "extras"),
    )
    cost = d.get("cost")
    priced = Cost.from_json(cost) if isinstance(cost, dict) else _price(response)
    return RequestRecord(turn, response, priced, d.get("compaction") is True)


def _price(r: AssistantTurn) -> Cost:
    """The cost of a request whose line lacks it (the endpoint is not recorded, so only
    providers genai-prices knows by name are priced; others stay unpriced)."""
    from chit.pricing import genai_provider, price

    provider_id, api_url = genai_provider(r.provider, None)
    if provider_id is None and api_url is None:
        return Cost(unpriced=1, partial=True)
    try:
        return price(
            r.usage,
            r.model_name,
            provider_id=provider_id,
            provider_api_url=api_url,
            cache_write_1h=count(r.extras.get("cache_write_1h")),
        )
    except (ValueError, ArithmeticError):
        # Figures genai-prices refuses (a hand-edited file): no price rather than no load.
        return Cost(unpriced=1, partial=True)


# --- snapshots --------------------------------------------------------------------------


def snapshot_json(totals: Totals) -> dict[str, Any]:
    """A checkpoint's ``token_snapshot``."""
    u = totals.usage
    return {
        "requests": totals.requests,
        "usage": u.counts(),
        "unknown": {"input_tokens": u.input_unknown, "output_tokens": u.output_unknown},
        "cost": totals.cost.to_json(),
    }


def snapshot_figures(d: dict[str, Any]) -> dict[str, object]:
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
    for side in _SIDES:
        n = get_int(unknown, side)
        if n is not None:
            out[f"unknown_{side}"] = n
    cost = get_dict(d, "cost")
    usd = cost.get("usd")
    if "usd" in cost and (usd is None or parse_usd(usd) is not None):
        out["cost_usd"] = parse_usd(usd)
    return out


def totals_figures(totals: Totals) -> dict[str, object]:
    """The same flat figures, of derived totals (what :func:`snapshot_figures` is compared
    with)."""
    u = totals.usage
    return {
        "requests": totals.requests,
        **u.counts(),
        "unknown_input_tokens": u.input_unknown,
        "unknown_output_tokens": u.output_unknown,
        "cost_usd": totals.cost.usd,
    }


def snapshot_totals(d: dict[str, Any]) -> Totals:
    """The totals a snapshot holds (figures it lacks count as none)."""
    unknown = get_dict(d, "unknown")
    i, cr, cw, o, r = counts(get_dict(d, "usage"))
    in_unknown, out_unknown = (count(unknown.get(side)) or 0 for side in _SIDES)
    return Totals(
        count(d.get("requests")) or 0,
        Usage(i, cr, cw, o, r, in_unknown, out_unknown),
        Cost.from_json(get_dict(d, "cost")),
    )


# --- a checkpoint's seal ----------------------------------------------------------------


def seal(crc: int, line: dict[str, Any]) -> int | None:
    """A checkpoint line's seal: ``crc`` (the CRC-32 of the file before the line) continued
    over the figures the line states (``turn``, ``token_snapshot``, ``models`` as sorted
    compact JSON). ``None`` for figures JSON cannot hold."""
    figures = [line.get("turn"), line.get("token_snapshot"), line.get("models")]
    try:
        return zlib.crc32(orjson.dumps(figures, option=orjson.OPT_SORT_KEYS), crc)
    except orjson.JSONEncodeError:
        return None


# --- events -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SavedBudget:
    """The budget a ``budget`` event set: values a file held that are not a budget are
    ``None`` (no limit) and named in ``problems``."""

    max_cost: Decimal | None = None
    """The most the session may cost, in USD."""
    max_tokens: int | None = None
    """The most tokens the session may use."""
    problems: tuple[str, ...] = ()
    """What could not be read, one phrase each."""


def budget_from(d: dict[str, Any]) -> SavedBudget:
    """The budget of a ``budget`` line."""
    problems: list[str] = []
    cost, tokens = d.get("max_cost"), d.get("max_tokens")
    max_cost = parse_usd(cost)
    if max_cost is not None and max_cost <= 0:
        max_cost = None
    if max_cost is None and cost is not None:
        problems.append(f"max_cost {_shown(cost)} is not a positive amount of USD")
    max_tokens = get_int(d, "max_tokens")
    if max_tokens is not None and max_tokens <= 0:
        max_tokens = None
    if max_tokens is None and tokens is not None:
        problems.append(f"max_tokens {_shown(tokens)} is not a positive whole number")
    return SavedBudget(max_cost, max_tokens, tuple(problems))


def _shown(value: object) -> str:
    text = orjson.dumps(value, default=str).decode()
    return text if len(text) <= 40 else text[:37] + "..."
