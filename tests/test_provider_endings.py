"""How a request ends, the same in every wire format, through the real providers and the
replay server: what an error status, an unanswered try, a bad chunk, a dropped or silent
stream and a retry leave in the record, and the retry notices a front end sees.

A request the provider refused with an error status, or never received, was billed
nothing: known zeros. One it may have received without answering may have been processed:
unknown. Every body here reports 12 input and 7 output tokens when it gets that far.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
import wire
from helpers import (
    API_PROVIDER,
    ctrl_c_raises,
    endpoint_for,
    final,
    make_agent,
    run_turn,
    user,
)
from replay import ReplayServer, Reply

from chit.agent import AgentEvent, drain
from chit.messages import AssistantTurn, Ended, Event, Retrying, TextDelta
from chit.providers import Endpoint, Request, connect
from chit.usage import Usage

APIS = list(API_PROVIDER)
TEXT = "Hello there, friend."
WHOLE = Usage.reported(12, 0, 0, 7, 0)
ZERO = Usage.reported(0, 0, 0, 0, 0)
UNKNOWN = Usage.reported()
NDJSON = "application/x-ndjson"


def answer(api: str) -> bytes:
    """A whole answer in the wire format of ``api``: TEXT, 12 tokens in, 7 out."""
    if api == "anthropic_messages":
        return wire.anthropic(TEXT, input_tokens=12, output_tokens=7)
    if api == "openai_chat":
        return wire.openai_chat(TEXT, prompt_tokens=12, completion_tokens=7)
    if api == "openai_responses":
        return wire.openai_responses(TEXT, input_tokens=12, output_tokens=7)
    return wire.ollama(TEXT, prompt_eval_count=12, eval_count=7)


def reply(api: str, data: bytes | None = None, **faults: Any) -> Reply:
    content_type = NDJSON if api == "ollama_chat" else "text/event-stream"
    return Reply(body=answer(api) if data is None else data, content_type=content_type, **faults)


def pieces(api: str, data: bytes) -> list[bytes]:
    """The body as its events (SSE) or lines (NDJSON), each with its separator."""
    sep = b"\n" if api == "ollama_chat" else b"\n\n"
    return [p + sep for p in data.split(sep) if p]


def ask(server: ReplayServer, api: str, **endpoint: Any) -> list[Event]:
    """Every event of one request through the provider of ``api``."""
    endpoint.setdefault("max_retries", 0)
    with closing(connect(endpoint_for(api, server, **endpoint))) as provider:
        return list(provider.stream(Request("m", user())))


def refused_port() -> int:
    with socket.socket() as s:  # a loopback port that nothing listens on
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


# An error status: billed nothing, whatever the format and the status

RETRIED = {429, 500, 502, 503, 529}
FAST_RETRY = {"retry-after-ms": "1"}


def refusal(status: int) -> Reply:
    if status == 307:
        return Reply(status=307, content_type="text/plain", headers={"location": "/elsewhere"})
    payload = {"error": {"type": "error", "message": f"refused with {status}"}}
    return Reply.error(status, payload, headers=FAST_RETRY)


@pytest.mark.parametrize("status", [307, 400, 401, 403, 404, 413, 422, 429, 500, 502, 503, 529])
@pytest.mark.parametrize("api", APIS)
def test_an_error_status_was_billed_nothing(api: str, status: int, replay: ReplayServer) -> None:
    replay.queue(refusal(status), refusal(status))
    turn = final(ask(replay, api, max_retries=1))
    assert len(replay.received) == (2 if status in RETRIED else 1)
    assert turn.ended is Ended.ERROR
    assert turn.error is not None and turn.error.status == status
    assert turn.usage == ZERO and turn.usage.complete


@pytest.mark.parametrize("api", APIS)
def test_a_refused_connection_was_billed_nothing(api: str) -> None:
    endpoint = Endpoint(API_PROVIDER[api], f"http://127.0.0.1:{refused_port()}/v1", "k")
    with closing(connect(endpoint)) as provider:
        turn = final(list(provider.stream(Request("m", user()))))
    assert turn.ended is Ended.ERROR
    assert turn.error is not None and turn.error.type == "connection"
    assert "could not connect" in turn.error.message
    assert turn.usage == ZERO


@pytest.mark.parametrize(
    ("faults", "kind"),
    [({"head_delay": 1.0}, "timeout"), ({"hang_up": True}, "connection")],
    ids=["no_first_byte", "hung_up"],
)
def test_a_try_received_but_never_answered_leaves_the_cost_unknown(
    faults: dict[str, Any], kind: str, replay: ReplayServer
) -> None:
    replay.queue(reply("anthropic_messages", **faults))
    turn = final(ask(replay, "anthropic_messages", first_byte_timeout=0.3))
    assert turn.ended is Ended.ERROR
    assert turn.error is not None and turn.error.type == kind
    assert turn.usage == UNKNOWN and not turn.usage.complete


def test_an_unanswered_try_before_a_refusal_still_leaves_the_cost_unknown(
    replay: ReplayServer,
) -> None:
    # The first try may have been processed; the refusal of the second does not undo that.
    replay.queue(reply("openai_chat", head_delay=1.0), refusal(500))
    turn = final(ask(replay, "openai_chat", max_retries=1, first_byte_timeout=0.3))
    assert len(replay.received) == 2
    assert turn.error is not None and (turn.error.type, turn.error.status) == ("server", 500)
    assert turn.usage == UNKNOWN


# A chunk chit cannot read

#: Where each format gets a bad chunk: after this many whole events (lines for Ollama); the
#: usage and text that had arrived by then. Anthropic's input comes first; Chat Completions'
#: usage chunk has come (the bad chunk stands before [DONE]); Responses and Ollama report
#: usage only at the end.
BAD_AT = {
    "anthropic_messages": (3, Usage.reported(12, 0, 0, None, None), "Hello th"),
    "openai_chat": (6, WHOLE, TEXT),
    "openai_responses": (2, UNKNOWN, "Hello th"),
    "ollama_chat": (1, UNKNOWN, "Hello th"),
}
#: Where each format falls silent, and what had arrived.
STALL_AT = {**BAD_AT, "openai_chat": (2, UNKNOWN, "Hello th")}


def with_inserted(api: str, at: int, extra: bytes) -> bytes:
    parts = pieces(api, answer(api))
    return b"".join([*parts[:at], extra, *parts[at:]])


@pytest.mark.parametrize("api", APIS)
def test_a_chunk_that_is_not_json_ends_in_error_keeping_what_arrived(
    api: str, replay: ReplayServer
) -> None:
    garbage = b'{"type": "oops' + (b"\n" if api == "ollama_chat" else b"\n\n")
    if api != "ollama_chat":
        garbage = b"data: " + garbage
    at, usage, text = BAD_AT[api]
    replay.queue(reply(api, with_inserted(api, at, garbage)))
    events = ask(replay, api)
    turn = final(events)
    assert turn.ended is Ended.ERROR
    assert turn.error is not None and turn.error.type == "bad_response"
    assert "not JSON" in turn.error.message and '{"type": "oops' in turn.error.message
    assert turn.usage == usage
    assert turn.text == text  # nothing after it was read
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == text


@pytest.mark.parametrize(
    ("api", "chunk"), [("openai_chat", b"data: 42\n\n"), ("ollama_chat", b"[1]\n")]
)
def test_json_that_is_no_object_is_a_bad_chunk(
    api: str, chunk: bytes, replay: ReplayServer
) -> None:
    replay.queue(reply(api, with_inserted(api, 1, chunk)))
    turn = final(ask(replay, api))
    assert turn.ended is Ended.ERROR
    assert turn.error is not None and turn.error.type == "bad_response"


@pytest.mark.parametrize("api", APIS)
def test_keep_alives_and_empty_events_are_not_bad_chunks(api: str, replay: ReplayServer) -> None:
    if api == "ollama_chat":
        filler = b"\n  \n"
    else:
        filler = b": keep-alive\n\nevent: ping\ndata: \n\nretry: 3000\n\n"
    parts = pieces(api, answer(api))
    data = b"".join(filler + p for p in parts)
    replay.queue(reply(api, data))
    turn = final(ask(replay, api))
    assert (turn.ended, turn.error, turn.text, turn.usage) == (Ended.COMPLETE, None, TEXT, WHOLE)


def test_a_bad_chunk_after_a_whole_response_changes_nothing(replay: ReplayServer) -> None:
    replay.queue(reply("anthropic_messages", answer("anthropic_messages") + b"data: oops\n\n"))
    turn = final(ask(replay, "anthropic_messages"))
    assert (turn.ended, turn.error, turn.usage) == (Ended.COMPLETE, None, WHOLE)


# A dropped connection and a silent stream: provider failures, not Ctrl-C


@pytest.mark.parametrize("api", APIS)
def test_a_dropped_stream_is_interrupted_by_the_connection(api: str, replay: ReplayServer) -> None:
    first = len(pieces(api, answer(api))[0])
    replay.queue(reply(api, cut_after=first + 5))
    turn = final(ask(replay, api))
    assert turn.ended is Ended.INTERRUPTED
    assert turn.error is not None and turn.error.type == "connection"
    assert turn.error.message.startswith("the connection was lost mid-response (")
    # Anthropic's input count is in its first event; the others report at the end.
    expected = BAD_AT[api][1] if api == "anthropic_messages" else UNKNOWN
    assert turn.usage == expected


@pytest.mark.parametrize("api", APIS)
def test_a_stall_past_the_read_timeout_is_a_timeout(api: str, replay: ReplayServer) -> None:
    at, usage, text = STALL_AT[api]
    sent = len(b"".join(pieces(api, answer(api))[:at]))
    replay.queue(reply(api, chunk_size=sent, pause_after=sent, pause=1.5))
    start = time.monotonic()
    turn = final(ask(replay, api, read_timeout=0.25, first_byte_timeout=2.0))
    assert time.monotonic() - start < 1.4  # it did not wait for the stream to go on
    assert turn.ended is Ended.INTERRUPTED
    assert turn.error is not None
    assert (turn.error.type, turn.error.message) == (
        "timeout",
        "no data from the provider for 0.25 s",
    )
    assert (turn.usage, turn.text) == (usage, text)


@pytest.mark.parametrize("api", ["anthropic_messages", "ollama_chat"])
def test_a_trickle_without_a_whole_event_is_a_timeout(api: str, replay: ReplayServer) -> None:
    # 4 bytes every 0.05 s: the socket never waits 0.3 s, but no event is whole by then.
    replay.queue(reply(api, chunk_size=4, delay=0.05, delay_first=False))
    start = time.monotonic()
    turn = final(ask(replay, api, read_timeout=0.3))
    assert time.monotonic() - start < 1.5
    assert turn.ended is Ended.INTERRUPTED
    assert turn.error is not None
    assert (turn.error.type, turn.error.message) == (
        "timeout",
        "the provider sent no whole event for 0.3 s",
    )
    assert turn.usage == UNKNOWN and turn.text == ""


def test_a_slow_reader_is_not_taken_for_a_stall(replay: ReplayServer) -> None:
    # The body is all there, in many pieces; the front end takes longer than the read
    # timeout over each event, and the next piece is read only after that.
    replay.queue(reply("openai_chat", chunk_size=40))
    endpoint = endpoint_for("openai_chat", replay, max_retries=0, read_timeout=0.2)
    with closing(connect(endpoint)) as provider:
        events = []
        for event in provider.stream(Request("m", user())):
            events.append(event)
            time.sleep(0.25)
    turn = final(events)
    assert (turn.ended, turn.error, turn.text, turn.usage) == (Ended.COMPLETE, None, TEXT, WHOLE)


# Retries announced


def overloaded(wait_ms: int) -> Reply:
    payload = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    return Reply.error(529, payload, headers={"retry-after-ms": str(wait_ms)})


@pytest.mark.parametrize("api", APIS)
def test_each_retry_is_announced_before_its_wait(api: str, replay: ReplayServer) -> None:
    unavailable = Reply.error(503, {"error": {"message": "busy"}}, headers={"retry-after": "0.3"})
    replay.queue(overloaded(200), unavailable, reply(api))
    seen: list[tuple[Event, float]] = []
    with closing(connect(endpoint_for(api, replay, max_retries=2))) as provider:
        for event in provider.stream(Request("m", user())):
            seen.append((event, time.perf_counter()))
    events = [e for e, _ in seen]
    first, second = events[:2]
    assert first == Retrying(1, 2, 0.2, "the provider answered 529 (overloaded)", 529)
    assert second == Retrying(2, 2, 0.3, "the provider answered 503 (service unavailable)", 503)
    assert first.describe() == "the provider answered 529 (overloaded); retrying in 0.2 s (1 of 2)"
    assert isinstance(events[2], TextDelta)
    # Each notice came before its wait: the next try arrived at least that long after it.
    for (notice, at), received in zip(seen[:2], replay.received[1:], strict=True):
        assert isinstance(notice, Retrying)
        assert received.at - at >= notice.delay * 0.9
    turn = final(events)
    assert (turn.ended, turn.text, turn.usage) == (Ended.COMPLETE, TEXT, WHOLE)


def test_a_connection_retry_is_announced() -> None:
    port = refused_port()
    endpoint = Endpoint("anthropic", f"http://127.0.0.1:{port}", "k", max_retries=1)
    with closing(connect(endpoint)) as provider:
        events = list(provider.stream(Request("m", user())))
    notice, turn = events
    assert isinstance(notice, Retrying) and (notice.attempt, notice.of) == (1, 1)
    assert notice.status is None
    assert notice.reason.startswith(f"could not connect to http://127.0.0.1:{port} (")
    assert 0.375 <= notice.delay <= 0.5  # the first backoff wait
    assert isinstance(turn, AssistantTurn) and turn.error is not None
    assert turn.error.message.endswith(" (after 1 retry)")


def test_ctrl_c_at_a_retry_notice_ends_billed_nothing(replay: ReplayServer) -> None:
    replay.queue(overloaded(20_000), reply("anthropic_messages"))
    with closing(connect(endpoint_for("anthropic_messages", replay))) as provider:
        stream = provider.stream(Request("m", user()))
        assert isinstance(next(stream), Retrying)
        turn = stream.throw(KeyboardInterrupt())
    assert isinstance(turn, AssistantTurn)
    assert turn.ended is Ended.INTERRUPTED
    assert turn.error is not None and turn.error.type == "interrupted"
    assert turn.usage == ZERO  # the one try was refused: nothing can have been billed
    assert len(replay.received) == 1


@pytest.mark.parametrize(
    ("first", "usage"),
    [(overloaded(20_000), ZERO), (Reply(body=b"", head_delay=20.0), UNKNOWN)],
    ids=["during_the_wait", "waiting_for_the_first_byte"],
)
def test_a_real_ctrl_c_before_any_answer(first: Reply, usage: Usage, replay: ReplayServer) -> None:
    replay.queue(first, reply("anthropic_messages"))
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
    with ctrl_c_raises():
        start = time.monotonic()
        timer.start()
        turn = final(ask(replay, "anthropic_messages", max_retries=2, first_byte_timeout=30))
        timer.join()
    assert time.monotonic() - start < 5
    assert turn.ended is Ended.INTERRUPTED
    assert turn.error is not None and turn.error.type == "interrupted"
    # Refused, it was billed nothing; sent and unanswered, it may have been processed.
    assert turn.usage == usage


def test_the_agent_loop_passes_retry_notices_through(replay: ReplayServer, tmp_path: Path) -> None:
    replay.queue(overloaded(1), reply("anthropic_messages"))
    agent = make_agent(replay, tmp_path)
    done, events = run_turn(agent)
    notices = [e for e in events if isinstance(e, Retrying)]
    assert notices == [Retrying(1, 2, 0.001, "the provider answered 529 (overloaded)", 529)]
    assert events.index(notices[0]) < next(
        i for i, e in enumerate(events) if isinstance(e, TextDelta)
    )
    # One request, one record: the notice is news, not a request of its own.
    assert [r.response.usage for r in agent.state.records] == [WHOLE]
    assert done.ended is Ended.COMPLETE and done.text == TEXT


def test_ctrl_c_at_a_notice_in_the_loop_records_the_request_billed_nothing(
    replay: ReplayServer, tmp_path: Path
) -> None:
    replay.queue(overloaded(20_000), reply("anthropic_messages"))
    agent = make_agent(replay, tmp_path)
    pressed: list[Retrying] = []

    def handle(event: AgentEvent) -> None:
        if isinstance(event, Retrying) and not pressed:
            pressed.append(event)
            raise KeyboardInterrupt  # Ctrl-C while the front end shows the notice

    done = drain(agent.run("go"), handle)
    assert pressed and len(replay.received) == 1
    assert done.ended is Ended.INTERRUPTED
    assert done.error is not None and done.error.type == "interrupted"
    (record,) = agent.state.records
    assert record.response.usage == ZERO and done.totals.usage == ZERO
