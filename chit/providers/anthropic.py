"""Anthropic Messages API: the official SDK makes the request, chit reads the raw event stream.

The SDK keeps auth, base URL, retries and status errors; the body is framed as server-sent
events and decoded with orjson, several times faster than the SDK's typed event objects.
Usage follows spec/usage.md: last non-null value per field, never summed, the
``message_start`` output placeholder ignored, compaction iterations added.
"""

from __future__ import annotations

import warnings
import weakref
from collections.abc import Generator, Iterator, Sequence
from contextlib import ExitStack
from typing import Any

import anthropic
import httpx2
import orjson
from anthropic import APIRequest, APIResponse, CallNext

from chit.messages import (
    AssistantTurn,
    Ended,
    Event,
    Message,
    ReasoningDelta,
    RequestError,
    TextDelta,
    ToolCall,
    ToolCallEvent,
)
from chit.providers._http import bound_error_body, read_error_body
from chit.providers.base import Endpoint, Request, decode, sse_events, status_error
from chit.usage import Usage

#: Anthropic's error types, in the short names of :func:`chit.providers.base.status_error`.
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


class AnthropicProvider:
    """Streams one Messages API request at a time through the ``anthropic`` SDK."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self._client = anthropic.Anthropic(
            api_key=endpoint.api_key,
            base_url=endpoint.base_url,
            max_retries=endpoint.max_retries,
            timeout=endpoint.timeout,
            middleware=[_bound_error_body],
        )
        # Close pooled connections as soon as the provider goes, not whenever the cyclic
        # garbage collector reaches the client (an unclosed socket is a ResourceWarning).
        self.close = weakref.finalize(self, self._client.close)

    def stream(self, request: Request) -> Generator[Event, None, None]:
        """Yield text, reasoning and tool-call events, then exactly one ``AssistantTurn``.

        Ctrl-C (raised in a read, or thrown in at a yield) closes the response and ends
        the stream with the turn marked interrupted, holding exactly the usage that arrived.
        """
        acc = _Accumulator()
        try:
            yield from self._read(request, acc)
        except KeyboardInterrupt:
            acc.end(Ended.INTERRUPTED, RequestError("interrupted", "interrupted by the user"))
        except anthropic.APIStatusError as err:
            body = read_error_body(err.response)
            acc.end(Ended.ERROR, status_error(err.status_code, body, self.endpoint.api_key_env))
        except anthropic.APIConnectionError as err:
            what = "timed out" if isinstance(err, anthropic.APITimeoutError) else "failed"
            where = self.endpoint.base_url or "api.anthropic.com"
            cause = f": {err.__cause__}" if err.__cause__ else ""
            acc.end(Ended.ERROR, RequestError("connection", f"connection to {where} {what}{cause}"))
        except httpx2.HTTPError as err:
            # Mid-body, the SDK no longer wraps transport errors: the stream was cut. After
            # message_stop the message is whole, and a late transport error changes nothing.
            if acc.ended is not Ended.COMPLETE:
                ended = Ended.INTERRUPTED if acc.opened else Ended.ERROR
                message = f"the connection failed mid-response ({type(err).__name__}: {err})"
                acc.end(ended, RequestError("connection", message))
        except Exception as err:  # a malformed stream must still end with a record
            acc.end(Ended.ERROR, RequestError("bad_response", f"{type(err).__name__}: {err}"))
        yield acc.turn(request.model)

    def _read(self, request: Request, acc: _Accumulator) -> Iterator[Event]:
        with ExitStack() as stack:
            with warnings.catch_warnings():
                # The SDK warns about retired model names; the provider's answer says more.
                warnings.simplefilter("ignore", DeprecationWarning)
                response = stack.enter_context(
                    self._client.messages.with_streaming_response.create(
                        **self._params(request), stream=True
                    )
                )
            acc.opened = True
            for name, data in sse_events(response.http_response):
                event = decode(data)
                if event is None:
                    continue
                kind = event.get("type", name)
                if kind == "content_block_delta":
                    delta = event["delta"]
                    delta_type = delta.get("type")
                    if delta_type == "text_delta":
                        acc.text.append(delta["text"])
                        yield TextDelta(delta["text"])
                    elif delta_type == "thinking_delta":
                        acc.reasoning.append(delta["thinking"])
                        yield ReasoningDelta(delta["thinking"])
                    elif delta_type == "input_json_delta" and event["index"] in acc.open_calls:
                        acc.open_calls[event["index"]][2].append(delta["partial_json"])
                elif kind == "content_block_start":
                    block = event["content_block"]
                    if block.get("type") == "tool_use":
                        acc.start_call(event["index"], block)
                elif kind == "content_block_stop":
                    call = acc.finish_call(event["index"])
                    if call is not None:
                        yield ToolCallEvent(call)
                elif kind == "message_start":
                    message = event["message"]
                    acc.model = message.get("model")
                    acc.take_usage(message.get("usage"), placeholder_output=True)
                elif kind == "message_delta":
                    acc.stop_reason = (event.get("delta") or {}).get("stop_reason")
                    acc.take_usage(event.get("usage"), placeholder_output=False)
                elif kind == "message_stop":
                    # Read on to the end of the body so the connection can be reused.
                    acc.ended = Ended.COMPLETE
                elif kind == "error":
                    acc.end(Ended.ERROR, _stream_error(event))
                    return
        if acc.ended is None:
            cut = RequestError("connection", "the stream ended before message_stop")
            acc.end(Ended.INTERRUPTED, cut)

    def _params(self, request: Request) -> dict[str, Any]:
        """The request body; system and tools are built the same way each time, so the
        cached prefix is byte-identical between requests."""
        cache_control = _cache_control(request.cache_ttl)
        params: dict[str, Any] = {
            "model": request.model,
            "max_tokens": request.max_tokens,
            "messages": _messages(request.messages, cache_control),
        }
        if request.system:
            params["system"] = [
                {"type": "text", "text": request.system, "cache_control": cache_control}
            ]
        if request.tools:
            tools: list[dict[str, Any]] = [
                {"name": t.name, "description": t.description, "input_schema": t.parameters}
                for t in request.tools
            ]
            tools[-1]["cache_control"] = cache_control
            params["tools"] = tools
        return params


class _Accumulator:
    """The running state of one stream: what arrived so far, and how it ended."""

    def __init__(self) -> None:
        self.opened = False
        self.model: str | None = None
        self.usage: dict[str, Any] = {}  # last non-null value of each usage field
        self.raw_usage: list[dict[str, Any]] = []
        self.text: list[str] = []
        self.reasoning: list[str] = []
        self.open_calls: dict[int, tuple[str, str, list[str]]] = {}
        self.tool_calls: list[ToolCall] = []
        self.stop_reason: str | None = None
        self.ended: Ended | None = None
        self.error: RequestError | None = None

    def end(self, ended: Ended, error: RequestError) -> None:
        self.ended, self.error = ended, error

    def take_usage(self, usage: object, *, placeholder_output: bool) -> None:
        if not isinstance(usage, dict):
            return
        self.raw_usage.append(usage)
        for key, value in usage.items():
            # message_start's output_tokens is a placeholder, not a measurement.
            if value is not None and not (placeholder_output and key.startswith("output_")):
                self.usage[key] = value

    def start_call(self, index: int, block: dict[str, Any]) -> None:
        # A gateway may send the whole input in the start block instead of deltas.
        given = block.get("input")
        parts = [orjson.dumps(given).decode()] if given else []
        self.open_calls[index] = (str(block.get("id", "")), str(block.get("name", "")), parts)

    def finish_call(self, index: int) -> ToolCall | None:
        pending = self.open_calls.pop(index, None)
        if pending is None:
            return None
        call_id, name, parts = pending
        call = ToolCall(call_id, name, "".join(parts) or "{}")
        self.tool_calls.append(call)
        return call

    def normalized(self) -> Usage:
        """The usage record: Anthropic's exclusive input made inclusive, compaction added."""
        u = self.usage
        input_tokens = _int(u.get("input_tokens"))
        cache_read = cache_write = None
        if input_tokens is not None:
            cache_read = _int(u.get("cache_read_input_tokens")) or 0
            cache_write = _int(u.get("cache_creation_input_tokens")) or 0
            input_tokens += cache_read + cache_write
        output_tokens = _int(u.get("output_tokens"))
        reasoning = None
        if output_tokens is not None:
            details = u.get("output_tokens_details") or {}
            reasoning = _int(details.get("thinking_tokens")) or 0
        for step in _compactions(u):
            if input_tokens is not None and cache_read is not None and cache_write is not None:
                read = _int(step.get("cache_read_input_tokens")) or 0
                write = _int(step.get("cache_creation_input_tokens")) or 0
                input_tokens += (_int(step.get("input_tokens")) or 0) + read + write
                cache_read += read
                cache_write += write
            if output_tokens is not None:
                output_tokens += _int(step.get("output_tokens")) or 0
        return Usage.reported(input_tokens, cache_read, cache_write, output_tokens, reasoning)

    def extras(self) -> dict[str, Any]:
        u = self.usage
        extras: dict[str, Any] = {}
        # The cache-write split by lifetime, of the top level and of compaction steps alike.
        sources = [u, *_compactions(u)]
        splits = [c for c in (s.get("cache_creation") for s in sources) if isinstance(c, dict)]
        if splits:
            for key, field in (
                ("5m", "ephemeral_5m_input_tokens"),
                ("1h", "ephemeral_1h_input_tokens"),
            ):
                extras[f"cache_write_{key}"] = sum(_int(s.get(field)) or 0 for s in splits)
        for key in ("server_tool_use", "service_tier", "iterations"):
            if u.get(key) is not None:
                extras[key] = u[key]
        extras["raw_usage"] = self.raw_usage
        return extras

    def turn(self, model_requested: str) -> AssistantTurn:
        return AssistantTurn(
            provider="anthropic",
            model_requested=model_requested,
            usage=self.normalized(),
            model=self.model,
            text="".join(self.text),
            reasoning="".join(self.reasoning),
            tool_calls=tuple(self.tool_calls),
            stop_reason=self.stop_reason,
            ended=self.ended or Ended.INTERRUPTED,
            error=self.error,
            extras=self.extras(),
        )


def _stream_error(event: dict[str, Any]) -> RequestError:
    error = event.get("error") or {}
    error_type = str(error.get("type") or "error")
    message = str(error.get("message") or error_type)
    return RequestError(_ERROR_TYPES.get(error_type, error_type), message)


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _compactions(usage: dict[str, Any]) -> list[dict[str, Any]]:
    # Beta: compaction steps are billed but left out of the top-level fields.
    steps = usage.get("iterations") or []
    return [s for s in steps if isinstance(s, dict) and s.get("type") == "compaction"]


def _cache_control(ttl: str) -> dict[str, str]:
    return {"type": "ephemeral", "ttl": "1h"} if ttl == "1h" else {"type": "ephemeral"}


def _messages(messages: Sequence[Message], cache_control: dict[str, str]) -> list[dict[str, Any]]:
    """Provider-neutral messages as Anthropic's: tool results in a user message, no empty
    blocks, same-role neighbours merged, a cache breakpoint on the very last block."""
    out: list[dict[str, Any]] = []
    for message in messages:
        role = "assistant" if message.role == "assistant" else "user"
        blocks = _blocks(message)
        if not blocks:
            continue  # an assistant message interrupted before any text
        if out and out[-1]["role"] == role:
            out[-1]["content"].extend(blocks)
        else:
            out.append({"role": role, "content": blocks})
    if out:
        content = out[-1]["content"]
        content[-1] = {**content[-1], "cache_control": cache_control}
    return out


def _blocks(message: Message) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    for result in message.tool_results:
        block: dict[str, Any] = {"type": "tool_result", "tool_use_id": result.call_id}
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


def _bound_error_body(request: APIRequest, call_next: CallNext) -> APIResponse[Any]:
    """SDK middleware: the SDK then reads at most ``MAX_ERROR_BODY`` bytes of an error body."""
    response = call_next(request)
    bound_error_body(response.http_response)
    return response
