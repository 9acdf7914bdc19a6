"""The OpenAI Chat Completions provider against the replay server.

Expected results after a cut are worked out here from the bytes that were sent, by a rule
simpler than the provider's: an event counts once its blank line has arrived; the usage is
the manifest's once any arrived event carries a usage object, unknown before; reading
stops at an error event; a clean end counts as complete once a finish_reason has arrived.
"""

from __future__ import annotations

import json
import socket
from contextlib import closing
from typing import Any

import pytest
import wire
from helpers import (
    UNKNOWN,
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
    ReasoningDelta,
    TextDelta,
    ToolCall,
    ToolCallEvent,
    ToolResult,
    ToolSpec,
)
from chit.providers import Endpoint, Request
from chit.providers.openai_chat import OpenAIChatProvider
from chit.usage import Usage

API = "openai_chat"
ENTRIES = [e["id"] for e in manifest() if e["api"] == API]
FAST_RETRY = {"retry-after-ms": "1"}  # a 1 ms wait instead of the 0.5 s backoff


def provider(server: ReplayServer, max_retries: int = 0) -> closing[OpenAIChatProvider]:
    return closing(OpenAIChatProvider(endpoint_for(API, server, max_retries=max_retries)))


def stream(server: ReplayServer, request: Request | None = None, **kw: Any) -> list[Event]:
    with provider(server, **kw) as p:
        return list(p.stream(request or Request("m", user())))


def sse(*chunks: dict[str, Any] | str, done: bool = True) -> bytes:
    """Chunks framed as the servers frame them, then ``[DONE]``."""
    frames = [c if isinstance(c, str) else json.dumps(c) for c in chunks]
    return "".join(f"data: {f}\n\n" for f in [*frames, *(["[DONE]"] if done else [])]).encode()


def chunk(delta: dict[str, Any] | None = None, finish: str | None = None, **top: Any) -> dict:
    """One ``chat.completion.chunk`` with a single choice (or none when ``delta`` is None)."""
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    return {
        "id": "c1",
        "object": "chat.completion.chunk",
        "model": "m-1",
        "choices": choices,
        **top,
    }


# What a reader can have seen of a body prefix, by the rule of the module docstring


def arrived(prefix: bytes) -> list[tuple[str, str]]:
    """(event name, data) of the events a reader can have seen: those ended by a blank line."""
    *complete, _partial = prefix.decode("utf-8", "replace").split("\n\n")
    out = []
    for segment in complete:
        lines = segment.split("\n")
        name = next((ln[6:].strip() for ln in lines if ln.startswith("event:")), "")
        data = "\n".join(ln[5:].lstrip(" ") for ln in lines if ln.startswith("data:"))
        if data:
            out.append((name, data))
    return out


def expected_after(entry_id: str, prefix: bytes, clean: bool) -> tuple[dict[str, Any], str]:
    """The usage and ending the contract gives when only ``prefix`` arrived."""
    seen_usage = finished = False
    ended = "interrupted"
    for name, data in arrived(prefix):
        if data == "[DONE]":
            ended = "complete"
            break
        obj = json.loads(data)
        choices = obj.get("choices") or []
        carriers = [obj, *choices, obj.get("x_groq") or {}]
        seen_usage = seen_usage or any(c.get("usage") for c in carriers)
        finished = finished or any(c.get("finish_reason") for c in choices)
        if name == "error" or obj.get("error"):
            ended = "error"
            break
    else:
        if clean and finished:
            ended = "complete"
    usage = entry(entry_id)["expected"]["usage"] if seen_usage else UNKNOWN
    return usage, ended


def usage_event_end(data: bytes) -> int | None:
    """The offset just past the blank line ending the first event that carries usage."""
    for marker in (b'"usage":{', b'"usage": {'):
        at = data.find(marker)
        if at >= 0:
            return data.index(b"\n\n", at) + 2
    return None


# Recorded streams: whole, byte by byte, cut short


@pytest.mark.parametrize("entry_id", ENTRIES)
def test_byte_at_a_time_gives_the_same_record(entry_id: str, replay: ReplayServer) -> None:
    replay.queue(Reply.recorded(entry_id))
    whole = run_stream(API, replay)
    trickled = read_body(API, bytewise(body(entry_id)), "text/event-stream")
    assert final(trickled) == final(whole)
    assert final(trickled).usage.counts() == entry(entry_id)["expected"]["usage"]
    assert trickled == whole  # the same deltas too


@pytest.mark.parametrize("entry_id", ENTRIES)
def test_cut_stream_keeps_exactly_what_arrived(entry_id: str, replay: ReplayServer) -> None:
    data = body(entry_id)
    n = len(data)
    cuts = {n // 4, n // 2, 3 * n // 4, n - 1}
    end = usage_event_end(data)
    if end is not None:
        cuts |= {end - 1, end}
    for cut in sorted(c for c in cuts if 0 < c < n):
        for clean in (False, True):
            replay.queue(Reply.recorded(entry_id, cut_after=cut, clean_cut=clean))
            turn = final(run_stream(API, replay))
            usage, ended = expected_after(entry_id, data[:cut], clean)
            assert (turn.usage.counts(), turn.ended.value) == (usage, ended), (cut, clean)
            if ended == "interrupted":
                assert turn.error is not None and turn.error.type == "connection"


def test_a_usage_event_cut_before_its_blank_line_has_not_arrived(replay: ReplayServer) -> None:
    entry_id = "openai/crew_openai_cached_prompt_tokens_0"
    data = body(entry_id)
    end = usage_event_end(data)
    assert end is not None
    replay.queue(
        Reply.recorded(entry_id, cut_after=end - 1),
        Reply.recorded(entry_id, cut_after=end),
    )
    before, after = final(run_stream(API, replay)), final(run_stream(API, replay))
    assert before.usage.counts() == UNKNOWN and before.usage.input_unknown == 1
    assert after.usage.counts() == {
        "input_tokens": 1144,
        "cache_read_tokens": 1024,
        "cache_write_tokens": 0,
        "output_tokens": 2,
        "reasoning_tokens": 0,
    }
    assert before.ended is after.ended is Ended.INTERRUPTED


def test_error_chunk_keeps_the_usage_riding_on_it(replay: ReplayServer) -> None:
    replay.queue(Reply.recorded("openrouter/pai_openrouter_error_in_chunk"))
    turn = final(run_stream(API, replay))
    assert turn.ended is Ended.ERROR
    assert turn.error is not None and "Token limit reached" in turn.error.message
    assert turn.usage.input_tokens == 43 and turn.usage.output_tokens == 10
    assert turn.extras["provider_cost"] == "0"
    assert turn.reasoning.startswith("We need to respond")


def test_groq_error_event_ends_in_error(replay: ReplayServer) -> None:
    replay.queue(Reply.recorded("groq/pai_groq_error_event_midstream"))
    events = run_stream(API, replay)
    turn = final(events)
    assert turn.ended is Ended.ERROR
    assert turn.error is not None and turn.error.type == "bad_request"
    assert "Tool call validation failed" in turn.error.message
    assert turn.reasoning == "".join(e.text for e in events if isinstance(e, ReasoningDelta))
    assert turn.reasoning.startswith("We need to call the tool")


# Usage rules, on hand-built chunks in the wire format


def usage_of(replay: ReplayServer, *chunks: dict[str, Any] | str) -> AssistantTurn:
    replay.queue(Reply(body=sse(*chunks)))
    return final(stream(replay))


def test_usage_inside_choices(replay: ReplayServer) -> None:
    # Moonshot: usage inside the choice, cache under top-level cached_tokens.
    u = {"prompt_tokens": 20, "completion_tokens": 5, "total_tokens": 25, "cached_tokens": 8}
    finish = chunk({}, "stop")
    finish["choices"][0]["usage"] = u
    turn = usage_of(replay, chunk({"content": "hi"}), finish)
    assert turn.usage.counts() == {
        "input_tokens": 20,
        "cache_read_tokens": 8,
        "cache_write_tokens": 0,
        "output_tokens": 5,
        "reasoning_tokens": 0,
    }
    assert turn.extras["raw_usage"] == [u]


def test_usage_under_x_groq(replay: ReplayServer) -> None:
    u = {"prompt_tokens": 30, "completion_tokens": 7, "total_tokens": 37, "queue_time": 0.01}
    turn = usage_of(replay, chunk({"content": "hi"}), chunk({}, "stop", x_groq={"usage": u}))
    assert (turn.usage.input_tokens, turn.usage.output_tokens) == (30, 7)
    assert turn.extras["raw_usage"] == [u]


def test_a_later_null_usage_does_not_erase(replay: ReplayServer) -> None:
    u = {"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14}
    turn = usage_of(
        replay,
        chunk({"content": "a"}, usage=None),
        chunk({}, "stop", usage=u),
        chunk({"content": ""}, usage=None),
        chunk(None, usage={}),
    )
    assert (turn.usage.input_tokens, turn.usage.output_tokens) == (11, 3)


def test_the_last_usage_wins_and_nothing_is_summed(replay: ReplayServer) -> None:
    first = {"prompt_tokens": 11, "completion_tokens": 1, "total_tokens": 12}
    last = {"prompt_tokens": 11, "completion_tokens": 9, "total_tokens": 20}
    turn = usage_of(replay, chunk({"content": "a"}, usage=first), chunk({}, "stop", usage=last))
    assert (turn.usage.input_tokens, turn.usage.output_tokens) == (11, 9)
    assert turn.extras["raw_usage"] == [first, last]


@pytest.mark.parametrize(
    ("p", "c", "t", "r", "output", "reasoning"),
    [
        (10, 4, 30, 2, 20, 16),  # xAI: reasoning outside completion_tokens
        (10, 20, 40, 15, 30, 15),  # a smaller excess than the reported reasoning
        (10, 4, 30, None, 20, 16),  # Gemini: thinking left out, no breakdown
        (10, 4, 14, 2, 4, 2),  # total adds up: completion_tokens stands
        (10, 4, None, 3, 4, 3),  # no total reported
    ],
)
def test_hidden_output_rule(
    p: int, c: int, t: int | None, r: int | None, output: int, reasoning: int, replay: ReplayServer
) -> None:
    u: dict[str, Any] = {"prompt_tokens": p, "completion_tokens": c}
    if t is not None:
        u["total_tokens"] = t
    if r is not None:
        u["completion_tokens_details"] = {"reasoning_tokens": r}
    turn = usage_of(replay, chunk({"content": "x"}), chunk({}, "stop", usage=u))
    assert (turn.usage.output_tokens, turn.usage.reasoning_tokens) == (output, reasoning)
    assert turn.usage.input_tokens == p


def test_deepseek_cache_hit_tokens(replay: ReplayServer) -> None:
    u = {
        "prompt_tokens": 100,
        "completion_tokens": 5,
        "total_tokens": 105,
        "prompt_cache_hit_tokens": 64,
        "prompt_cache_miss_tokens": 36,
    }
    turn = usage_of(replay, chunk({}, "stop", usage=u))
    assert (turn.usage.input_tokens, turn.usage.cache_read_tokens) == (100, 64)
    assert not turn.usage.cache_write_tokens  # the 36 missed tokens are uncached input


def test_null_details_give_zero_parts(replay: ReplayServer) -> None:
    u = {
        "prompt_tokens": 9,
        "completion_tokens": 2,
        "total_tokens": 11,
        "prompt_tokens_details": None,
        "completion_tokens_details": None,
    }
    turn = usage_of(replay, chunk({}, "stop", usage=u))
    assert turn.usage.counts() == {
        "input_tokens": 9,
        "cache_read_tokens": 0,
        "cache_write_tokens": 0,
        "output_tokens": 2,
        "reasoning_tokens": 0,
    }


def test_a_stream_without_usage_leaves_counts_unknown(replay: ReplayServer) -> None:
    turn = usage_of(replay, chunk({"content": "hi"}), chunk({}, "stop"))
    assert turn.ended is Ended.COMPLETE
    assert turn.usage.counts() == UNKNOWN
    assert (turn.usage.input_unknown, turn.usage.output_unknown) == (1, 1)
    assert "raw_usage" not in turn.extras


def test_extras_keep_what_the_five_counts_do_not(replay: ReplayServer) -> None:
    u = {
        "prompt_tokens": 2000,
        "completion_tokens": 40,
        "total_tokens": 2040,
        "cost": 0.000837,
        "prompt_tokens_details": {
            "cached_tokens": 1024,
            "cache_write_tokens": 900,
            "cache_write_tokens_details": {"ttl_30m_tokens": 600, "ttl_12h_tokens": 300},
            "audio_tokens": 12,
        },
        "completion_tokens_details": {"reasoning_tokens": 8, "audio_tokens": 3},
    }
    turn = usage_of(replay, chunk({"content": "x"}, service_tier="default"), chunk(None, usage=u))
    assert turn.usage.counts() == {
        "input_tokens": 2000,
        "cache_read_tokens": 1024,
        "cache_write_tokens": 900,
        "output_tokens": 40,
        "reasoning_tokens": 8,
    }
    assert turn.extras["provider_cost"] == "0.000837"
    assert turn.extras["service_tier"] == "default"
    assert turn.extras["cache_write_ttl"] == {"ttl_30m_tokens": 600, "ttl_12h_tokens": 300}
    assert turn.extras["raw_usage"] == [u]  # audio tokens are kept there


def test_model_is_the_last_non_empty_one_reported(replay: ReplayServer) -> None:
    # Azure sends a first chunk with an empty model (prompt filter results).
    turn = usage_of(replay, chunk(None, model=""), chunk({"content": "x"}), chunk({}, "stop"))
    assert turn.model == "m-1" and turn.model_requested == "m"
    assert turn.stop_reason == "stop"


def test_mistral_typed_content_parts(replay: ReplayServer) -> None:
    thinking = {"type": "thinking", "thinking": [{"type": "text", "text": "hmm"}]}
    events = stream(
        replay.queue(
            Reply(
                body=sse(
                    chunk({"content": [thinking]}),
                    chunk({"content": [{"type": "text", "text": "yes"}]}),
                    chunk({}, "stop"),
                )
            )
        )
    )
    turn = final(events)
    assert (turn.reasoning, turn.text) == ("hmm", "yes")
    assert [type(e) for e in events[:2]] == [ReasoningDelta, TextDelta]


# Tool calls and the request sent


def two_parallel_calls() -> bytes:
    """Two calls whose fragments arrive interleaved, each piece tagged by index."""

    def calls(*fragments: dict[str, Any]) -> dict[str, Any]:
        return chunk({"tool_calls": list(fragments)})

    return sse(
        chunk({"role": "assistant", "content": None}),
        calls({"index": 0, "id": "call_a", "type": "function", "function": {"name": "read"}}),
        calls({"index": 0, "function": {"arguments": '{"pa'}}),
        calls({"index": 1, "id": "call_b", "type": "function", "function": {"name": "list"}}),
        calls({"index": 0, "function": {"arguments": 'th": "a.py"}'}}),
        calls({"index": 1, "function": {"arguments": '{"dir": '}}, {"index": 1}),
        calls({"index": 1, "function": {"arguments": '"."}'}}),
        chunk({}, "tool_calls"),
        chunk(None, usage={"prompt_tokens": 50, "completion_tokens": 20, "total_tokens": 70}),
    )


def test_parallel_tool_calls_are_assembled_by_index(replay: ReplayServer) -> None:
    replay.queue(Reply(body=two_parallel_calls()))
    events = stream(replay)
    turn = final(events)
    expected = (
        ToolCall("call_a", "read", '{"path": "a.py"}'),
        ToolCall("call_b", "list", '{"dir": "."}'),
    )
    assert tuple(e.call for e in events if isinstance(e, ToolCallEvent)) == expected
    assert turn.tool_calls == expected
    assert turn.stop_reason == "tool_calls" and turn.ended is Ended.COMPLETE
    assert [c.parsed_arguments() for c in turn.tool_calls] == [{"path": "a.py"}, {"dir": "."}]


def test_a_tool_call_cut_before_its_end_is_not_kept(replay: ReplayServer) -> None:
    data = two_parallel_calls()
    cut = data.index(b'\\".\\"}')  # inside the second call's arguments
    replay.queue(Reply(body=data, cut_after=cut))
    events = stream(replay)
    turn = final(events)
    assert turn.ended is Ended.INTERRUPTED
    assert not any(isinstance(e, ToolCallEvent) for e in events)
    # The first call was whole once the second began; the second is not.
    assert [c.id for c in turn.tool_calls] == ["call_a"]


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
            text="",
            reasoning="hidden",
            tool_calls=(ToolCall("t1", "read", '{"path": "a.py"}'), ToolCall("t2", "list", "{}")),
        ),
        Message(
            role="tool",
            tool_results=(
                ToolResult("t1", "read", "print(1)"),
                ToolResult("t2", "list", "no such dir", True),
            ),
        ),
        Message(role="assistant", text="It prints 1."),
        Message(role="user", text="thanks"),
    ]


def test_request_carries_messages_tools_and_results(replay: ReplayServer) -> None:
    replay.queue(Reply(body=wire.openai_chat("ok")))
    request = Request(
        "gpt-x", conversation(), system="be brief", tools=TOOLS, max_tokens=321, cache_key="s1"
    )
    final(stream(replay, request))
    sent = replay.received[0]
    assert sent.path == "/v1/chat/completions"
    assert headers_of(replay)["authorization"] == "Bearer test-key"
    assert sent.json == {
        "model": "gpt-x",
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "look at a.py"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "t1",
                        "type": "function",
                        "function": {"name": "read", "arguments": '{"path": "a.py"}'},
                    },
                    {
                        "id": "t2",
                        "type": "function",
                        "function": {"name": "list", "arguments": "{}"},
                    },
                ],
            },
            {"role": "tool", "tool_call_id": "t1", "content": "print(1)"},
            {"role": "tool", "tool_call_id": "t2", "content": "no such dir"},
            {"role": "assistant", "content": "It prints 1."},
            {"role": "user", "content": "thanks"},
        ],
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": t.name,
                    "description": t.description,
                    "parameters": t.parameters,
                },
            }
            for t in TOOLS
        ],
        "max_tokens": 321,  # not OpenAI's own endpoint: no prompt_cache_key either
        "stream": True,
        "stream_options": {"include_usage": True},
    }


def test_system_and_tools_are_byte_stable_across_requests(replay: ReplayServer) -> None:
    replay.queue(Reply(body=wire.openai_chat("a")), Reply(body=wire.openai_chat("b")))
    first = Request("m", user("one"), system="sys", tools=TOOLS)
    longer = [*first.messages, Message(role="assistant", text="a"), *user("two")]
    with provider(replay) as p:
        final(list(p.stream(first)))
        final(list(p.stream(Request("m", longer, system="sys", tools=TOOLS))))
    a, b = (r.body for r in replay.received)
    assert raw_value(a, "tools") == raw_value(b, "tools")
    assert json.loads(a)["messages"] == [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "one"},
    ]
    # The second request's messages begin with the first's bytes: the cached prefix holds.
    assert raw_value(b, "messages").startswith(raw_value(a, "messages")[:-1])


@pytest.mark.parametrize(
    ("base_url", "cache_key", "max_name"),
    [
        (None, True, "max_completion_tokens"),
        ("https://api.openai.com/v1", True, "max_completion_tokens"),
        ("https://my-resource.openai.azure.com/openai/v1", False, "max_completion_tokens"),
        ("https://api.deepseek.com", False, "max_tokens"),
        ("https://openrouter.ai/api/v1", False, "max_tokens"),
        ("http://127.0.0.1:8000/v1", False, "max_tokens"),
    ],
)
def test_prompt_cache_key_only_for_openais_own_endpoint(
    base_url: str | None, cache_key: bool, max_name: str
) -> None:
    # Building the parameters sends nothing, so OpenAI's own host can be checked offline.
    with closing(OpenAIChatProvider(Endpoint("openai", base_url, "k", "OPENAI_API_KEY"))) as p:
        params = p.body(Request("m", user(), max_tokens=99, cache_key="sess-1"))
    assert ("prompt_cache_key" in params) is cache_key
    if cache_key:
        assert params["prompt_cache_key"] == "sess-1"
    assert params[max_name] == 99
    other = "max_tokens" if max_name == "max_completion_tokens" else "max_completion_tokens"
    assert other not in params


def test_no_cache_key_no_system_and_no_tools_are_left_out(replay: ReplayServer) -> None:
    replay.queue(Reply(body=wire.openai_chat("ok")))
    final(stream(replay))
    sent = replay.received[0].json
    assert sent["messages"] == [{"role": "user", "content": "hi"}]
    assert "tools" not in sent and "prompt_cache_key" not in sent


# stream_options refused


STREAM_OPTIONS_400 = {
    "error": {
        "message": "Unrecognized request argument supplied: stream_options",
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }
}
INCLUDE_USAGE_422 = {
    "detail": [
        {
            "type": "extra_forbidden",
            "loc": ["body", "include_usage"],
            "msg": "Extra inputs are not permitted",
        }
    ]
}


@pytest.mark.parametrize(
    ("status", "payload"), [(400, STREAM_OPTIONS_400), (422, INCLUDE_USAGE_422)]
)
def test_refused_stream_options_are_dropped_once_and_remembered(
    status: int, payload: dict[str, Any], replay: ReplayServer
) -> None:
    replay.queue(
        Reply.error(status, payload),
        Reply(body=wire.openai_chat("hi", prompt_tokens=12, completion_tokens=3)),
        Reply(body=wire.openai_chat("again", prompt_tokens=20, completion_tokens=4)),
    )
    with provider(replay, max_retries=2) as p:
        turn = final(list(p.stream(Request("m", user()))))
        again = final(list(p.stream(Request("m", user("more")))))
    assert turn.ended is Ended.COMPLETE and turn.text == "hi"
    # The server sent usage unasked: it is still taken.
    assert (turn.usage.input_tokens, turn.usage.output_tokens) == (12, 3)
    first, retry, later = (r.json for r in replay.received)
    assert first["stream_options"] == {"include_usage": True}
    assert "stream_options" not in retry
    assert {k: v for k, v in first.items() if k != "stream_options"} == retry
    assert again.usage.input_tokens == 20
    assert "stream_options" not in later


def test_an_unrelated_bad_request_is_not_retried(replay: ReplayServer) -> None:
    payload = {"error": {"message": "Invalid value for 'temperature'", "type": "invalid"}}
    replay.queue(Reply.error(400, payload), Reply(body=wire.openai_chat("never")))
    turn = final(stream(replay, max_retries=2))
    assert len(replay.received) == 1
    assert turn.ended is Ended.ERROR
    assert turn.error is not None
    assert (turn.error.type, turn.error.status) == ("bad_request", 400)
    assert "temperature" in turn.error.message
    assert turn.usage == Usage.reported(0, 0, 0, 0, 0)  # refused: billed nothing, and known to be


# Faults


def test_unauthorized_names_the_key_variable_and_is_not_retried(replay: ReplayServer) -> None:
    payload = {"error": {"message": "Incorrect API key provided", "code": "invalid_api_key"}}
    replay.queue(Reply.error(401, payload), Reply(body=wire.openai_chat("never")))
    turn = final(stream(replay, max_retries=2))
    assert len(replay.received) == 1
    assert turn.ended is Ended.ERROR
    assert turn.error is not None and turn.error.type == "auth"
    assert "OPENAI_API_KEY" in turn.error.message and "test-key" not in turn.error.message


def test_rate_limit_is_retried_then_succeeds(replay: ReplayServer) -> None:
    limited = {"error": {"message": "Rate limit reached", "type": "requests"}}
    replay.queue(
        Reply.error(429, limited, headers=FAST_RETRY),
        Reply(body=wire.openai_chat("fine", prompt_tokens=7, completion_tokens=2)),
    )
    turn = final(stream(replay, max_retries=2))
    assert len(replay.received) == 2
    assert turn.ended is Ended.COMPLETE and turn.text == "fine"
    assert (turn.usage.input_tokens, turn.usage.output_tokens) == (7, 2)


@pytest.mark.parametrize(
    ("status", "kind"), [(429, "rate_limit"), (500, "server"), (503, "server"), (529, "overloaded")]
)
def test_status_errors_after_retries(status: int, kind: str, replay: ReplayServer) -> None:
    payload = {"error": {"message": "try later"}}
    replay.queue(*[Reply.error(status, payload, headers=FAST_RETRY) for _ in range(3)])
    turn = final(stream(replay, max_retries=2))
    assert len(replay.received) == 3  # the retries, then the error
    assert turn.ended is Ended.ERROR
    assert turn.error is not None
    assert (turn.error.type, turn.error.status) == (kind, status)
    assert "try later" in turn.error.message


def test_error_body_is_read_only_up_to_the_bound(replay: ReplayServer) -> None:
    # 200 KiB of HTML, then the connection drops: reading it all would fail on the drop.
    html = b"<html>" + b"x" * 200_000
    replay.queue(Reply(body=html, status=502, content_type="text/html", cut_after=len(html) - 10))
    turn = final(stream(replay))
    assert turn.ended is Ended.ERROR
    assert turn.error is not None
    assert (turn.error.type, turn.error.status) == ("server", 502)


def test_dropped_connection_mid_stream_is_interrupted(replay: ReplayServer) -> None:
    entry_id = "openai/lcg_with_streaming"
    data = body(entry_id)
    replay.queue(Reply.recorded(entry_id, cut_after=len(data) // 2))
    events = run_stream(API, replay)
    turn = final(events)
    assert turn.ended is Ended.INTERRUPTED
    assert turn.error is not None and turn.error.type == "connection"
    assert turn.usage.counts() == UNKNOWN
    assert turn.text and turn.text == "".join(e.text for e in events if isinstance(e, TextDelta))


def test_unreachable_server_is_a_connection_error() -> None:
    with socket.socket() as s:  # a loopback port that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    endpoint = Endpoint("openai", f"http://127.0.0.1:{port}/v1", "k", "OPENAI_API_KEY", 0)
    with closing(OpenAIChatProvider(endpoint)) as p:
        turn = final(list(p.stream(Request("m", user()))))
    assert turn.ended is Ended.ERROR
    assert turn.error is not None and turn.error.type == "connection"


def test_a_body_that_is_not_an_event_stream_ends_in_error(replay: ReplayServer) -> None:
    replay.queue(Reply(body=b'{"ok": true}', content_type="application/json"))
    turn = final(stream(replay))
    assert turn.ended is Ended.ERROR
    assert turn.error is not None and turn.error.type == "bad_response"


# Ctrl-C


def slow_reply() -> Reply:
    """A text stream whose first two chunks come at once and the rest after a pause."""
    data = wire.openai_chat("The quick brown fox jumps over the lazy dog", prompt_tokens=9)
    first_text = data.index(b"\n\n", data.index(b'"content": "The quic"')) + 2
    return Reply(body=data, chunk_size=first_text, delay=0.6, delay_first=False)


def test_ctrl_c_thrown_in_at_a_yield_ends_with_an_interrupted_record(
    replay: ReplayServer,
) -> None:
    replay.queue(slow_reply())
    with provider(replay) as p:
        gen = p.stream(Request("m", user()))
        first = next(e for e in gen if isinstance(e, TextDelta))
        turn = gen.throw(KeyboardInterrupt())
    assert isinstance(turn, AssistantTurn)
    assert turn.ended is Ended.INTERRUPTED
    assert turn.error is not None and turn.error.type == "interrupted"
    assert turn.usage.counts() == UNKNOWN and turn.usage.output_unknown == 1
    assert turn.text == first.text == "The quic"  # nothing after the throw was taken in
    with pytest.raises(StopIteration):
        next(gen)


def test_ctrl_c_during_a_blocking_read_ends_with_an_interrupted_record(
    replay: ReplayServer,
) -> None:
    replay.queue(slow_reply())
    with provider(replay) as p:
        # The rest of the first fragment is read at once; then the read blocks for 0.6 s.
        events = read_with_ctrl_c(p.stream(Request("m", user())), after=0.25)
    turn = final(events)
    assert turn.ended is Ended.INTERRUPTED
    assert turn.error is not None and turn.error.type == "interrupted"
    assert turn.usage.counts() == UNKNOWN
    assert turn.model == "gpt-4.1-2025-04-14"
    assert turn.text == "".join(e.text for e in events if isinstance(e, TextDelta)) != ""
