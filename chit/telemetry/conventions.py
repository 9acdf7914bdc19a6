"""What chit says to OpenTelemetry, by the GenAI semantic conventions: span names and
attributes, metric names, units and buckets. Plain values only: nothing here imports
OpenTelemetry, so the live exporter and ``chit usage --export-otlp`` share one definition.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from chit.messages import Ended, ToolCall, ToolResult
from chit.state import RequestRecord, Totals

#: chit's provider names as ``gen_ai.provider.name`` knows them.
PROVIDER_NAMES = {
    "anthropic": "anthropic",
    "openai": "openai",
    "openai-responses": "openai",
    "ollama": "ollama",
    "bedrock": "aws.bedrock",
    "vertex": "gcp.vertex_ai",
    "azure": "azure.ai.openai",
}

SCOPE = "chit"
AGENT = "chit"

TOKEN_USAGE = "gen_ai.client.token.usage"
DURATION = "gen_ai.client.operation.duration"
COST = "chit.client.cost"
#: name -> (unit, description)
METRICS = {
    TOKEN_USAGE: ("{token}", "Tokens used per provider request, by gen_ai.token.type"),
    DURATION: ("s", "How long a provider request took, retries included"),
    COST: ("USD", "What provider requests cost, priced by genai-prices"),
}
#: The bucket boundaries the conventions advise for the two histograms.
TOKEN_BUCKETS = tuple(4**n for n in range(14))
DURATION_BUCKETS = tuple(0.01 * 2**n for n in range(14))


def provider_name(provider: str) -> str:
    """``gen_ai.provider.name`` of a chit provider."""
    return PROVIDER_NAMES.get(provider, provider or "unknown")


def request_name(record: RequestRecord) -> str:
    """``chat {model}``: the span name of one provider request."""
    return f"chat {record.response.model_requested}"


def turn_name() -> str:
    """The span name of one user turn: the agent's invocation."""
    return f"invoke_agent {AGENT}"


def tool_name(call: ToolCall) -> str:
    """``execute_tool {name}``."""
    return f"execute_tool {call.name}"


def common(record: RequestRecord) -> dict[str, Any]:
    """What a request's span and every metric point of it share."""
    r = record.response
    attrs: dict[str, Any] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": provider_name(r.provider),
        "gen_ai.request.model": r.model_requested,
    }
    if r.model:
        attrs["gen_ai.response.model"] = r.model
    if r.error is not None:
        attrs["error.type"] = r.error.type
    return attrs


def request_attributes(record: RequestRecord, session_id: str) -> dict[str, Any]:
    """Every attribute of a request's span. A count the provider never reported is left
    out: absent means unknown, 0 means zero."""
    r, u = record.response, record.response.usage
    attrs = common(record)
    attrs["gen_ai.conversation.id"] = session_id
    if r.stop_reason:
        attrs["gen_ai.response.finish_reasons"] = (r.stop_reason,)
    for key, n in (
        ("gen_ai.usage.input_tokens", u.input_tokens),  # inclusive of cache, as chit counts it
        ("gen_ai.usage.output_tokens", u.output_tokens),
        ("gen_ai.usage.cache_read.input_tokens", u.cache_read_tokens),
        ("gen_ai.usage.cache_creation.input_tokens", u.cache_write_tokens),
        ("chit.usage.reasoning_tokens", u.reasoning_tokens),
    ):
        if n is not None:
            attrs[key] = n
    if record.cost.usd is not None:
        attrs["chit.cost.usd"] = float(record.cost.usd)
        if record.cost.partial:
            attrs["chit.cost.partial"] = True
    attrs["chit.ended"] = r.ended.value
    attrs["chit.turn"] = record.turn
    if r.error is not None:
        attrs["chit.error.message"] = r.error.message
        if r.error.status is not None:
            attrs["http.response.status_code"] = r.error.status
    return attrs


def failed(record: RequestRecord) -> str | None:
    """Why the request's span is in error (it did not complete), else ``None``."""
    r = record.response
    if r.ended is Ended.COMPLETE:
        return None
    return r.error.message if r.error is not None else r.ended.value


def turn_attributes(session_id: str, turn: int) -> dict[str, Any]:
    """The attributes of a user turn's span."""
    return {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": AGENT,
        "gen_ai.conversation.id": session_id,
        "chit.turn": turn,
    }


def totals_attributes(totals: Totals, ended: Ended) -> dict[str, Any]:
    """What a finished turn's span adds: how it ended, its requests, and its counts and
    cost where every request of it reported them (a partial sum would understate)."""
    u = totals.usage
    attrs: dict[str, Any] = {"chit.ended": ended.value, "chit.requests": totals.requests}
    if u.complete and totals.requests:
        attrs["gen_ai.usage.input_tokens"] = u.input_tokens
        attrs["gen_ai.usage.output_tokens"] = u.output_tokens
    if totals.cost.usd is not None and not totals.cost.partial:
        attrs["chit.cost.usd"] = float(totals.cost.usd)
    return attrs


def tool_attributes(call: ToolCall, result: ToolResult, session_id: str) -> dict[str, Any]:
    """The attributes of a tool call's span."""
    attrs: dict[str, Any] = {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": call.name,
        "gen_ai.tool.call.id": call.id,
        "gen_ai.tool.type": "function",
        "gen_ai.conversation.id": session_id,
    }
    if result.is_error:
        attrs["error.type"] = "tool_error"
    return attrs


def token_points(record: RequestRecord) -> Iterator[tuple[int, dict[str, Any]]]:
    """The ``gen_ai.client.token.usage`` measurements of a request: input (inclusive of
    cache) and output, each only when reported."""
    u = record.response.usage
    for kind, n in (("input", u.input_tokens), ("output", u.output_tokens)):
        if n is not None:
            yield n, {**common(record), "gen_ai.token.type": kind}


def cost_point(record: RequestRecord) -> tuple[float, dict[str, Any]] | None:
    """The cost counter's measurement of a request; ``None`` when it has no price."""
    if record.cost.usd is None:
        return None
    return float(record.cost.usd), common(record)
