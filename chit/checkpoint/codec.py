"""Lines to objects and back: messages and request records (figures: :mod:`.figures`).

The readers never raise on what a file holds: a field that is missing or of the wrong type
takes its default (see the table in :mod:`chit.checkpoint.journal` for the names).
"""

from __future__ import annotations

from typing import Any

from chit.checkpoint.figures import (
    cost_json,
    count,
    get_bool,
    get_dict,
    get_int,
    get_opt_str,
    get_str,
)
from chit.messages import AssistantTurn, Ended, Message, RequestError, ToolCall, ToolResult
from chit.pricing import Cost
from chit.state import RequestRecord
from chit.usage import FIELDS, Usage

_ROLES = ("user", "assistant", "tool")
_ENDED = {e.value: e for e in Ended}


# --- messages ---------------------------------------------------------------------------


def _dicts(d: dict[str, Any], key: str) -> list[dict[str, Any]]:
    v = d.get(key)
    if not v or not isinstance(v, list):
        return []
    return [x for x in v if isinstance(x, dict)]


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


def message_from(d: dict[str, Any]) -> Message | None:
    """The message of a line; ``None`` when its role is not one chit knows."""
    role = d.get("role", "user")
    if role not in _ROLES:
        return None
    return Message(
        role=role,
        text=get_str(d, "text"),
        reasoning=get_str(d, "reasoning"),
        tool_calls=tuple(_call(c) for c in _dicts(d, "tool_calls")),
        tool_results=tuple(
            ToolResult(
                get_str(r, "call_id"),
                get_str(r, "name"),
                get_str(r, "content"),
                get_bool(r, "is_error"),
            )
            for r in _dicts(d, "tool_results")
        ),
        interrupted=get_bool(d, "interrupted"),
    )


def _call(c: dict[str, Any]) -> ToolCall:
    return ToolCall(get_str(c, "id"), get_str(c, "name"), get_str(c, "arguments", "{}"))


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
        "cost": cost_json(record.cost),
        "at": at,
    }


def record_from(d: dict[str, Any], default_turn: int) -> tuple[RequestRecord, bool]:
    """The record of a ``usage`` line, and whether it held its cost (else it is re-priced)."""
    counts = get_dict(d, "usage")
    error = d.get("error")
    response = AssistantTurn(
        provider=get_str(d, "provider"),
        model_requested=get_str(d, "model_requested"),
        usage=Usage.reported(*(count(counts.get(f)) for f in FIELDS)),
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
    turn = get_int(d, "turn")
    record = RequestRecord(
        turn if turn is not None else default_turn,
        response,
        Cost.from_json(cost) if isinstance(cost, dict) else Cost(),
    )
    return record, isinstance(cost, dict)


def reprice(record: RequestRecord) -> RequestRecord:
    """A record whose line lacked its cost, priced now (the endpoint is not recorded, so
    only providers genai-prices knows by name are priced; others stay unpriced)."""
    from chit.pricing import genai_provider, price

    r = record.response
    provider_id, api_url = genai_provider(r.provider, None)
    if provider_id is None and api_url is None:
        return RequestRecord(record.turn, r, Cost(unpriced=1, partial=True))
    one_hour = count(r.extras.get("cache_write_1h"))
    try:
        cost = price(
            r.usage,
            r.model_name,
            provider_id=provider_id,
            provider_api_url=api_url,
            cache_write_1h=one_hour,
        )
    except (ValueError, ArithmeticError):
        # Figures genai-prices refuses (a hand-edited file): no price rather than no load.
        cost = Cost(unpriced=1, partial=True)
    return RequestRecord(record.turn, r, cost)
