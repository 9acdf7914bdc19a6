"""Ollama ``/api/chat``: NDJSON lines read from the ``ollama`` client's own HTTP client.

The ``ollama`` package resolves the host (``OLLAMA_HOST`` forms, default port) and sets the
headers; chit posts through its ``httpx`` client and decodes each line with orjson. The
package's typed ``ChatResponse`` drops ``prompt_eval_cached_count``, so it is not used.
Counters come only on the ``done: true`` line (spec/usage.md); an absent count is unknown.
"""

from __future__ import annotations

import contextlib
from collections.abc import Generator, Iterable, Iterator
from typing import Any

import httpx
import ollama
import orjson

from chit.messages import (
    AssistantTurn,
    Ended,
    Event,
    ReasoningDelta,
    RequestError,
    TextDelta,
    ToolCall,
    ToolCallEvent,
)
from chit.providers.base import MAX_ERROR_BODY, Endpoint, Request, decode, status_error
from chit.usage import Usage

#: The timings of the done line, in nanoseconds.
_DURATIONS = ("total_duration", "load_duration", "prompt_eval_duration", "eval_duration")


class OllamaProvider:
    """Streams one ``/api/chat`` request at a time to an Ollama server."""

    name = "ollama"

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self._ollama = ollama.Client(host=endpoint.base_url, timeout=endpoint.timeout)
        self._http: httpx.Client = self._ollama._client

    def __del__(self) -> None:
        # As the openai and anthropic clients do: pooled connections close with the provider.
        with contextlib.suppress(Exception):
            self._http.close()

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
        except httpx.TransportError as err:
            if acc.opened:
                # The body was cut. After the done line the answer is whole, and an error
                # line that came first says more.
                if not acc.done and acc.error is None:
                    message = f"the connection failed mid-response ({type(err).__name__}: {err})"
                    acc.end(Ended.INTERRUPTED, RequestError("connection", message))
            else:
                what = "timed out" if isinstance(err, httpx.TimeoutException) else "failed"
                message = f"connection to Ollama at {self._http.base_url} {what}: {err}"
                hint = "" if what == "timed out" else " (is `ollama serve` running?)"
                acc.end(Ended.ERROR, RequestError("connection", message + hint))
        except Exception as err:  # a malformed stream must still end with a record
            acc.end(Ended.ERROR, RequestError("bad_response", f"{type(err).__name__}: {err}"))
        yield acc.turn(request.model)

    def _read(self, request: Request, acc: _Accumulator) -> Iterator[Event]:
        content = orjson.dumps(self.body(request))
        with self._http.stream("POST", "/api/chat", content=content) as response:
            acc.opened = True
            if response.status_code >= 400:
                body = _bounded_body(response.iter_bytes())
                acc.end(Ended.ERROR, status_error(response.status_code, body, ""))
                return
            # Servers send this as application/x-ndjson or application/json: the body decides.
            pending = b""
            try:
                for chunk in response.iter_bytes():
                    *lines, pending = (pending + chunk).split(b"\n")
                    for line in lines:
                        yield from acc.take_line(line)
            except httpx.TransportError:
                # A last line that arrived whole counts, though its newline did not.
                yield from acc.take_line(pending)
                raise
            yield from acc.take_line(pending)
        if not acc.done and acc.error is None:
            message = "the stream ended before the done line"
            acc.end(Ended.INTERRUPTED, RequestError("connection", message))

    def body(self, request: Request) -> dict[str, Any]:
        """The JSON body of ``/api/chat`` for a request."""
        body: dict[str, Any] = {
            "model": request.model,
            "messages": _messages(request),
            "stream": True,
            "options": {"num_predict": request.max_tokens},
        }
        if request.tools:
            body["tools"] = [
                {
                    "type": "function",
                    "function": {
                        "name": t.name,
                        "description": t.description,
                        "parameters": t.parameters,
                    },
                }
                for t in request.tools
            ]
        return body


def _messages(request: Request) -> list[dict[str, Any]]:
    """Provider-neutral messages in Ollama's chat shape, system prompt first."""
    out: list[dict[str, Any]] = []
    if request.system:
        out.append({"role": "system", "content": request.system})
    for message in request.messages:
        if message.role == "user":
            out.append({"role": "user", "content": message.text})
        elif message.role == "assistant":
            item: dict[str, Any] = {"role": "assistant", "content": message.text}
            if message.tool_calls:
                item["tool_calls"] = [
                    {"id": c.id, "function": {"name": c.name, "arguments": _arguments(c)}}
                    for c in message.tool_calls
                ]
            out.append(item)
        else:
            # Ollama matches results by tool name; newer servers also read the call id.
            out.extend(
                {
                    "role": "tool",
                    "content": r.content,
                    "tool_name": r.name,
                    "tool_call_id": r.call_id,
                }
                for r in message.tool_results
            )
    return out


def _arguments(call: ToolCall) -> dict[str, Any]:
    # Ollama wants an object; arguments the model wrote as invalid JSON go back empty.
    try:
        return call.parsed_arguments()
    except ValueError:
        return {}


def _bounded_body(chunks: Iterable[bytes]) -> bytes:
    """At most ``MAX_ERROR_BODY`` bytes of an error body; the rest is never read."""
    parts: list[bytes] = []
    size = 0
    for chunk in chunks:
        parts.append(chunk)
        size += len(chunk)
        if size >= MAX_ERROR_BODY:
            break
    return b"".join(parts)[:MAX_ERROR_BODY]


class _Accumulator:
    """What one response has said so far; becomes the ``AssistantTurn`` however it ends."""

    def __init__(self) -> None:
        self.opened = False
        self.done = False
        self.text: list[str] = []
        self.reasoning: list[str] = []
        self.calls: list[ToolCall] = []
        self.last: dict[str, Any] | None = None
        self.model: str | None = None
        self.ended = Ended.COMPLETE
        self.error: RequestError | None = None

    def end(self, ended: Ended, error: RequestError) -> None:
        self.ended, self.error = ended, error

    def take_line(self, line: bytes) -> Iterator[Event]:
        """Take one NDJSON line; after the done line or an error nothing more counts (the
        body is still read to its end, so the connection can be reused)."""
        if self.done or self.error is not None:
            return
        part = decode(line) if line.strip() else None
        if part is not None:
            yield from self.take(part)

    def take(self, part: dict[str, Any]) -> Iterator[Event]:
        """Take one line: its model, message pieces, and on the done line the counters."""
        error = part.get("error")
        if error:
            said = error if isinstance(error, str) else orjson.dumps(error).decode()
            self.end(Ended.ERROR, RequestError("server", f"Ollama reported an error: {said}"))
            return
        model = part.get("model")
        if model and isinstance(model, str):
            self.model = model
        message = part.get("message")
        if isinstance(message, dict):
            thinking = message.get("thinking")
            if thinking and isinstance(thinking, str):
                self.reasoning.append(thinking)
                yield ReasoningDelta(thinking)
            content = message.get("content")
            if content and isinstance(content, str):
                self.text.append(content)
                yield TextDelta(content)
            for raw in message.get("tool_calls") or ():
                call = self._call(raw)
                if call is not None:
                    self.calls.append(call)
                    yield ToolCallEvent(call)
        if part.get("done") is True:
            self.done = True
            self.last = part

    def _call(self, raw: object) -> ToolCall | None:
        # Each tool call arrives whole; older servers give it no id, so one is made by order.
        if not isinstance(raw, dict):
            return None
        function = raw.get("function")
        if not isinstance(function, dict) or not function.get("name"):
            return None
        raw_arguments = function.get("arguments")
        if isinstance(raw_arguments, str):
            arguments = raw_arguments
        else:
            arguments = orjson.dumps(raw_arguments if raw_arguments is not None else {}).decode()
        call_id = raw.get("id")
        if not call_id or not isinstance(call_id, str):
            call_id = f"call_{len(self.calls)}"
        return ToolCall(call_id, str(function["name"]), arguments)

    def turn(self, model_requested: str) -> AssistantTurn:
        """The final record of the request, however it ended."""
        extras: dict[str, Any] = {}
        usage = Usage.reported()
        stop_reason = None
        if self.last is not None:
            last = self.last
            usage = Usage.reported(
                _int(last.get("prompt_eval_count")),
                _int(last.get("prompt_eval_cached_count")) or 0,
                0,
                _int(last.get("eval_count")),
                0,
            )
            reason = last.get("done_reason")
            stop_reason = reason if isinstance(reason, str) and reason else None
            durations = {k: d for k in _DURATIONS if (d := _int(last.get(k))) is not None}
            if durations:
                extras["durations_ns"] = durations
            generated, spent = usage.output_tokens, durations.get("eval_duration")
            if generated is not None and spent:
                extras["tokens_per_second"] = generated / (spent / 1e9)
            extras["raw_usage"] = [
                {k: v for k, v in last.items() if k.endswith(("_count", "_duration"))}
            ]
        return AssistantTurn(
            provider="ollama",
            model_requested=model_requested,
            usage=usage,
            model=self.model,
            text="".join(self.text),
            reasoning="".join(self.reasoning),
            tool_calls=tuple(self.calls),
            stop_reason=stop_reason,
            ended=self.ended,
            error=self.error,
            extras=extras,
        )


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
