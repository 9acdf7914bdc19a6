"""Builders of response bodies in the providers' real wire formats, for multi-request tests.

The recorded fixtures are the reference; these make new conversations (tool calls,
chosen usage) in the same event shapes the recordings show.
"""

from __future__ import annotations

import base64
import json
import struct
import zlib
from typing import Any


def _sse(event: str | None, data: dict[str, Any] | str) -> str:
    payload = data if isinstance(data, str) else json.dumps(data)
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {payload}\n\n"


def anthropic(
    text: str = "",
    tool_calls: list[tuple[str, str, dict[str, Any]]] = (),  # type: ignore[assignment]
    *,
    model: str = "claude-sonnet-4-5-20250929",
    input_tokens: int = 10,
    cache_read: int = 0,
    cache_write: int = 0,
    output_tokens: int = 5,
    stop: str | None = None,
    cache_split: tuple[int, int] | None = None,
    thinking: str = "",
) -> bytes:
    """An Anthropic Messages stream: thinking, text, then tool_use blocks, usage as the API
    sends it; ``stop`` names another stop reason (``max_tokens``); ``cache_split`` the
    5-minute and 1-hour parts of ``cache_write`` (the ``cache_creation`` object)."""
    usage: dict[str, Any] = {
        "input_tokens": input_tokens,
        "cache_creation_input_tokens": cache_write,
        "cache_read_input_tokens": cache_read,
        "output_tokens": 1,
    }
    if cache_split is not None:
        five, hour = cache_split
        usage["cache_creation"] = {
            "ephemeral_5m_input_tokens": five,
            "ephemeral_1h_input_tokens": hour,
        }
    msg = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": usage,
    }
    out = [_sse("message_start", {"type": "message_start", "message": msg})]
    index = 0
    blocks: list[tuple[str, dict[str, str], str, str]] = [
        ("thinking", {"thinking": "", "signature": ""}, "thinking_delta", thinking),
        ("text", {"text": ""}, "text_delta", text),
    ]
    for kind, empty, delta, content in blocks:
        if not content:
            continue
        start = {"type": kind, **empty}
        block = {"type": "content_block_start", "index": index, "content_block": start}
        out.append(_sse("content_block_start", block))
        for i in range(0, len(content), 8):
            out.append(
                _sse(
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": index,
                        "delta": {"type": delta, kind: content[i : i + 8]},
                    },
                )
            )
        if kind == "thinking":
            signed = {"type": "signature_delta", "signature": "c2lnbmVk"}
            out.append(
                _sse(
                    "content_block_delta",
                    {"type": "content_block_delta", "index": index, "delta": signed},
                )
            )
        out.append(_sse("content_block_stop", {"type": "content_block_stop", "index": index}))
        index += 1
    for n, (call_id, name, args) in enumerate(tool_calls, start=index):
        out.append(
            _sse(
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": n,
                    "content_block": {"type": "tool_use", "id": call_id, "name": name, "input": {}},
                },
            )
        )
        raw = json.dumps(args)
        for i in range(0, len(raw), 10):
            out.append(
                _sse(
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": n,
                        "delta": {"type": "input_json_delta", "partial_json": raw[i : i + 10]},
                    },
                )
            )
        out.append(_sse("content_block_stop", {"type": "content_block_stop", "index": n}))
    stop = stop or ("tool_use" if tool_calls else "end_turn")
    out.append(
        _sse(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop, "stop_sequence": None},
                "usage": {"output_tokens": output_tokens},
            },
        )
    )
    out.append(_sse("message_stop", {"type": "message_stop"}))
    return "".join(out).encode()


def openai_chat(
    text: str = "",
    tool_calls: list[tuple[str, str, dict[str, Any]]] = (),  # type: ignore[assignment]
    *,
    model: str = "gpt-4.1-2025-04-14",
    prompt_tokens: int = 10,
    cached: int = 0,
    completion_tokens: int = 5,
    finish: str | None = None,
) -> bytes:
    """An OpenAI Chat Completions stream with the usage chunk stream_options asks for;
    ``finish`` names another finish reason (``length``)."""
    base = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": model}

    def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        return _sse(None, {**base, "choices": [choice], "usage": None})

    out = [chunk({"role": "assistant", "content": ""})]
    for i in range(0, len(text), 8):
        out.append(chunk({"content": text[i : i + 8]}))
    for n, (call_id, name, args) in enumerate(tool_calls):
        out.append(
            chunk(
                {
                    "tool_calls": [
                        {
                            "index": n,
                            "id": call_id,
                            "type": "function",
                            "function": {"name": name, "arguments": ""},
                        }
                    ]
                }
            )
        )
        out.append(
            chunk({"tool_calls": [{"index": n, "function": {"arguments": json.dumps(args)}}]})
        )
    out.append(chunk({}, finish or ("tool_calls" if tool_calls else "stop")))
    usage = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "prompt_tokens_details": {"cached_tokens": cached},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }
    out.append(_sse(None, {**base, "choices": [], "usage": usage}))
    out.append(_sse(None, "[DONE]"))
    return "".join(out).encode()


# AWS event-stream framing, as Bedrock's invoke-with-response-stream sends it (the format
# botocore.eventstream decodes): per message a prelude (total length, headers length, CRC32
# of the two), string headers, the payload, and a CRC32 of all of it.


def aws_message(headers: dict[str, str], payload: bytes) -> bytes:
    """One AWS event-stream message with string-valued headers."""
    head = b"".join(
        bytes([len(name)])
        + name.encode()
        + b"\x07"
        + struct.pack("!H", len(value))
        + value.encode()
        for name, value in headers.items()
    )
    prelude = struct.pack("!II", 12 + len(head) + len(payload) + 4, len(head))
    message = prelude + struct.pack("!I", zlib.crc32(prelude)) + head + payload
    return message + struct.pack("!I", zlib.crc32(message))


def aws_chunk(event: dict[str, Any] | str) -> bytes:
    """A Bedrock ``chunk`` message carrying one Anthropic event's JSON, base64 in ``bytes``
    (with the random ``p`` padding Bedrock adds)."""
    data = event if isinstance(event, str) else json.dumps(event)
    payload = {"bytes": base64.b64encode(data.encode()).decode(), "p": "abcdefghij"}
    headers = {":event-type": "chunk", ":content-type": "application/json"}
    return aws_message({**headers, ":message-type": "event"}, json.dumps(payload).encode())


def aws_exception(kind: str, message: str) -> bytes:
    """A Bedrock exception message in the stream (``throttlingException`` ...)."""
    headers = {":exception-type": kind, ":content-type": "application/json"}
    payload = json.dumps({"message": message}).encode()
    return aws_message({**headers, ":message-type": "exception"}, payload)


def sse_data(body: bytes) -> list[str]:
    """The data of each server-sent event of a body, in order."""
    events = body.decode().replace("\r\n", "\n").split("\n\n")
    datas = (
        "\n".join(line[5:].lstrip() for line in block.split("\n") if line.startswith("data:"))
        for block in events
    )
    return [data for data in datas if data]


def bedrock(sse_body: bytes) -> bytes:
    """An Anthropic server-sent-event body re-framed as Bedrock streams it."""
    return b"".join(aws_chunk(data) for data in sse_data(sse_body))


def openai_responses(
    text: str = "",
    tool_calls: list[tuple[str, str, dict[str, Any]]] = (),  # type: ignore[assignment]
    *,
    model: str = "gpt-5-mini-2025-08-07",
    input_tokens: int = 10,
    cached: int = 0,
    output_tokens: int = 5,
    incomplete: str | None = None,
) -> bytes:
    """An OpenAI Responses stream: text, then function calls, then ``response.completed``,
    or ``response.incomplete`` with the reason ``incomplete`` names."""
    response = {"id": "resp_1", "object": "response", "model": model, "status": "in_progress"}
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": {**response, "output": [], "usage": None}}
    ]
    output: list[dict[str, Any]] = []
    if text:
        where = {"item_id": "msg_1", "output_index": 0, "content_index": 0}
        events += [
            {"type": "response.output_text.delta", **where, "delta": text[i : i + 8]}
            for i in range(0, len(text), 8)
        ]
        item = {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": text, "annotations": []}],
        }
        events.append({"type": "response.output_item.done", "output_index": 0, "item": item})
        output.append(item)
    for call_id, name, args in tool_calls:
        item = {
            "id": f"fc_{call_id}",
            "type": "function_call",
            "call_id": call_id,
            "name": name,
            "arguments": json.dumps(args),
            "status": "completed",
        }
        index = len(output)
        events.append({"type": "response.output_item.done", "output_index": index, "item": item})
        output.append(item)
    usage = {
        "input_tokens": input_tokens,
        "input_tokens_details": {"cached_tokens": cached},
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": input_tokens + output_tokens,
    }
    status = "incomplete" if incomplete else "completed"
    details = {"reason": incomplete} if incomplete else None
    done = {**response, "status": status, "output": output, "usage": usage}
    events.append(
        {"type": f"response.{status}", "response": {**done, "incomplete_details": details}}
    )
    return "".join(
        _sse(e["type"], {**e, "sequence_number": n}) for n, e in enumerate(events)
    ).encode()


def ollama(
    text: str = "",
    *,
    model: str = "qwen3:8b",
    prompt_eval_count: int = 10,
    eval_count: int = 5,
    done_reason: str = "stop",
) -> bytes:
    """An Ollama ``/api/chat`` stream: one line per piece of text, then the done line."""
    lines = [
        {
            "model": model,
            "message": {"role": "assistant", "content": text[i : i + 8]},
            "done": False,
        }
        for i in range(0, len(text), 8)
    ]
    lines.append(
        {
            "model": model,
            "message": {"role": "assistant", "content": ""},
            "done_reason": done_reason,
            "done": True,
            "prompt_eval_count": prompt_eval_count,
            "eval_count": eval_count,
            "eval_duration": 100_000_000,
        }
    )
    return b"".join(json.dumps(line).encode() + b"\n" for line in lines)
