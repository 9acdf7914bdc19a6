"""Ollama ``/api/chat``: a stream of NDJSON lines, each decoded with orjson.

The host is resolved as the ``ollama`` package resolves it (``OLLAMA_HOST`` forms, default
port); the package's typed ``ChatResponse`` drops ``prompt_eval_cached_count``, so it is not
used. Counters come only on the ``done: true`` line (spec/usage.md); an absent count is
unknown.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson

from chit.messages import Ended, Event, RequestError, ToolCall
from chit.providers.base import (
    Accumulator,
    HTTPProvider,
    Sender,
    function_tools,
    int_or_none,
)
from chit.providers.contract import Endpoint, Request
from chit.providers.failures import context_error, context_refused
from chit.providers.framing import ndjson_events
from chit.usage import Usage

#: The timings of the done line, in nanoseconds.
_DURATIONS = ("total_duration", "load_duration", "prompt_eval_duration", "eval_duration")
DEFAULT_PORT = 11434


class OllamaProvider(HTTPProvider):
    """Streams one ``/api/chat`` request at a time to an Ollama server."""

    path = "/api/chat"
    unreachable_hint = " (is `ollama serve` running?)"

    def __init__(self, endpoint: Endpoint, sender: Sender | None = None) -> None:
        headers = {"accept": "application/json"}
        if endpoint.api_key:  # OLLAMA_API_KEY, for ollama.com
            headers["authorization"] = f"Bearer {endpoint.api_key}"
        super().__init__(endpoint, parse_host(endpoint.base_url), headers, sender)

    def accumulator(self) -> OllamaAccumulator:
        return OllamaAccumulator()

    def events(self, response: httpx.Response) -> Iterator[dict[str, Any]]:
        # Servers send application/x-ndjson or application/json: the body decides.
        return ndjson_events(response)

    def body(self, request: Request) -> dict[str, Any]:
        """The JSON body of ``/api/chat`` for a request."""
        body: dict[str, Any] = {
            "model": request.model,
            "messages": _messages(request),
            "stream": True,
            "options": {"num_predict": request.max_tokens},
        }
        if request.tools:
            body["tools"] = function_tools(request.tools)
        return body


def parse_host(host: str | None) -> str:
    """The base URL of an ``OLLAMA_HOST`` value, as the ``ollama`` package's ``_parse_host``
    reads it: a missing scheme is ``http``, a missing port 11434 (80 or 443 with an
    explicit scheme), a missing host 127.0.0.1; ``0.0.0.0`` and paths are kept."""
    host, port = host or "", DEFAULT_PORT
    scheme, _, hostport = host.partition("://")
    if not hostport:
        scheme, hostport = "http", host
    elif scheme == "http":
        port = 80
    elif scheme == "https":
        port = 443
    split = urlsplit(f"{scheme}://{hostport}")
    name = split.hostname or "127.0.0.1"
    port = split.port or port
    try:
        if isinstance(ipaddress.ip_address(name), ipaddress.IPv6Address):
            name = f"[{name}]"  # urlsplit drops the brackets
    except ValueError:
        pass  # a host name
    path = split.path.strip("/")
    return f"{scheme}://{name}:{port}/{path}" if path else f"{scheme}://{name}:{port}"


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


class OllamaAccumulator(Accumulator):
    """An Ollama stream reduced line by line; after the done line or an error line nothing
    more counts."""

    def __init__(self) -> None:
        super().__init__()
        self.last: dict[str, Any] | None = None
        """The done line, with the counters."""

    def take(self, event: dict[str, Any]) -> list[Event]:
        if self.ended is not None:
            return []
        error = event.get("error")
        if error:
            said = error if isinstance(error, str) else orjson.dumps(error).decode()
            if context_refused(said):
                self.end(Ended.ERROR, context_error(said))
            else:
                self.end(Ended.ERROR, RequestError("server", f"Ollama reported an error: {said}"))
            return []
        self.name_model(event.get("model"))
        out: list[Event] = []
        message = event.get("message")
        if isinstance(message, dict):
            thinking = message.get("thinking")
            if thinking and isinstance(thinking, str):
                out.append(self.think(thinking))
            content = message.get("content")
            if content and isinstance(content, str):
                out.append(self.say(content))
            for raw in message.get("tool_calls") or ():
                call = self._call(raw)
                if call is not None:
                    out.append(self.call(call))
        if event.get("done") is True:
            self.end(Ended.COMPLETE)
            self.last = event
            reason = event.get("done_reason")
            self.stop_reason = reason if isinstance(reason, str) and reason else None
            counters = {k: v for k, v in event.items() if k.endswith(("_count", "_duration"))}
            self.raw_usage = [counters]
        return out

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
            call_id = f"call_{len(self.tool_calls)}"
        return ToolCall(call_id, str(function["name"]), arguments)

    def usage(self) -> Usage:
        last = self.last
        if last is None:
            return Usage.reported()
        return Usage.reported(
            int_or_none(last.get("prompt_eval_count")),
            int_or_none(last.get("prompt_eval_cached_count")) or 0,
            0,
            int_or_none(last.get("eval_count")),
            0,
        )

    def extras(self) -> dict[str, Any]:
        extras: dict[str, Any] = {}
        if self.last is not None:
            durations = {
                k: d for k in _DURATIONS if (d := int_or_none(self.last.get(k))) is not None
            }
            if durations:
                extras["durations_ns"] = durations
            generated, spent = self.usage().output_tokens, durations.get("eval_duration")
            if generated is not None and spent:
                extras["tokens_per_second"] = generated / (spent / 1e9)
        return {**extras, **super().extras()}
