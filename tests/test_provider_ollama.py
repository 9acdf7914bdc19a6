"""The Ollama provider against the replay server.

Expected results after a cut are worked out here from the bytes that were sent, by a rule
simpler than the provider's: a line counts once all its bytes have arrived (its newline
need not); the usage is known (the manifest's figures) once the ``done`` line has.
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
from ollama._client import _parse_host as ollama_parse_host
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
from chit.providers.ollama import OllamaProvider, parse_host
from chit.usage import Usage

API = "ollama_chat"
ENTRIES = [e["id"] for e in manifest() if e["api"] == API]
NDJSON = "application/x-ndjson"


def arrived(prefix: bytes, whole: bytes) -> list[dict[str, Any]]:
    """The lines of a body prefix that arrived whole, decoded."""
    full = whole.split(b"\n")
    return [
        json.loads(piece)
        for i, piece in enumerate(prefix.split(b"\n"))
        if piece.strip() and piece == full[i]
    ]


def text_of(lines: list[dict[str, Any]]) -> str:
    return "".join(line["message"].get("content", "") for line in lines if "message" in line)


def provider(server: ReplayServer) -> closing[OllamaProvider]:
    return closing(OllamaProvider(endpoint_for(API, server, max_retries=0)))


def stream(server: ReplayServer, request: Request) -> list[Event]:
    with provider(server) as p:
        return list(p.stream(request))


# Bodies in the wire format the recordings show (compact JSON, one object a line)

MODEL = "qwen3:8b"


def ndjson(*lines: dict[str, Any]) -> bytes:
    return b"".join(json.dumps(line, separators=(",", ":")).encode() + b"\n" for line in lines)


def piece(content: str = "", **message: Any) -> dict[str, Any]:
    return {
        "model": MODEL,
        "created_at": "2025-09-01T10:00:00.000000Z",
        "message": {"role": "assistant", "content": content, **message},
        "done": False,
    }


def done(**counts: Any) -> dict[str, Any]:
    line: dict[str, Any] = {
        "model": MODEL,
        "created_at": "2025-09-01T10:00:01.000000Z",
        "message": {"role": "assistant", "content": ""},
        "done_reason": "stop",
        "done": True,
        "total_duration": 2_000_000_000,
        "load_duration": 50_000_000,
        "prompt_eval_count": 1200,
        "prompt_eval_duration": 150_000_000,
        "eval_count": 40,
        "eval_duration": 800_000_000,
    }
    line.update(counts)
    return {k: v for k, v in line.items() if v is not None}


# Recorded streams, whole, byte by byte and cut short


@pytest.mark.parametrize("entry_id", ENTRIES)
def test_byte_at_a_time_gives_the_same_record(entry_id: str, replay: ReplayServer) -> None:
    replay.queue(Reply.recorded(entry_id))
    whole = final(run_stream(API, replay))
    data = body(entry_id)
    events = read_body(API, bytewise(data), entry(entry_id)["content_type"])
    trickled = final(events)
    assert trickled == whole
    assert trickled.usage.counts() == entry(entry_id)["expected"]["usage"]
    assert trickled.ended is Ended.COMPLETE
    assert trickled.text == text_of(arrived(data, data))
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == trickled.text


@pytest.mark.parametrize("clean", [False, True], ids=["dropped", "clean_cut"])
@pytest.mark.parametrize("entry_id", ENTRIES)
def test_cut_stream_keeps_exactly_what_arrived(
    entry_id: str, clean: bool, replay: ReplayServer
) -> None:
    data = body(entry_id)
    expected = entry(entry_id)["expected"]
    done_start = data.rindex(b"\n", 0, len(data) - 1) + 1
    first_end = data.index(b"\n") + 1
    marks = [first_end, done_start, len(data) - 1]
    cuts = sorted(
        {
            0,
            1,
            len(data),
            *(m + d for m in marks for d in (-1, 0, 1)),
            *range(0, len(data), len(data) // 7),
        }
    )
    for cut in cuts:
        replay.queue(Reply.recorded(entry_id, cut_after=cut, clean_cut=clean))
        turn = final(run_stream(API, replay))
        lines = arrived(data[:cut], data)
        finished = any(line.get("done") for line in lines)
        assert turn.usage.counts() == (expected["usage"] if finished else UNKNOWN), cut
        assert turn.usage.input_unknown == turn.usage.output_unknown == int(not finished), cut
        assert turn.ended is (Ended.COMPLETE if finished else Ended.INTERRUPTED), cut
        if not finished:
            assert turn.error is not None and turn.error.type == "connection", cut
        assert turn.text == text_of(lines), cut
        assert turn.model == (expected["model"] if lines else None), cut


def test_done_reason_length_is_the_stop_reason(replay: ReplayServer) -> None:
    replay.queue(Reply.recorded("ollama/lcg_generate_chat_done_reason_length"))
    turn = final(run_stream(API, replay))
    assert turn.stop_reason == "length"
    assert turn.ended is Ended.COMPLETE


def test_durations_and_tokens_per_second_are_kept(replay: ReplayServer) -> None:
    entry_id = "ollama/lcg_with_think"
    data = body(entry_id)
    last = arrived(data, data)[-1]
    replay.queue(Reply.recorded(entry_id))
    turn = final(run_stream(API, replay))
    assert turn.extras["durations_ns"] == {
        "total_duration": last["total_duration"],
        "load_duration": last["load_duration"],
        "prompt_eval_duration": last["prompt_eval_duration"],
        "eval_duration": last["eval_duration"],
    }
    rate = last["eval_count"] / (last["eval_duration"] / 1e9)
    assert turn.extras["tokens_per_second"] == pytest.approx(rate)
    assert 150 < turn.extras["tokens_per_second"] < 250  # 102 tokens in 0.52 s


# Hand-built streams


def test_cached_prompt_tokens_are_kept(replay: ReplayServer) -> None:
    data = ndjson(piece("Hel"), piece("lo"), done(prompt_eval_cached_count=1024))
    replay.queue(Reply(body=data, content_type=NDJSON))
    turn = final(run_stream(API, replay))
    assert turn.usage.counts() == {
        "input_tokens": 1200,
        "cache_read_tokens": 1024,
        "cache_write_tokens": 0,
        "output_tokens": 40,
        "reasoning_tokens": 0,
    }
    assert turn.extras["raw_usage"][0]["prompt_eval_cached_count"] == 1024
    assert turn.text == "Hello"
    assert turn.model == MODEL


def test_a_stream_served_as_application_json_reads_the_same(replay: ReplayServer) -> None:
    data = ndjson(piece("Hel"), piece("lo"), done())
    replay.queue(
        Reply(body=data, content_type=NDJSON), Reply(body=data, content_type="application/json")
    )
    as_ndjson = final(run_stream(API, replay))
    as_json = final(run_stream(API, replay))
    assert as_json == as_ndjson
    assert as_json.usage.input_tokens == 1200 and as_json.text == "Hello"


def test_missing_counts_are_unknown_not_zero(replay: ReplayServer) -> None:
    first = ndjson(piece("x"), done(eval_count=None))
    second = ndjson(piece("y"), done(prompt_eval_count=None))
    replay.queue(Reply(body=first, content_type=NDJSON), Reply(body=second, content_type=NDJSON))
    turn = final(run_stream(API, replay))
    assert turn.usage.counts() == {
        "input_tokens": 1200,
        "cache_read_tokens": 0,
        "cache_write_tokens": 0,
        "output_tokens": None,
        "reasoning_tokens": 0,
    }
    assert (turn.usage.input_unknown, turn.usage.output_unknown) == (0, 1)
    assert "tokens_per_second" not in turn.extras
    assert turn.ended is Ended.COMPLETE
    # Servers that find the whole prompt cached have left prompt_eval_count out.
    turn = final(run_stream(API, replay))
    assert turn.usage.input_tokens is None and turn.usage.output_tokens == 40
    assert (turn.usage.input_unknown, turn.usage.output_unknown) == (1, 0)


def test_thinking_and_tool_calls(replay: ReplayServer) -> None:
    data = ndjson(
        piece("", thinking="Need the "),
        piece("", thinking="weather."),
        piece("Checking."),
        # An older server: no call id.
        piece("", tool_calls=[{"function": {"name": "weather", "arguments": {"city": "Paris"}}}]),
        # A newer one: an id and an index.
        piece(
            "",
            tool_calls=[
                {
                    "id": "call_x1",
                    "function": {"index": 1, "name": "read", "arguments": {"path": "é.py"}},
                }
            ],
        ),
        done(done_reason="stop"),
    )
    replay.queue(Reply(body=data, content_type=NDJSON, chunk_size=9))
    events = run_stream(API, replay)
    turn = final(events)
    calls = [e.call for e in events if isinstance(e, ToolCallEvent)]
    assert calls == [
        ToolCall("call_0", "weather", '{"city":"Paris"}'),
        ToolCall("call_x1", "read", '{"path":"é.py"}'),
    ]
    assert calls[1].parsed_arguments() == {"path": "é.py"}
    assert turn.tool_calls == tuple(calls)
    assert "".join(e.text for e in events if isinstance(e, ReasoningDelta)) == "Need the weather."
    assert turn.reasoning == "Need the weather."
    assert turn.text == "Checking."
    assert turn.usage.reasoning_tokens == 0  # Ollama does not count thinking apart


def test_an_error_line_ends_in_error_keeping_the_text(replay: ReplayServer) -> None:
    message = "an error was encountered while running the model: unexpected EOF"
    data = ndjson(piece("Par"), piece("tial"), {"error": message})
    replay.queue(Reply(body=data, content_type=NDJSON))
    turn = final(run_stream(API, replay))
    assert turn.ended is Ended.ERROR
    assert turn.error is not None
    assert turn.error.type == "server" and message in turn.error.message
    assert turn.text == "Partial"
    assert turn.usage.counts() == UNKNOWN


def test_missing_model_is_a_clear_error(replay: ReplayServer) -> None:
    missing = 'model "llama9" not found, try pulling it first'
    replay.queue(Reply.error(404, {"error": missing}))
    turn = final(run_stream(API, replay, model="llama9"))
    assert turn.ended is Ended.ERROR
    assert turn.error is not None
    assert (turn.error.type, turn.error.status) == ("not_found", 404)
    assert missing in turn.error.message
    assert turn.usage == Usage.reported(0, 0, 0, 0, 0)  # refused: billed nothing, and known to be


def test_error_body_is_read_only_up_to_the_bound(replay: ReplayServer) -> None:
    # 200 KiB of HTML, then the connection drops: reading it all would fail on the drop.
    html = b"<html>" + b"x" * 200_000
    replay.queue(Reply(body=html, status=502, content_type="text/html", cut_after=len(html) - 10))
    turn = final(run_stream(API, replay))
    assert turn.ended is Ended.ERROR
    assert turn.error is not None
    assert (turn.error.type, turn.error.status) == ("server", 502)


def test_unreachable_server_is_a_connection_error() -> None:
    with socket.socket() as s:  # a loopback port that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    endpoint = Endpoint("ollama", f"http://127.0.0.1:{port}", None, "", max_retries=0)
    with closing(OllamaProvider(endpoint)) as p:
        turn = final(list(p.stream(Request("m", user()))))
    assert turn.ended is Ended.ERROR
    assert turn.error is not None and turn.error.type == "connection"
    assert "ollama serve" in turn.error.message


def test_a_host_without_scheme_is_resolved(replay: ReplayServer) -> None:
    # OLLAMA_HOST forms such as "127.0.0.1:PORT" work, as the ollama package reads them.
    host = replay.url.removeprefix("http://")
    replay.queue(Reply(body=ndjson(piece("ok"), done()), content_type=NDJSON))
    with closing(OllamaProvider(Endpoint("ollama", host))) as p:
        turn = final(list(p.stream(Request("m", user()))))
    assert turn.text == "ok" and turn.ended is Ended.COMPLETE
    assert replay.received[0].path == "/api/chat"


HOSTS = [
    None,
    "",
    "0.0.0.0",
    "0.0.0.0:11434",
    "1.2.3.4",
    ":56789",
    "1.2.3.4:56789",
    "http://1.2.3.4",
    "https://1.2.3.4",
    "https://1.2.3.4:56789",
    "example.com",
    "example.com:56789",
    "http://example.com",
    "https://example.com:56789/path",
    "example.com/",
    "example.com:56789/path/",
    "localhost",
    "[0001:002:003:0004::1]",
    "[0001:002:003:0004::1]:56789/path",
    "https://[0001:002:003:0004::1]",
    "http://[::1]:11434",
]


@pytest.mark.parametrize("host", HOSTS)
def test_host_forms_resolve_as_the_ollama_package_resolves_them(host: str | None) -> None:
    assert parse_host(host) == ollama_parse_host(host)


def test_the_default_host_and_an_ollama_key(replay: ReplayServer) -> None:
    assert parse_host(None) == "http://127.0.0.1:11434"
    replay.queue(Reply(body=ndjson(piece("ok"), done()), content_type=NDJSON))
    endpoint = Endpoint("ollama", replay.url, "ok-key", "OLLAMA_API_KEY")
    with closing(OllamaProvider(endpoint)) as p:
        final(list(p.stream(Request("m", user()))))
    assert headers_of(replay)["authorization"] == "Bearer ok-key"


# The request sent


TOOLS = (
    ToolSpec(
        "read", "Read a file.", {"type": "object", "properties": {"path": {"type": "string"}}}
    ),
)


def test_request_shape(replay: ReplayServer) -> None:
    replay.queue(Reply(body=ndjson(piece("ok"), done()), content_type=NDJSON))
    messages = [
        Message(role="user", text="look at a.py"),
        Message(
            role="assistant",
            text="Reading.",
            tool_calls=(
                ToolCall("call_0", "read", '{"path": "a.py"}'),
                ToolCall("c2", "read", "{"),
            ),
        ),
        Message(
            role="tool",
            tool_results=(
                ToolResult("call_0", "read", "print(1)"),
                ToolResult("c2", "read", "bad arguments", True),
            ),
        ),
        Message(role="user", text="go on"),
    ]
    request = Request("qwen3:8b", messages, system="be brief", tools=TOOLS, max_tokens=321)
    final(stream(replay, request))
    received = replay.received[0]
    sent = received.json
    assert (received.method, received.path) == ("POST", "/api/chat")
    assert sent["model"] == "qwen3:8b" and sent["stream"] is True
    assert sent["options"] == {"num_predict": 321}
    assert sent["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "read",
                "description": "Read a file.",
                "parameters": TOOLS[0].parameters,
            },
        }
    ]
    assert sent["messages"] == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "look at a.py"},
        {
            "role": "assistant",
            "content": "Reading.",
            "tool_calls": [
                {"id": "call_0", "function": {"name": "read", "arguments": {"path": "a.py"}}},
                {"id": "c2", "function": {"name": "read", "arguments": {}}},
            ],
        },
        {"role": "tool", "content": "print(1)", "tool_name": "read", "tool_call_id": "call_0"},
        {"role": "tool", "content": "bad arguments", "tool_name": "read", "tool_call_id": "c2"},
        {"role": "user", "content": "go on"},
    ]


def test_no_system_and_no_tools_are_left_out(replay: ReplayServer) -> None:
    replay.queue(Reply(body=ndjson(piece("ok"), done()), content_type=NDJSON))
    final(stream(replay, Request("m", user())))
    sent = replay.received[0].json
    assert "authorization" not in headers_of(replay)
    assert "tools" not in sent
    assert sent["messages"] == [{"role": "user", "content": "hi"}]


# Ctrl-C


def slow_reply(entry_id: str) -> tuple[Reply, bytes]:
    """Every line but the done line at once, the rest after a pause; and that first part."""
    data = body(entry_id)
    first = data.rindex(b"\n", 0, len(data) - 1) + 1
    return Reply.recorded(entry_id, chunk_size=first, delay=0.6, delay_first=False), data[:first]


def test_ctrl_c_thrown_in_at_a_yield_ends_with_an_interrupted_record(
    replay: ReplayServer,
) -> None:
    reply, _ = slow_reply("ollama/lcg_generate_chat_stream")
    replay.queue(reply)
    with provider(replay) as p:
        gen = p.stream(Request("m", user()))
        first = next(e for e in gen if isinstance(e, TextDelta))
        turn = gen.throw(KeyboardInterrupt())
    assert isinstance(turn, AssistantTurn)
    assert turn.ended is Ended.INTERRUPTED
    assert turn.error is not None and turn.error.type == "interrupted"
    assert turn.usage.counts() == UNKNOWN
    assert turn.usage.input_unknown == turn.usage.output_unknown == 1
    assert turn.model == "gemma3:1b"
    assert turn.text == first.text  # nothing after the throw was taken in
    with pytest.raises(StopIteration):
        next(gen)


def test_ctrl_c_during_a_blocking_read_ends_with_an_interrupted_record(
    replay: ReplayServer,
) -> None:
    reply, sent = slow_reply("ollama/lcg_generate_chat_stream")
    replay.queue(reply)
    with provider(replay) as p:
        # The rest of the first fragment is read at once; then the read blocks for 0.6 s.
        turn = final(read_with_ctrl_c(p.stream(Request("m", user())), after=0.25))
    assert turn.ended is Ended.INTERRUPTED
    assert turn.error is not None and turn.error.type == "interrupted"
    assert turn.usage.counts() == UNKNOWN
    assert turn.text == text_of(arrived(sent, body("ollama/lcg_generate_chat_stream")))
