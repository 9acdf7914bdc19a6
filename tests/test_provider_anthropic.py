"""The Anthropic provider against the replay server: recorded and built bodies.

Expected usage after a cut is worked out here from the bytes that were sent, by a rule
simpler than the provider's: an event counts once its blank line has arrived; input is
known once ``message_start`` has, output once a ``message_delta`` with usage has.
"""

from __future__ import annotations

import json
import socket
from contextlib import closing
from typing import Any

import pytest
from helpers import (
    bytewise,
    endpoint_for,
    final,
    headers_of,
    raw_value,
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
    TextDelta,
    ToolCall,
    ToolCallEvent,
    ToolResult,
    ToolSpec,
)
from chit.providers import Endpoint, Request
from chit.providers.anthropic import AnthropicProvider
from chit.usage import Usage

API = "anthropic_messages"
ENTRIES = [e["id"] for e in manifest() if e["api"] == API]
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


def expected_after(entry_id: str, events: list[dict[str, Any]]) -> dict[str, int | None]:
    """The usage the spec gives for what arrived, by the simple rule of the module docstring."""
    if any(e["type"] == "message_delta" and "output_tokens" in e.get("usage", {}) for e in events):
        counts: dict[str, int | None] = entry(entry_id)["expected"]["usage"]
        return counts
    starts = [e for e in events if e["type"] == "message_start"]
    if not starts:
        return dict.fromkeys(
            (
                "input_tokens",
                "cache_read_tokens",
                "cache_write_tokens",
                "output_tokens",
                "reasoning_tokens",
            )
        )
    usage = starts[0]["message"]["usage"]
    read = usage.get("cache_read_input_tokens") or 0
    write = usage.get("cache_creation_input_tokens") or 0
    return {
        "input_tokens": usage["input_tokens"] + read + write,
        "cache_read_tokens": read,
        "cache_write_tokens": write,
        "output_tokens": None,
        "reasoning_tokens": None,
    }


def text_of(events: list[dict[str, Any]]) -> str:
    return "".join(
        e["delta"]["text"]
        for e in events
        if e["type"] == "content_block_delta" and e["delta"]["type"] == "text_delta"
    )


def event_end(data: bytes, event_type: str) -> int:
    """The offset just past the blank line that ends the first event of this type."""
    return data.index(b"\n\n", data.index(f'"type":"{event_type}"'.encode())) + 2


def sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


def provider(server: ReplayServer, max_retries: int = 0) -> closing[AnthropicProvider]:
    return closing(AnthropicProvider(endpoint_for(API, server, max_retries=max_retries)))


def stream(server: ReplayServer, request: Request) -> list[Event]:
    with provider(server) as p:
        return list(p.stream(request))


# Recorded streams, whole, byte by byte and cut short


@pytest.mark.parametrize("entry_id", ENTRIES)
def test_byte_at_a_time_gives_the_same_record(entry_id: str, replay: ReplayServer) -> None:
    replay.queue(Reply.recorded(entry_id))
    whole = final(run_stream(API, replay))
    trickled = final(read_body(API, bytewise(body(entry_id)), "text/event-stream"))
    assert trickled.usage.counts() == entry(entry_id)["expected"]["usage"]
    assert trickled == whole
    assert trickled.ended is Ended.COMPLETE
    assert trickled.text == text_of(arrived(body(entry_id)))


@pytest.mark.parametrize("clean", [False, True], ids=["dropped", "clean_cut"])
@pytest.mark.parametrize("entry_id", ENTRIES)
def test_cut_stream_keeps_exactly_what_arrived(
    entry_id: str, clean: bool, replay: ReplayServer
) -> None:
    data = body(entry_id)
    marks = [event_end(data, t) for t in ("message_start", "message_delta", "message_stop")]
    cuts = sorted(
        {
            0,
            1,
            len(data) - 1,
            *(m + d for m in marks for d in (-1, 0)),
            *range(0, len(data), len(data) // 9),
        }
    )
    for cut in cuts:
        replay.queue(Reply.recorded(entry_id, cut_after=cut, clean_cut=clean))
        turn = final(run_stream(API, replay))
        events = arrived(data[:cut])
        whole = any(e["type"] == "message_stop" for e in events)
        assert turn.usage.counts() == expected_after(entry_id, events), cut
        assert turn.ended is (Ended.COMPLETE if whole else Ended.INTERRUPTED), cut
        assert turn.text == text_of(events), cut
        if not whole:
            assert turn.error is not None and turn.error.type == "connection"
        if not any(e["type"] == "message_start" for e in events):
            assert turn.usage.input_unknown == 1 and turn.usage.output_unknown == 1
            assert turn.model is None


def test_cut_before_message_delta_keeps_input_and_leaves_output_unknown(
    replay: ReplayServer,
) -> None:
    entry_id = "anthropic/otl_prompt_caching_stream_write"
    data = body(entry_id)
    replay.queue(Reply.recorded(entry_id, cut_after=data.index(b"event: message_delta")))
    turn = final(run_stream(API, replay))
    # message_start said output_tokens 1: a placeholder, not a count.
    assert turn.usage.counts() == {
        "input_tokens": 4 + 1165,
        "cache_read_tokens": 0,
        "cache_write_tokens": 1165,
        "output_tokens": None,
        "reasoning_tokens": None,
    }
    assert turn.usage.output_unknown == 1
    assert turn.ended is Ended.INTERRUPTED
    assert turn.model == "claude-3-5-sonnet-20240620"


def test_extras_keep_what_the_five_counts_do_not(replay: ReplayServer) -> None:
    search = "anthropic/pai_pause_turn_web_search_0"
    compaction = "anthropic/pai_compaction_usage_with_cache_streaming"
    replay.queue(Reply.recorded(search), Reply.recorded(compaction))
    turn = final(run_stream(API, replay))
    events = arrived(body(search))
    usages = [e["message"]["usage"] for e in events if e["type"] == "message_start"]
    usages += [e["usage"] for e in events if e["type"] == "message_delta"]
    assert turn.extras["server_tool_use"] == {"web_search_requests": 10, "web_fetch_requests": 0}
    assert turn.extras["service_tier"] == "standard"
    assert turn.extras["raw_usage"] == usages
    assert (turn.extras["cache_write_5m"], turn.extras["cache_write_1h"]) == (0, 0)
    assert turn.stop_reason == "pause_turn"
    assert turn.tool_calls == ()  # server tools are run by the server, not by chit

    turn = final(run_stream(API, replay))
    steps = [s["type"] for s in turn.extras["iterations"]]
    assert steps == ["compaction", "message"]


def test_cache_write_split_by_lifetime(replay: ReplayServer) -> None:
    data = body("anthropic/crew_anthropic_cached_prompt_tokens_0")
    data = data.replace(b'"cache_creation_input_tokens":0', b'"cache_creation_input_tokens":700')
    data = data.replace(
        b'{"ephemeral_5m_input_tokens":0,"ephemeral_1h_input_tokens":0}',
        b'{"ephemeral_5m_input_tokens":200,"ephemeral_1h_input_tokens":500}',
    )
    assert data.count(b":700") == 2 and data.count(b":500") == 1  # message_start and delta
    replay.queue(Reply(body=data))
    turn = final(run_stream(API, replay))
    assert (turn.usage.input_tokens, turn.usage.cache_write_tokens) == (3 + 700 + 1217, 700)
    assert (turn.extras["cache_write_5m"], turn.extras["cache_write_1h"]) == (200, 500)


# Errors


def with_error_after(data: bytes, event_type: str, error_type: str) -> bytes:
    cut = event_end(data, event_type)
    error = sse("error", {"type": "error", "error": {"type": error_type, "message": "Overloaded"}})
    return data[:cut] + error + data[cut:]


@pytest.mark.parametrize("after", ["content_block_delta", "message_delta"])
def test_error_event_mid_stream_ends_in_error_keeping_usage(
    after: str, replay: ReplayServer
) -> None:
    entry_id = "anthropic/pai_thinking_part_stream"
    data = with_error_after(body(entry_id), after, "overloaded_error")
    replay.queue(Reply(body=data))
    turn = final(run_stream(API, replay))
    events = arrived(data[: data.index(b"event: error")])
    assert turn.ended is Ended.ERROR
    assert turn.error is not None
    assert (turn.error.type, turn.error.message) == ("overloaded", "Overloaded")
    assert turn.usage.counts() == expected_after(entry_id, events)
    assert turn.usage.input_tokens == 43
    assert turn.reasoning  # what arrived before the error is kept


def test_unauthorized_names_the_key_variable_and_is_not_retried(replay: ReplayServer) -> None:
    replay.queue(
        Reply.error(
            401,
            {
                "type": "error",
                "error": {"type": "authentication_error", "message": "invalid x-api-key"},
            },
        )
    )
    turn = final(run_stream(API, replay, max_retries=2))
    assert len(replay.received) == 1
    assert turn.ended is Ended.ERROR
    assert turn.error is not None
    assert (turn.error.type, turn.error.status) == ("auth", 401)
    assert "ANTHROPIC_API_KEY" in turn.error.message
    assert "invalid x-api-key" in turn.error.message
    assert turn.usage == Usage.reported(0, 0, 0, 0, 0)  # refused: billed nothing, and known to be


def test_rate_limit_is_retried_then_succeeds(replay: ReplayServer) -> None:
    entry_id = "anthropic/lcg_create_message_stream"
    limited = {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}}
    replay.queue(
        Reply.error(429, limited, headers={"retry-after": "0", **FAST_RETRY}),
        Reply.recorded(entry_id),
    )
    turn = final(run_stream(API, replay, max_retries=2))
    assert len(replay.received) == 2
    assert turn.ended is Ended.COMPLETE
    assert turn.usage.counts() == entry(entry_id)["expected"]["usage"]


@pytest.mark.parametrize(
    ("status", "error_type", "kind"),
    [
        (429, "rate_limit_error", "rate_limit"),
        (500, "api_error", "server"),
        (529, "overloaded_error", "overloaded"),
    ],
)
def test_status_errors_after_retries(
    status: int, error_type: str, kind: str, replay: ReplayServer
) -> None:
    payload = {"type": "error", "error": {"type": error_type, "message": "try later"}}
    replay.queue(*(Reply.error(status, payload, headers=FAST_RETRY) for _ in range(3)))
    turn = final(run_stream(API, replay, max_retries=2))
    assert len(replay.received) == 3
    assert turn.ended is Ended.ERROR
    assert turn.error is not None
    assert (turn.error.type, turn.error.status) == (kind, status)
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
    entry_id = "anthropic/otl_message_streaming_claude3_haiku_oldformat"
    replay.queue(Reply.recorded(entry_id, cut_after=len(body(entry_id)) // 2))
    turn = final(run_stream(API, replay))
    assert turn.ended is Ended.INTERRUPTED
    assert turn.error is not None and turn.error.type == "connection"
    assert turn.usage.input_tokens == 17 and turn.usage.output_tokens is None


def test_unreachable_server_is_a_connection_error() -> None:
    with socket.socket() as s:  # a loopback port that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    endpoint = Endpoint("anthropic", f"http://127.0.0.1:{port}", "k", "ANTHROPIC_API_KEY", 0)
    with closing(AnthropicProvider(endpoint)) as p:
        turn = final(list(p.stream(Request("m", user()))))
    assert turn.ended is Ended.ERROR
    assert turn.error is not None and turn.error.type == "connection"


def test_a_body_that_is_not_an_event_stream_ends_in_error(replay: ReplayServer) -> None:
    replay.queue(Reply(body=b'{"ok": true}', content_type="application/json"))
    turn = final(run_stream(API, replay))
    assert turn.ended is Ended.ERROR
    assert turn.error is not None and turn.error.type == "bad_response"


# Tool calls


TOOL_ARGS = {"path": "src/é.py", "lines": [1, 2], "opts": {"deep": True}}


def block(kind: str, index: int, **fields: Any) -> bytes:
    return sse(kind, {"type": kind, "index": index, **fields})


def tool_stream(*, cut_in_second_call: bool = False) -> bytes:
    """A Messages stream in the wire format the recordings show: text, then two tool calls."""
    usage = {
        "input_tokens": 30,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 1000,
        "output_tokens": 1,
    }
    message = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "content": [],
        "model": "claude-sonnet-4-5-20250929",
        "stop_reason": None,
        "usage": usage,
    }
    args = json.dumps(TOOL_ARGS, ensure_ascii=False)
    out = [
        sse("message_start", {"type": "message_start", "message": message}),
        block("content_block_start", 0, content_block={"type": "text", "text": ""}),
        block("content_block_delta", 0, delta={"type": "text_delta", "text": "Reading."}),
        block("content_block_stop", 0),
        block(
            "content_block_start",
            1,
            content_block={"type": "tool_use", "id": "toolu_1", "name": "read", "input": {}},
        ),
        *(
            block("content_block_delta", 1, delta={"type": "input_json_delta", "partial_json": p})
            for p in ["", *(args[i : i + 7] for i in range(0, len(args), 7))]
        ),
        block("content_block_stop", 1),
        block(
            "content_block_start",
            2,
            content_block={"type": "tool_use", "id": "toolu_2", "name": "list", "input": {}},
        ),
    ]
    if not cut_in_second_call:
        stop = {"stop_reason": "tool_use", "stop_sequence": None}
        out += [
            block("content_block_stop", 2),
            sse(
                "message_delta",
                {"type": "message_delta", "delta": stop, "usage": {"output_tokens": 57}},
            ),
            sse("message_stop", {"type": "message_stop"}),
        ]
    return b"".join(out)


def test_tool_calls_are_assembled_from_partial_json(replay: ReplayServer) -> None:
    replay.queue(Reply(body=tool_stream(), chunk_size=5))
    events = run_stream(API, replay)
    turn = final(events)
    calls = [e.call for e in events if isinstance(e, ToolCallEvent)]
    assert calls == [
        ToolCall("toolu_1", "read", json.dumps(TOOL_ARGS, ensure_ascii=False)),
        ToolCall("toolu_2", "list", "{}"),
    ]
    assert calls[0].parsed_arguments() == TOOL_ARGS
    assert turn.tool_calls == tuple(calls)
    assert turn.stop_reason == "tool_use"
    assert turn.text == "Reading."
    assert turn.usage.counts() == {
        "input_tokens": 1030,
        "cache_read_tokens": 1000,
        "cache_write_tokens": 0,
        "output_tokens": 57,
        "reasoning_tokens": 0,
    }


def test_a_tool_call_cut_before_its_end_is_not_emitted(replay: ReplayServer) -> None:
    replay.queue(Reply(body=tool_stream(cut_in_second_call=True)))
    events = run_stream(API, replay)
    turn = final(events)
    assert [e.call.id for e in events if isinstance(e, ToolCallEvent)] == ["toolu_1"]
    assert [c.id for c in turn.tool_calls] == ["toolu_1"]
    assert turn.ended is Ended.INTERRUPTED


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
            tool_calls=(ToolCall("t1", "read", '{"path": "a.py"}'), ToolCall("t2", "list", "{bad")),
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


def test_request_converts_messages_and_places_cache_breakpoints(replay: ReplayServer) -> None:
    entry_id = "anthropic/lcg_create_message_stream"
    replay.queue(Reply.recorded(entry_id))
    request = Request("claude-x", conversation(), system="be brief", tools=TOOLS, max_tokens=321)
    final(stream(replay, request))
    sent = replay.received[0].json
    ephemeral = {"type": "ephemeral"}
    assert replay.received[0].path == "/v1/messages"
    headers = headers_of(replay)
    assert (headers["x-api-key"], headers["anthropic-version"]) == ("test-key", "2023-06-01")
    assert "authorization" not in headers
    assert sent["model"] == "claude-x" and sent["max_tokens"] == 321 and sent["stream"] is True
    assert sent["system"] == [{"type": "text", "text": "be brief", "cache_control": ephemeral}]
    assert [t.get("cache_control") for t in sent["tools"]] == [None, ephemeral]
    assert sent["tools"][0] == {
        "name": "read",
        "description": "Read a file.",
        "input_schema": TOOLS[0].parameters,
    }
    assert sent["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "look at a.py"}]},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Reading."},
                {"type": "tool_use", "id": "t1", "name": "read", "input": {"path": "a.py"}},
                {"type": "tool_use", "id": "t2", "name": "list", "input": {}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "t1", "content": "print(1)"},
                {"type": "tool_result", "tool_use_id": "t2", "content": "no", "is_error": True},
                {"type": "text", "text": "go on", "cache_control": ephemeral},
            ],
        },
    ]


def test_one_hour_cache_and_stable_prefix_bytes(replay: ReplayServer) -> None:
    entry_id = "anthropic/lcg_create_message_stream"
    replay.queue(Reply.recorded(entry_id), Reply.recorded(entry_id))
    first = Request("m", user("one"), system="sys", tools=TOOLS, cache_ttl="1h")
    second = Request(
        "m",
        [*conversation(), Message(role="user", text="two")],
        system="sys",
        tools=TOOLS,
        cache_ttl="1h",
    )
    with provider(replay) as chat:
        final(list(chat.stream(first)))
        final(list(chat.stream(second)))
    a, b = (r.body for r in replay.received)
    for key in ("system", "tools"):
        assert raw_value(a, key) == raw_value(b, key)
    one_hour = {"type": "ephemeral", "ttl": "1h"}
    sent = replay.received[1].json
    assert sent["system"][0]["cache_control"] == one_hour
    assert sent["tools"][-1]["cache_control"] == one_hour
    assert sent["messages"][-1]["content"][-1]["cache_control"] == one_hour
    marked = [c for m in sent["messages"] for c in m["content"] if "cache_control" in c]
    assert len(marked) == 1  # system + tools + one message breakpoint: within the limit of 4


def test_no_system_and_no_tools_are_left_out(replay: ReplayServer) -> None:
    replay.queue(Reply.recorded("anthropic/lcg_create_message_stream"))
    final(stream(replay, Request("m", user())))
    sent = replay.received[0].json
    assert "system" not in sent and "tools" not in sent
    assert sent["messages"] == [
        {
            "role": "user",
            "content": [{"type": "text", "text": "hi", "cache_control": {"type": "ephemeral"}}],
        }
    ]


# Ctrl-C


def slow_reply(entry_id: str) -> Reply:
    """The body up to message_delta at once, the rest after a pause."""
    data = body(entry_id)
    return Reply.recorded(
        entry_id, chunk_size=data.index(b"event: message_delta"), delay=0.6, delay_first=False
    )


def test_ctrl_c_thrown_in_at_a_yield_ends_with_an_interrupted_record(
    replay: ReplayServer,
) -> None:
    entry_id = "anthropic/otl_prompt_caching_stream_read"
    replay.queue(slow_reply(entry_id))
    with provider(replay) as p:
        gen = p.stream(Request("m", user()))
        first = next(e for e in gen if isinstance(e, TextDelta))
        turn = gen.throw(KeyboardInterrupt())
    assert isinstance(turn, AssistantTurn)
    assert turn.ended is Ended.INTERRUPTED
    assert turn.error is not None and turn.error.type == "interrupted"
    data = body(entry_id)
    assert turn.usage.counts() == expected_after(
        entry_id, arrived(data[: data.index(b"event: message_delta")])
    )
    assert (turn.usage.input_tokens, turn.usage.cache_read_tokens) == (1169, 1165)
    assert turn.usage.output_tokens is None and turn.usage.output_unknown == 1
    assert turn.text == first.text  # nothing after the throw was taken in
    with pytest.raises(StopIteration):
        next(gen)


def test_ctrl_c_during_a_blocking_read_ends_with_an_interrupted_record(
    replay: ReplayServer,
) -> None:
    entry_id = "anthropic/otl_prompt_caching_stream_write"
    replay.queue(slow_reply(entry_id))
    with provider(replay) as p:
        # The rest of the first fragment is read at once; then the read blocks for 0.6 s.
        turn = final(read_with_ctrl_c(p.stream(Request("m", user())), after=0.25))
    sent = body(entry_id)
    events_before = arrived(sent[: sent.index(b"event: message_delta")])
    assert turn.ended is Ended.INTERRUPTED
    assert turn.error is not None and turn.error.type == "interrupted"
    assert turn.usage.counts() == expected_after(entry_id, events_before)
    assert turn.usage.output_tokens is None and turn.usage.input_tokens == 1169
    assert turn.text == text_of(events_before)
