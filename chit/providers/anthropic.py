"""Anthropic Messages API: ``POST /v1/messages`` with ``stream: true``, read as raw events.

The events are decoded with orjson and reduced by :class:`AnthropicAccumulator`, as the
Anthropic SDK's ``accumulate_event`` reduces them. Usage follows spec/usage.md: the last
non-null value per field, never summed, the ``message_start`` output placeholder
ignored, compaction iterations added.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import orjson

from chit.messages import Ended, Event, Message, RequestError
from chit.providers.base import Accumulator, HTTPProvider, PendingCall, Sender, int_or_none
from chit.providers.contract import Endpoint, Request
from chit.providers.failures import context_error, context_refused
from chit.usage import Usage

if TYPE_CHECKING:  # the SDK's request types check the body; nothing is imported at run time
    from anthropic.types import (
        CacheControlEphemeralParam,
        MessageParam,
        TextBlockParam,
        ToolParam,
        ToolResultBlockParam,
        ToolUseBlockParam,
    )
    from anthropic.types.message_create_params import MessageCreateParamsStreaming

    Block = TextBlockParam | ToolUseBlockParam | ToolResultBlockParam

#: The Messages API version chit speaks (the SDK's ``anthropic-version``).
API_VERSION = "2023-06-01"

#: Anthropic's error types, in the short names of :func:`chit.providers.failures.status_error`.
_ERROR_TYPES = {
    "overloaded_error": "overloaded",
    "rate_limit_error": "rate_limit",
    "api_error": "server",
    "authentication_error": "auth",
    "permission_error": "auth",
    "not_found_error": "not_found",
    "invalid_request_error": "bad_request",
    "request_too_large": "bad_request",
}


class AnthropicProvider(HTTPProvider):
    """Streams one Messages API request at a time."""

    path = "/v1/messages"

    def __init__(self, endpoint: Endpoint, sender: Sender | None = None) -> None:
        headers = {"x-api-key": endpoint.api_key or "", "anthropic-version": API_VERSION}
        base_url = endpoint.base_url or "https://api.anthropic.com"
        super().__init__(endpoint, base_url, headers, sender)

    def accumulator(self) -> AnthropicAccumulator:
        return AnthropicAccumulator()

    def body(self, request: Request) -> MessageCreateParamsStreaming:
        """The request body; system and tools are built the same way each time, so the
        cached prefix is byte-identical between requests."""
        cache_control = _cache_control(request.cache_ttl)
        body: MessageCreateParamsStreaming = {
            "model": request.model,
            "max_tokens": request.max_tokens,
            "messages": _messages(request.messages, cache_control),
            "stream": True,
        }
        if request.system:
            body["system"] = [
                {"type": "text", "text": request.system, "cache_control": cache_control}
            ]
        if request.tools:
            tools: list[ToolParam] = [
                {"name": t.name, "description": t.description, "input_schema": t.parameters}
                for t in request.tools
            ]
            tools[-1]["cache_control"] = cache_control
            body["tools"] = tools
        return body


class AnthropicAccumulator(Accumulator):
    """A Messages stream reduced event by event; after ``message_stop`` or an ``error``
    event nothing more counts."""

    def __init__(self) -> None:
        super().__init__()
        self.counts: dict[str, Any] = {}
        """The last non-null value of each usage field."""
        self.open_calls: dict[int, PendingCall] = {}
        """Tool-use blocks being streamed, by index."""

    def take(self, event: dict[str, Any]) -> list[Event]:
        if self.ended is not None:
            return []
        kind = event.get("type")
        if kind == "content_block_delta":
            delta = event["delta"]
            delta_type = delta.get("type")
            if delta_type == "text_delta":
                return [self.say(delta["text"])]
            if delta_type == "thinking_delta":
                return [self.think(delta["thinking"])]
            if delta_type == "input_json_delta" and event["index"] in self.open_calls:
                self.open_calls[event["index"]].arguments.append(delta["partial_json"])
        elif kind == "content_block_start":
            block = event["content_block"]
            if block.get("type") == "tool_use":
                # A gateway may send the whole input in the start block instead of deltas.
                given = block.get("input")
                parts = [orjson.dumps(given).decode()] if given else []
                call = PendingCall(str(block.get("id", "")), str(block.get("name", "")), parts)
                self.open_calls[event["index"]] = call
        elif kind == "content_block_stop":
            pending = self.open_calls.pop(event["index"], None)
            if pending is not None:
                return [self.call(pending.whole())]
        elif kind == "message_start":
            message = event["message"]
            self.name_model(message.get("model"))
            self._take_usage(message.get("usage"), placeholder_output=True)
        elif kind == "message_delta":
            self.stop_reason = (event.get("delta") or {}).get("stop_reason")
            self._take_usage(event.get("usage"), placeholder_output=False)
        elif kind == "message_stop":
            self.end(Ended.COMPLETE)
        elif kind == "error":
            self.end(Ended.ERROR, _stream_error(event))
        return []

    def _take_usage(self, usage: object, *, placeholder_output: bool) -> None:
        if not isinstance(usage, dict):
            return
        self.raw_usage.append(usage)
        for key, value in usage.items():
            # message_start's output_tokens is a placeholder, not a measurement.
            if value is not None and not (placeholder_output and key.startswith("output_")):
                self.counts[key] = value

    def usage(self) -> Usage:
        """Anthropic's exclusive input made inclusive, compaction steps added."""
        u = self.counts
        input_tokens = int_or_none(u.get("input_tokens"))
        cache_read = cache_write = None
        if input_tokens is not None:
            cache_read = int_or_none(u.get("cache_read_input_tokens")) or 0
            cache_write = int_or_none(u.get("cache_creation_input_tokens")) or 0
            input_tokens += cache_read + cache_write
        output_tokens = int_or_none(u.get("output_tokens"))
        reasoning = None
        if output_tokens is not None:
            details = u.get("output_tokens_details") or {}
            reasoning = int_or_none(details.get("thinking_tokens")) or 0
        for step in _compactions(u):
            if input_tokens is not None and cache_read is not None and cache_write is not None:
                read = int_or_none(step.get("cache_read_input_tokens")) or 0
                write = int_or_none(step.get("cache_creation_input_tokens")) or 0
                input_tokens += (int_or_none(step.get("input_tokens")) or 0) + read + write
                cache_read += read
                cache_write += write
            if output_tokens is not None:
                output_tokens += int_or_none(step.get("output_tokens")) or 0
        return Usage.reported(input_tokens, cache_read, cache_write, output_tokens, reasoning)

    def extras(self) -> dict[str, Any]:
        u = self.counts
        extras: dict[str, Any] = {}
        # The cache-write split by lifetime, of the top level and of compaction steps alike.
        sources = [u, *_compactions(u)]
        splits = [c for c in (s.get("cache_creation") for s in sources) if isinstance(c, dict)]
        if splits:
            for key, field in (
                ("5m", "ephemeral_5m_input_tokens"),
                ("1h", "ephemeral_1h_input_tokens"),
            ):
                extras[f"cache_write_{key}"] = sum(int_or_none(s.get(field)) or 0 for s in splits)
        for key in ("server_tool_use", "service_tier", "iterations"):
            if u.get(key) is not None:
                extras[key] = u[key]
        return {**extras, **super().extras()}


def _stream_error(event: dict[str, Any]) -> RequestError:
    error = event.get("error") or {}
    error_type = str(error.get("type") or "error")
    message = str(error.get("message") or error_type)
    if context_refused(message):
        return context_error(message)
    return RequestError(_ERROR_TYPES.get(error_type, error_type), message)


def _compactions(usage: dict[str, Any]) -> list[dict[str, Any]]:
    # Beta: compaction steps are billed but left out of the top-level fields.
    steps = usage.get("iterations") or []
    return [s for s in steps if isinstance(s, dict) and s.get("type") == "compaction"]


def _cache_control(ttl: Literal["5m", "1h"]) -> CacheControlEphemeralParam:
    return {"type": "ephemeral", "ttl": "1h"} if ttl == "1h" else {"type": "ephemeral"}


def _messages(
    messages: Sequence[Message], cache_control: CacheControlEphemeralParam
) -> list[MessageParam]:
    """Provider-neutral messages as Anthropic's: tool results in a user message, no empty
    blocks, same-role neighbours merged, a cache breakpoint on the very last block."""
    turns: list[tuple[Literal["user", "assistant"], list[Block]]] = []
    for message in messages:
        role: Literal["user", "assistant"] = "assistant" if message.role == "assistant" else "user"
        blocks = _blocks(message)
        if not blocks:
            continue  # an assistant message interrupted before any text
        if turns and turns[-1][0] == role:
            turns[-1][1].extend(blocks)
        else:
            turns.append((role, blocks))
    if turns:
        turns[-1][1][-1]["cache_control"] = cache_control
    return [_message(role, blocks) for role, blocks in turns]


def _message(role: Literal["user", "assistant"], blocks: list[Block]) -> MessageParam:
    if role == "assistant":
        return {"role": "assistant", "content": blocks}
    return {"role": "user", "content": blocks}


def _blocks(message: Message) -> list[Block]:
    blocks: list[Block] = []
    for result in message.tool_results:
        block: ToolResultBlockParam = {"type": "tool_result", "tool_use_id": result.call_id}
        if result.content:
            block["content"] = result.content
        if result.is_error:
            block["is_error"] = True
        blocks.append(block)
    if message.text.strip():  # Anthropic rejects empty and whitespace-only text blocks
        blocks.append({"type": "text", "text": message.text})
    for call in message.tool_calls:
        try:
            arguments = call.parsed_arguments()
        except ValueError:
            arguments = {}
        blocks.append({"type": "tool_use", "id": call.id, "name": call.name, "input": arguments})
    return blocks
