"""Limits, the same in every wire format, through the real providers and the replay server:
an answer cut by the output limit says so (``AssistantTurn.truncated``), and a conversation
too long for the model's context window is refused as ``context_length``. And the Responses
API's input items, in the typed form every server reads, over a real tool round trip.
"""

from __future__ import annotations

import json
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
import wire
from helpers import endpoint_for, final, make_agent, run_turn, user
from replay import ReplayServer, Reply

from chit.agent import ToolDone
from chit.messages import AssistantTurn, Ended, Event
from chit.providers import Request, connect
from chit.usage import Usage

NDJSON = "application/x-ndjson"
ZERO = Usage.reported(0, 0, 0, 0, 0)


def ask(server: ReplayServer, api: str) -> list[Event]:
    with closing(connect(endpoint_for(api, server, max_retries=0))) as provider:
        return list(provider.stream(Request("m", user())))


def sse(data: dict[str, Any]) -> bytes:
    return f"event: {data['type']}\ndata: {json.dumps(data)}\n\n".encode()


# The output limit

CUT_AT_THE_LIMIT = [
    ("anthropic_messages", wire.anthropic("Part of", stop="max_tokens"), "max_tokens"),
    ("openai_chat", wire.openai_chat("Part of", finish="length"), "length"),
    (
        "openai_responses",
        wire.openai_responses("Part of", incomplete="max_output_tokens"),
        "max_output_tokens",
    ),
    ("ollama_chat", wire.ollama("Part of", done_reason="length"), "length"),
]


@pytest.mark.parametrize(("api", "data", "reason"), CUT_AT_THE_LIMIT, ids=lambda v: str(v)[:20])
def test_an_answer_cut_at_the_output_limit_is_truncated(
    api: str, data: bytes, reason: str, replay: ReplayServer
) -> None:
    content_type = NDJSON if api == "ollama_chat" else "text/event-stream"
    replay.queue(Reply(body=data, content_type=content_type))
    turn = final(ask(replay, api))
    # The request itself completed, and was billed in full.
    assert (turn.ended, turn.error, turn.text) == (Ended.COMPLETE, None, "Part of")
    assert turn.stop_reason == reason
    assert turn.truncated
    assert turn.usage.complete


@pytest.mark.parametrize(
    ("api", "data"),
    [
        ("anthropic_messages", wire.anthropic("Whole.")),
        ("anthropic_messages", wire.anthropic("", [("t1", "read", {})])),
        ("openai_chat", wire.openai_chat("Whole.")),
        ("openai_responses", wire.openai_responses("Whole.")),
        ("openai_responses", wire.openai_responses("Filtered", incomplete="content_filter")),
        ("ollama_chat", wire.ollama("Whole.")),
    ],
    ids=["end_turn", "tool_use", "stop", "completed", "content_filter", "ollama_stop"],
)
def test_other_endings_are_not_truncated(api: str, data: bytes, replay: ReplayServer) -> None:
    content_type = NDJSON if api == "ollama_chat" else "text/event-stream"
    replay.queue(Reply(body=data, content_type=content_type))
    turn = final(ask(replay, api))
    assert turn.ended is Ended.COMPLETE and turn.stop_reason is not None
    assert not turn.truncated


def test_truncated_is_read_from_the_stop_reason_a_session_keeps() -> None:
    # A record loaded from a session file has only its stop reason: that is enough.
    assert AssistantTurn("anthropic", "m", stop_reason="max_tokens").truncated
    assert not AssistantTurn("anthropic", "m", stop_reason=None).truncated


# The context window

PROMPT_TOO_LONG = {
    "type": "error",
    "error": {
        "type": "invalid_request_error",
        "message": "prompt is too long: 208310 tokens > 200000 maximum",
    },
}
OPENAI_TOO_LONG = {
    "error": {
        "message": "This model's maximum context length is 128000 tokens. However, your "
        "messages resulted in 130415 tokens. Please reduce the length of the messages.",
        "type": "invalid_request_error",
        "param": "messages",
        "code": "context_length_exceeded",
    }
}
LLAMA_CPP_TOO_LONG = {
    "error": {
        "code": 400,
        "message": "request (4476 tokens) exceeds the available context size (4096 tokens), "
        "try increasing it",
        "type": "exceed_context_size_error",
        "n_prompt_tokens": 4476,
        "n_ctx": 4096,
    }
}
VLLM_TOO_LONG = {
    "object": "error",
    "message": "This model's maximum context length is 4096 tokens. However, you requested "
    "5000 tokens (4000 in the messages, 1000 in the completion).",
    "type": "BadRequestError",
    "code": 400,
}
OLLAMA_TOO_LONG = {"error": "the input length exceeds the context length"}


@pytest.mark.parametrize(
    ("api", "payload", "said"),
    [
        ("anthropic_messages", PROMPT_TOO_LONG, "prompt is too long"),
        ("openai_chat", OPENAI_TOO_LONG, "maximum context length is 128000"),
        ("openai_chat", LLAMA_CPP_TOO_LONG, "exceeds the available context size"),
        ("openai_chat", VLLM_TOO_LONG, "maximum context length is 4096"),
        ("openai_responses", OPENAI_TOO_LONG, "maximum context length is 128000"),
        ("ollama_chat", OLLAMA_TOO_LONG, "exceeds the context length"),
    ],
    ids=["anthropic", "openai", "llama.cpp", "vllm", "responses", "ollama"],
)
def test_a_conversation_too_long_for_the_window_is_refused_as_context_length(
    api: str, payload: dict[str, Any], said: str, replay: ReplayServer
) -> None:
    replay.queue(Reply.error(400, payload))
    turn = final(ask(replay, api))
    assert turn.ended is Ended.ERROR
    assert turn.error is not None
    assert (turn.error.type, turn.error.status) == ("context_length", 400)
    assert turn.error.message.startswith("the conversation is too long for the model's context")
    assert said in turn.error.message  # the provider's own words, with its figures
    assert turn.usage == ZERO


def context_refusal_in_stream(api: str) -> bytes:
    """A stream that starts, then reports the window was too small."""
    if api == "anthropic_messages":
        start = wire.anthropic("x").split(b"\n\n")[0] + b"\n\n"
        return start + sse(PROMPT_TOO_LONG)
    if api == "openai_chat":  # OpenRouter reports upstream errors in a chunk
        error = {"code": 400, "message": "This endpoint's maximum context length is 8192 tokens."}
        return f"data: {json.dumps({'error': error})}\n\n".encode()
    if api == "openai_responses":
        error = {"code": "context_length_exceeded", "message": "Your input exceeds the window."}
        failed = {"id": "resp_1", "status": "failed", "error": error, "usage": None, "output": []}
        return sse({"type": "response.failed", "response": failed})
    line = {"error": "input length exceeds the context length of the model (4096)"}
    return json.dumps(line).encode() + b"\n"


@pytest.mark.parametrize(
    "api", ["anthropic_messages", "openai_chat", "openai_responses", "ollama_chat"]
)
def test_a_context_refusal_inside_the_stream_is_context_length(
    api: str, replay: ReplayServer
) -> None:
    content_type = NDJSON if api == "ollama_chat" else "text/event-stream"
    replay.queue(Reply(body=context_refusal_in_stream(api), content_type=content_type))
    turn = final(ask(replay, api))
    assert turn.ended is Ended.ERROR
    assert turn.error is not None and turn.error.type == "context_length"


@pytest.mark.parametrize(
    ("status", "payload", "kind"),
    [
        # A rate limit counted in tokens is no context refusal.
        (
            429,
            {"error": {"message": "Request too large for gpt-4o on tokens per min (TPM)"}},
            "rate_limit",
        ),
        (400, {"error": {"message": "Invalid value for 'temperature'"}}, "bad_request"),
        (
            413,
            {"error": {"type": "request_too_large", "message": "Request exceeds 32 MB"}},
            "bad_request",
        ),
    ],
)
def test_other_refusals_are_not_context_length(
    status: int, payload: dict[str, Any], kind: str, replay: ReplayServer
) -> None:
    replay.queue(Reply.error(status, payload))
    turn = final(ask(replay, "openai_chat"))
    assert turn.error is not None and (turn.error.type, turn.error.status) == (kind, status)


# Responses API input items, over a real tool round trip


def test_every_responses_input_item_is_sent_in_its_typed_form(
    replay: ReplayServer, tmp_path: Path
) -> None:
    replay.queue(
        Reply(body=wire.openai_responses("Looking.", [("call_1", "list_files", {"pattern": "*"})])),
        Reply(body=wire.openai_responses("One file: a.md.")),
        Reply(body=wire.openai_responses("You're welcome.")),
    )
    (tmp_path / "a.md").write_text("x")
    agent = make_agent(replay, tmp_path, api="openai_responses")
    first, events = run_turn(agent, "what is here?")
    second, _ = run_turn(agent, "thanks")
    assert first.ended is second.ended is Ended.COMPLETE
    result = next(e.result for e in events if isinstance(e, ToolDone))
    assert "a.md" in result.content

    def user_item(text: str) -> dict[str, Any]:
        return {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": text}],
        }

    def assistant_item(text: str) -> dict[str, Any]:
        content = [{"type": "output_text", "text": text}]
        return {"type": "message", "role": "assistant", "content": content}

    call = {
        "type": "function_call",
        "call_id": "call_1",
        "name": "list_files",
        "arguments": '{"pattern": "*"}',
    }
    output = {"type": "function_call_output", "call_id": "call_1", "output": result.content}
    sent = [r.json["input"] for r in replay.received]
    assert sent[0] == [user_item("what is here?")]
    assert sent[1] == [user_item("what is here?"), assistant_item("Looking."), call, output]
    assert sent[2] == [
        *sent[1],
        assistant_item("One file: a.md."),
        user_item("thanks"),
    ]
    # What llama.cpp's server checks before it will read an item at all.
    assert all(isinstance(item.get("type"), str) for body in sent for item in body)
