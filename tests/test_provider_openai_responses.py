"""The OpenAI Responses provider against the replay server.

Expected results after a cut are worked out here from the bytes that were sent, by a rule
simpler than the provider's: an event counts once its blank line has arrived; the usage is
known (the manifest's figures) once the terminal event has, and unknown before.
"""

from __future__ import annotations

import json
import socket
from contextlib import closing
from typing import Any

import pytest
from helpers import (
    UNKNOWN,
    bytewise,
    endpoint_for,
    final,
    headers_of,
    read_body,
    read_with_ctrl_c,
    run_stream,
    user,
)
from replay import ReplayServer, Reply, body, entry, manifest

from chit.messages import (
    AssistantTurn,
    Ended,
    Event,
    Message,
    ReasoningDelta,
    TextDelta,
    ToolCall,
    ToolCallEvent,
    ToolResult,
    ToolSpec,
)
from chit.providers import Endpoint, Request
from chit.providers.openai_responses import OpenAIResponsesProvider
from chit.usage import Usage

API = "openai_responses"
ENTRIES = [e["id"] for e in manifest() if e["api"] == API]
TERMINAL = {"response.completed", "response.incomplete", "response.failed", "response.done"}
FAST_RETRY = {"retry-after-ms": "1"}  # a 1 ms wait instead of the 0.5 s backoff


def arrived(prefix: bytes) -> list[dict[str, Any]]:
    """The events of a body prefix that a reader can have seen: those ended by a blank line."""
    *complete, _partial = prefix.decode("utf-8", "replace").split("\n\n")
    return [
        json.loads(line[len("data:") :])
        for segment in complete
        for line in segment.splitlines()
        if line.startswith("data:")
    ]


def text_of(events: list[dict[str, Any]]) -> str:
    return "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")


def calls_of(events: list[dict[str, Any]]) -> list[ToolCall]:
    return [
        ToolCall(e["item"]["call_id"], e["item"]["name"], e["item"]["arguments"])
        for e in events
        if e["type"] == "response.output_item.done" and e["item"]["type"] == "function_call"
    ]


def event_ends(data: bytes) -> dict[str, list[int]]:
    """For each event type, the offsets just past the blank line of each of its events."""
    ends: dict[str, list[int]] = {}
    offset = 0
    for segment in data.split(b"\n\n")[:-1]:
        offset += len(segment) + 2
        for line in segment.splitlines():
            if line.startswith(b"data:"):
                ends.setdefault(json.loads(line[5:])["type"], []).append(offset)
    return ends


def provider(server: ReplayServer, max_retries: int = 0) -> closing[OpenAIResponsesProvider]:
    return closing(OpenAIResponsesProvider(endpoint_for(API, server, max_retries=max_retries)))


def stream(server: ReplayServer, request: Request) -> list[Event]:
    with provider(server) as p:
        return list(p.stream(request))


# Bodies in the wire format the recordings show


def sse(data: dict[str, Any]) -> str:
    return f"event: {data['type']}\ndata: {json.dumps(data)}\n\n"


def response_object(
    status: str, output: list[dict[str, Any]], usage: dict[str, Any] | None, **extra: Any
) -> dict[str, Any]:
    return {
        "id": "resp_1",
        "object": "response",
        "created_at": 1758034836,
        "status": status,
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "max_output_tokens": None,
        "model": "gpt-5-mini-2025-08-07",
        "output": output,
        "parallel_tool_calls": True,
        "service_tier": "default" if status != "in_progress" else "auto",
        "store": False,
        "usage": usage,
        **extra,
    }


def usage_object(
    input_tokens: int = 1200,
    cached: int = 1024,
    output_tokens: int = 300,
    reasoning: int = 256,
) -> dict[str, Any]:
    return {
        "input_tokens": input_tokens,
        "input_tokens_details": {"cached_tokens": cached},
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": reasoning},
        "total_tokens": input_tokens + output_tokens,
    }


def responses_stream(
    text: str = "",
    calls: list[tuple[str, str, str]] = (),  # type: ignore[assignment]
    *,
    summary: list[str] = (),  # type: ignore[assignment]
    terminal: str = "response.completed",
    status: str = "completed",
    usage: dict[str, Any] | None = None,
    with_item_done: bool = True,
    **response_extra: Any,
) -> bytes:
    """A Responses stream: a reasoning summary, text, function calls, then a terminal event."""
    events: list[dict[str, Any]] = []
    output: list[dict[str, Any]] = []
    created = response_object("in_progress", [], None)
    events += [
        {"type": "response.created", "response": created},
        {"type": "response.in_progress", "response": created},
    ]
    if summary:
        index = len(output)
        item = {"id": "rs_1", "type": "reasoning", "summary": []}
        events.append({"type": "response.output_item.added", "output_index": index, "item": item})
        for n, part in enumerate(summary):
            where = {"item_id": "rs_1", "output_index": index, "summary_index": n}
            events.append(
                {
                    "type": "response.reasoning_summary_part.added",
                    **where,
                    "part": {"type": "summary_text", "text": ""},
                }
            )
            events += [
                {"type": "response.reasoning_summary_text.delta", **where, "delta": part[i : i + 6]}
                for i in range(0, len(part), 6)
            ]
            events.append({"type": "response.reasoning_summary_text.done", **where, "text": part})
        done = {**item, "summary": [{"type": "summary_text", "text": p} for p in summary]}
        events.append({"type": "response.output_item.done", "output_index": index, "item": done})
        output.append(done)
    if text:
        index = len(output)
        item = {"id": "msg_1", "type": "message", "status": "in_progress", "role": "assistant"}
        where = {"item_id": "msg_1", "output_index": index, "content_index": 0}
        events.append(
            {"type": "response.output_item.added", "output_index": index, "item": {**item}}
        )
        events += [
            {"type": "response.output_text.delta", **where, "delta": text[i : i + 8]}
            for i in range(0, len(text), 8)
        ]
        events.append({"type": "response.output_text.done", **where, "text": text})
        done = {
            **item,
            "status": "completed",
            "content": [{"type": "output_text", "annotations": [], "text": text}],
        }
        events.append({"type": "response.output_item.done", "output_index": index, "item": done})
        output.append(done)
    for call_id, name, arguments in calls:
        index = len(output)
        item = {
            "type": "function_call",
            "id": f"fc_{call_id}",
            "call_id": call_id,
            "name": name,
            "arguments": "",
            "status": "in_progress",
        }
        where = {"item_id": f"fc_{call_id}", "output_index": index}
        events.append({"type": "response.output_item.added", "output_index": index, "item": item})
        events += [
            {
                "type": "response.function_call_arguments.delta",
                **where,
                "delta": arguments[i : i + 5],
            }
            for i in range(0, len(arguments), 5)
        ]
        events.append(
            {"type": "response.function_call_arguments.done", **where, "arguments": arguments}
        )
        done = {**item, "arguments": arguments, "status": "completed"}
        if with_item_done:
            events.append(
                {"type": "response.output_item.done", "output_index": index, "item": done}
            )
        output.append(done)
    final_response = response_object(status, output, usage, **response_extra)
    events.append({"type": terminal, "response": final_response})
    for n, event in enumerate(events):
        event["sequence_number"] = n
    return "".join(sse(e) for e in events).encode()


# Recorded streams, whole, byte by byte and cut short


@pytest.mark.parametrize("entry_id", ENTRIES)
def test_byte_at_a_time_gives_the_same_record(entry_id: str, replay: ReplayServer) -> None:
    replay.queue(Reply.recorded(entry_id))
    whole = final(run_stream(API, replay))
    events = read_body(API, bytewise(body(entry_id)), "text/event-stream")
    trickled = final(events)
    sent = arrived(body(entry_id))
    assert trickled == whole
    assert trickled.usage.counts() == entry(entry_id)["expected"]["usage"]
    assert trickled.ended.value == entry(entry_id)["expected"]["ended"]
    assert trickled.text == text_of(sent)
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == trickled.text
    assert [e.call for e in events if isinstance(e, ToolCallEvent)] == calls_of(sent)


@pytest.mark.parametrize("clean", [False, True], ids=["dropped", "clean_cut"])
@pytest.mark.parametrize("entry_id", ENTRIES)
def test_cut_stream_keeps_exactly_what_arrived(
    entry_id: str, clean: bool, replay: ReplayServer
) -> None:
    data = body(entry_id)
    expected = entry(entry_id)["expected"]
    ends = event_ends(data)
    marks = [ends[t][0] for t in ("response.created", "response.output_item.done") if t in ends]
    marks += [ends[t][-1] for t in (*TERMINAL, "error") if t in ends]
    cuts = sorted(
        {
            0,
            1,
            len(data) - 1,
            *(m + d for m in marks for d in (-1, 0, 1)),
            *range(0, len(data), len(data) // 7),
        }
    )
    for cut in cuts:
        replay.queue(Reply.recorded(entry_id, cut_after=cut, clean_cut=clean))
        turn = final(run_stream(API, replay))
        events = arrived(data[:cut])
        types = {e["type"] for e in events}
        terminal = bool(types & TERMINAL)
        assert turn.usage.counts() == (expected["usage"] if terminal else UNKNOWN), cut
        if terminal:
            assert turn.ended.value == expected["ended"], cut
        elif "error" in types:
            assert turn.ended is Ended.ERROR, cut
        else:
            assert turn.ended is Ended.INTERRUPTED, cut
            assert turn.error is not None and turn.error.type == "connection", cut
        assert turn.text == text_of(events), cut
        assert list(turn.tool_calls) == calls_of(events), cut
        named = any("response" in e for e in events)
        assert turn.model == (expected["model"] if named else None), cut
        known = terminal and expected["usage"]["input_tokens"] is not None
        assert turn.usage.input_unknown == turn.usage.output_unknown == int(not known), cut


def test_extras_keep_raw_usage_and_the_final_service_tier(replay: ReplayServer) -> None:
    entry_id = "openai/pai_responses_web_search_stream"
    replay.queue(Reply.recorded(entry_id))
    turn = final(run_stream(API, replay))
    completed = next(e for e in arrived(body(entry_id)) if e["type"] == "response.completed")
    assert turn.extras["raw_usage"] == [completed["response"]["usage"]]
    # response.created said "auto"; the tier that served the request comes last.
    assert turn.extras["service_tier"] == completed["response"]["service_tier"] == "default"
    assert turn.stop_reason == "completed"
    assert turn.tool_calls == ()  # web search runs on the server


def test_error_event_ends_in_error_with_its_message(replay: ReplayServer) -> None:
    entry_id = "openai/vai_responses_error_event"
    replay.queue(Reply.recorded(entry_id))
    turn = final(run_stream(API, replay))
    assert turn.ended is Ended.ERROR
    assert turn.error is not None
    assert turn.error.type == "quota"
    assert turn.error.message.startswith("insufficient_quota: You exceeded your current quota")
    assert turn.usage.counts() == UNKNOWN  # response.failed said usage: null
    assert turn.model == "gpt-5-nano-2025-08-07"


# Terminal events other than response.completed


def test_incomplete_response_is_complete_with_its_reason_and_usage(replay: ReplayServer) -> None:
    data = responses_stream(
        "Cut at the cap",
        terminal="response.incomplete",
        status="incomplete",
        usage=usage_object(output_tokens=64, reasoning=60),
        incomplete_details={"reason": "max_output_tokens"},
    )
    replay.queue(Reply(body=data))
    turn = final(run_stream(API, replay))
    assert turn.ended is Ended.COMPLETE
    assert turn.error is None
    assert turn.stop_reason == "max_output_tokens"
    assert turn.text == "Cut at the cap"
    assert turn.usage.counts() == {
        "input_tokens": 1200,
        "cache_read_tokens": 1024,
        "cache_write_tokens": 0,
        "output_tokens": 64,
        "reasoning_tokens": 60,
    }


def test_failed_response_ends_in_error_keeping_its_usage(replay: ReplayServer) -> None:
    data = responses_stream(
        "Part",
        terminal="response.failed",
        status="failed",
        usage=usage_object(input_tokens=50, cached=0, output_tokens=3, reasoning=0),
        error={"code": "server_error", "message": "The server had an error."},
    )
    replay.queue(Reply(body=data))
    turn = final(run_stream(API, replay))
    assert turn.ended is Ended.ERROR
    assert turn.error is not None
    assert (turn.error.type, turn.error.message) == (
        "server",
        "server_error: The server had an error.",
    )
    assert turn.usage.counts() == {
        "input_tokens": 50,
        "cache_read_tokens": 0,
        "cache_write_tokens": 0,
        "output_tokens": 3,
        "reasoning_tokens": 0,
    }
    assert turn.text == "Part"


@pytest.mark.parametrize("status", ["completed", "incomplete"])
def test_legacy_response_done_is_a_terminal_event(status: str, replay: ReplayServer) -> None:
    usage = {
        "input_tokens": 40,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 32},
        "output_tokens": 7,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 47,
    }
    details = {"reason": "content_filter"} if status == "incomplete" else None
    data = responses_stream(
        "Legacy.",
        terminal="response.done",
        status=status,
        usage=usage,
        incomplete_details=details,
    )
    replay.queue(Reply(body=data))
    turn = final(run_stream(API, replay))
    assert turn.ended is Ended.COMPLETE
    assert turn.stop_reason == ("completed" if status == "completed" else "content_filter")
    assert turn.usage.counts() == {
        "input_tokens": 40,
        "cache_read_tokens": 0,
        "cache_write_tokens": 32,
        "output_tokens": 7,
        "reasoning_tokens": 0,
    }
    assert turn.model == "gpt-5-mini-2025-08-07"


def test_usage_without_breakdowns_has_zero_parts(replay: ReplayServer) -> None:
    data = responses_stream("x", usage={"input_tokens": 9, "output_tokens": 2, "total_tokens": 11})
    replay.queue(Reply(body=data))
    turn = final(run_stream(API, replay))
    assert turn.usage.counts() == {
        "input_tokens": 9,
        "cache_read_tokens": 0,
        "cache_write_tokens": 0,
        "output_tokens": 2,
        "reasoning_tokens": 0,
    }


# Reasoning and function calls

ARGS = json.dumps({"path": "src/é.py", "lines": [1, 2], "opts": {"deep": True}})


def test_function_calls_and_reasoning_summary_are_assembled(replay: ReplayServer) -> None:
    data = responses_stream(
        "Reading.",
        [("call_1", "read", ARGS), ("call_2", "list", "{}")],
        summary=["**Plan** look first", "then list"],
        usage=usage_object(),
    )
    replay.queue(Reply(body=data, chunk_size=7))
    events = run_stream(API, replay)
    turn = final(events)
    calls = [e.call for e in events if isinstance(e, ToolCallEvent)]
    assert calls == [ToolCall("call_1", "read", ARGS), ToolCall("call_2", "list", "{}")]
    assert calls[0].parsed_arguments()["path"] == "src/é.py"
    assert turn.tool_calls == tuple(calls)
    reasoning = "".join(e.text for e in events if isinstance(e, ReasoningDelta))
    assert reasoning == turn.reasoning == "**Plan** look first\n\nthen list"
    assert turn.text == "Reading."
    assert turn.usage.counts() == {
        "input_tokens": 1200,
        "cache_read_tokens": 1024,
        "cache_write_tokens": 0,
        "output_tokens": 300,
        "reasoning_tokens": 256,
    }


def test_a_call_is_announced_when_its_item_is_done(replay: ReplayServer) -> None:
    data = responses_stream("", [("call_1", "read", ARGS), ("call_2", "list", '{"a": 1}')])
    # Cut after the second call's arguments, before its output_item.done.
    cut = data.index(b'"type": "response.output_item.done", "output_index": 1')
    replay.queue(Reply(body=data, cut_after=cut))
    events = run_stream(API, replay)
    turn = final(events)
    assert [e.call.id for e in events if isinstance(e, ToolCallEvent)] == ["call_1"]
    assert [c.id for c in turn.tool_calls] == ["call_1"]
    assert turn.ended is Ended.INTERRUPTED


def test_calls_only_in_the_final_output_are_not_lost(replay: ReplayServer) -> None:
    # A server that sends no output_item.done still lists its calls in the final response.
    data = responses_stream("", [("call_9", "read", ARGS)], with_item_done=False)
    replay.queue(Reply(body=data))
    events = run_stream(API, replay)
    assert [e.call for e in events if isinstance(e, ToolCallEvent)] == [
        ToolCall("call_9", "read", ARGS)
    ]
    assert final(events).tool_calls == (ToolCall("call_9", "read", ARGS),)


# The request sent

TOOLS = (
    ToolSpec(
        "read", "Read a file.", {"type": "object", "properties": {"path": {"type": "string"}}}
    ),
    ToolSpec("list", "List a directory.", {"type": "object", "properties": {}}),
)


def conversation() -> list[Message]:
    return [
        Message(role="user", text="look at a.py"),
        Message(
            role="assistant",
            text="Reading.",
            reasoning="hidden",
            tool_calls=(ToolCall("t1", "read", '{"path": "a.py"}'), ToolCall("t2", "list", "{}")),
        ),
        Message(
            role="tool",
            tool_results=(
                ToolResult("t1", "read", "print(1)"),
                ToolResult("t2", "list", "no", True),
            ),
        ),
        Message(role="assistant", text="", interrupted=True),  # cut before any text
        Message(role="user", text="go on"),
    ]


def test_request_shape(replay: ReplayServer) -> None:
    replay.queue(Reply(body=responses_stream("ok", usage=usage_object())))
    request = Request(
        "gpt-x", conversation(), system="be brief", tools=TOOLS, max_tokens=321, cache_key="s1"
    )
    final(stream(replay, request))
    received = replay.received[0]
    sent = received.json
    assert received.path == "/v1/responses"
    assert headers_of(replay)["authorization"] == "Bearer test-key"
    assert sent["model"] == "gpt-x"
    assert sent["instructions"] == "be brief"
    assert sent["max_output_tokens"] == 321
    assert sent["store"] is False and sent["stream"] is True
    assert "prompt_cache_key" not in sent  # not OpenAI's own endpoint
    assert sent["tools"] == [
        {
            "type": "function",
            "name": "read",
            "description": "Read a file.",
            "parameters": TOOLS[0].parameters,
            "strict": False,
        },
        {
            "type": "function",
            "name": "list",
            "description": "List a directory.",
            "parameters": {"type": "object", "properties": {}},
            "strict": False,
        },
    ]
    # Every item in its explicit typed form (llama.cpp's server refuses the short one).
    assert sent["input"] == [
        {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "look at a.py"}],
        },
        {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "Reading."}],
        },
        {"type": "function_call", "call_id": "t1", "name": "read", "arguments": '{"path": "a.py"}'},
        {"type": "function_call", "call_id": "t2", "name": "list", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "t1", "output": "print(1)"},
        {"type": "function_call_output", "call_id": "t2", "output": "no"},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "go on"}]},
    ]


def test_no_system_and_no_tools_are_left_out(replay: ReplayServer) -> None:
    replay.queue(Reply(body=responses_stream("ok", usage=usage_object())))
    final(stream(replay, Request("m", user())))
    sent = replay.received[0].json
    assert "instructions" not in sent and "tools" not in sent
    assert sent["input"] == [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}
    ]


@pytest.mark.parametrize(
    ("base_url", "sends_key"),
    [(None, True), ("https://api.openai.com/v1", True), ("http://127.0.0.1:8000/v1", False)],
)
def test_prompt_cache_key_goes_to_openai_only(base_url: str | None, sends_key: bool) -> None:
    # Only the parameters are built: nothing is sent.
    endpoint = Endpoint("openai-responses", base_url, "k", "OPENAI_API_KEY")
    with closing(OpenAIResponsesProvider(endpoint)) as p:
        params = p.body(Request("m", user(), cache_key="session-1"))
    assert ("prompt_cache_key" in params) is sends_key
    if sends_key:
        assert params["prompt_cache_key"] == "session-1"


# Faults


def test_unauthorized_names_the_key_variable_and_is_not_retried(replay: ReplayServer) -> None:
    payload = {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}}
    replay.queue(Reply.error(401, payload))
    turn = final(run_stream(API, replay, max_retries=2))
    assert len(replay.received) == 1
    assert turn.ended is Ended.ERROR
    assert turn.error is not None
    assert (turn.error.type, turn.error.status) == ("auth", 401)
    assert "OPENAI_API_KEY" in turn.error.message
    assert "Incorrect API key provided" in turn.error.message
    assert turn.usage == Usage.reported(0, 0, 0, 0, 0)  # refused: billed nothing, and known to be


def test_rate_limit_is_retried_then_succeeds(replay: ReplayServer) -> None:
    entry_id = "openai/pai_responses_stream_0"
    limited = {"error": {"message": "slow down", "type": "requests"}}
    replay.queue(
        Reply.error(429, limited, headers={"retry-after": "0", **FAST_RETRY}),
        Reply.recorded(entry_id),
    )
    turn = final(run_stream(API, replay, max_retries=2))
    assert len(replay.received) == 2
    assert turn.ended is Ended.COMPLETE
    assert turn.usage.counts() == entry(entry_id)["expected"]["usage"]


def test_server_error_after_retries(replay: ReplayServer) -> None:
    payload = {"error": {"message": "try later", "type": "server_error"}}
    replay.queue(*(Reply.error(500, payload, headers=FAST_RETRY) for _ in range(3)))
    turn = final(run_stream(API, replay, max_retries=2))
    assert len(replay.received) == 3
    assert turn.ended is Ended.ERROR
    assert turn.error is not None
    assert (turn.error.type, turn.error.status) == ("server", 500)
    assert "try later" in turn.error.message


def test_error_body_is_read_only_up_to_the_bound(replay: ReplayServer) -> None:
    # 200 KiB of HTML, then the connection drops: reading it all would fail on the drop.
    html = b"<html>" + b"x" * 200_000
    replay.queue(Reply(body=html, status=502, content_type="text/html", cut_after=len(html) - 10))
    turn = final(run_stream(API, replay))
    assert turn.ended is Ended.ERROR
    assert turn.error is not None
    assert (turn.error.type, turn.error.status) == ("server", 502)


def test_dropped_connection_mid_stream_is_interrupted(replay: ReplayServer) -> None:
    entry_id = "openai/otl_responses_streaming_0"
    data = body(entry_id)
    replay.queue(Reply.recorded(entry_id, cut_after=len(data) // 2))
    turn = final(run_stream(API, replay))
    assert turn.ended is Ended.INTERRUPTED
    assert turn.error is not None and turn.error.type == "connection"
    assert turn.usage.counts() == UNKNOWN
    assert turn.text == text_of(arrived(data[: len(data) // 2]))
    assert turn.model == "gpt-4.1-nano-2025-04-14"


def test_unreachable_server_is_a_connection_error() -> None:
    with socket.socket() as s:  # a loopback port that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    endpoint = Endpoint("openai-responses", f"http://127.0.0.1:{port}/v1", "k", "OPENAI_API_KEY", 0)
    with closing(OpenAIResponsesProvider(endpoint)) as p:
        turn = final(list(p.stream(Request("m", user()))))
    assert turn.ended is Ended.ERROR
    assert turn.error is not None and turn.error.type == "connection"


# Ctrl-C


def slow_reply(entry_id: str) -> tuple[Reply, bytes]:
    """The body up to the terminal event at once, the rest after a pause; and that first part."""
    data = body(entry_id)
    first = data.index(b"event: response.completed")
    return Reply.recorded(entry_id, chunk_size=first, delay=0.6, delay_first=False), data[:first]


def test_ctrl_c_thrown_in_at_a_yield_ends_with_an_interrupted_record(
    replay: ReplayServer,
) -> None:
    reply, _ = slow_reply("openai/otl_responses_streaming_0")
    replay.queue(reply)
    with provider(replay) as p:
        gen = p.stream(Request("m", user()))
        first = next(e for e in gen if isinstance(e, TextDelta))
        turn = gen.throw(KeyboardInterrupt())
    assert isinstance(turn, AssistantTurn)
    assert turn.ended is Ended.INTERRUPTED
    assert turn.error is not None and turn.error.type == "interrupted"
    assert turn.usage.counts() == UNKNOWN
    assert turn.model == "gpt-4.1-nano-2025-04-14"
    assert turn.text == first.text  # nothing after the throw was taken in
    with pytest.raises(StopIteration):
        next(gen)


def test_ctrl_c_during_a_blocking_read_ends_with_an_interrupted_record(
    replay: ReplayServer,
) -> None:
    reply, sent = slow_reply("openai/otl_responses_streaming_0")
    replay.queue(reply)
    with provider(replay) as p:
        # The rest of the first fragment is read at once; then the read blocks for 0.6 s.
        turn = final(read_with_ctrl_c(p.stream(Request("m", user())), after=0.25))
    assert turn.ended is Ended.INTERRUPTED
    assert turn.error is not None and turn.error.type == "interrupted"
    assert turn.usage.counts() == UNKNOWN
    assert turn.text == text_of(arrived(sent))
