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
) -> bytes:
    """An Anthropic Messages stream: text, then tool_use blocks, usage as the API sends it."""
    usage = {
        "input_tokens": input_tokens,
        "cache_creation_input_tokens": cache_write,
        "cache_read_input_tokens": cache_read,
        "output_tokens": 1,
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
    if text:
        out.append(
            _sse(
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": 0,
                    "content_block": {"type": "text", "text": ""},
                },
            )
        )
        for i in range(0, len(text), 8):
            out.append(
                _sse(
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": 0,
                        "delta": {"type": "text_delta", "text": text[i : i + 8]},
                    },
                )
            )
        out.append(_sse("content_block_stop", {"type": "content_block_stop", "index": 0}))
        index = 1
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
    stop = "tool_use" if tool_calls else "end_turn"
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
) -> bytes:
    """An OpenAI Chat Completions stream with the usage chunk stream_options asks for."""
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
    out.append(chunk({}, "tool_calls" if tool_calls else "stop"))
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
