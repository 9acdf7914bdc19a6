"""The transport every provider shares, against the replay server: which answers are
retried, how long it waits (measured where the requests arrive), its limits, its
timeouts, its pooled connection, and error bodies read only up to their bound.

The waits are kept short with ``retry-after-ms`` or a small ``Endpoint.retry_delay``.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from contextlib import closing
from email.utils import formatdate
from itertools import pairwise
from typing import Any

import pytest
import wire
from helpers import API_PROVIDER, ctrl_c_raises, endpoint_for, final, user
from replay import ReplayServer, Reply

from chit.messages import AssistantTurn, Ended
from chit.providers import Endpoint, Request, connect
from chit.providers.transport import MAX_RETRY_DELAY, retry_after, retry_wait

API = "anthropic_messages"
OK = wire.anthropic("ok", input_tokens=7, output_tokens=2)


def failure(status: int, **headers: str) -> Reply:
    payload = {"type": "error", "error": {"type": "api_error", "message": "not now"}}
    return Reply.error(status, payload, headers=headers)


def ask(server: ReplayServer, api: str = API, **endpoint: Any) -> AssistantTurn:
    """One request through a provider of ``api`` with these endpoint settings."""
    with closing(connect(endpoint_for(api, server, **endpoint))) as provider:
        return final(list(provider.stream(Request("m", user()))))


def gaps(server: ReplayServer) -> list[float]:
    """Seconds between the arrivals of successive requests at the server."""
    times = [r.at for r in server.received]
    return [later - earlier for earlier, later in pairwise(times)]


# Which answers are retried


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504, 529])
def test_retried_statuses(status: int, replay: ReplayServer) -> None:
    replay.queue(failure(status), Reply(body=OK))
    turn = ask(replay, max_retries=1, retry_delay=0.001)
    assert len(replay.received) == 2
    assert turn.ended is Ended.COMPLETE and turn.text == "ok"


@pytest.mark.parametrize("status", [400, 401, 403, 404, 413, 422])
def test_statuses_not_retried(status: int, replay: ReplayServer) -> None:
    replay.queue(failure(status), Reply(body=OK))
    turn = ask(replay, max_retries=2, retry_delay=0.001)
    assert len(replay.received) == 1
    assert turn.ended is Ended.ERROR
    assert turn.error is not None and turn.error.status == status


def test_x_should_retry_overrides_the_status(replay: ReplayServer) -> None:
    replay.queue(failure(503, **{"x-should-retry": "false"}))
    refused = ask(replay, max_retries=2, retry_delay=0.001)
    assert len(replay.received) == 1 and refused.ended is Ended.ERROR
    replay.queue(failure(400, **{"x-should-retry": "true"}), Reply(body=OK))
    retried = ask(replay, max_retries=2, retry_delay=0.001)
    assert len(replay.received) == 3 and retried.ended is Ended.COMPLETE


@pytest.mark.parametrize("api", API_PROVIDER)
def test_every_provider_retries_through_the_transport(api: str, replay: ReplayServer) -> None:
    bodies = {
        "anthropic_messages": Reply(body=OK),
        "openai_chat": Reply(body=wire.openai_chat("ok")),
        "openai_responses": Reply.recorded("openai/pai_responses_stream_0"),
        "ollama_chat": Reply.recorded("ollama/lcg_with_streaming"),
    }
    replay.queue(failure(529), failure(429, **{"retry-after-ms": "1"}), bodies[api])
    turn = ask(replay, api, max_retries=2, retry_delay=0.001)
    assert len(replay.received) == 3
    assert turn.ended is Ended.COMPLETE


def test_a_dropped_connection_is_retried(replay: ReplayServer) -> None:
    replay.queue(Reply(hang_up=True), Reply(hang_up=True), Reply(body=OK))
    turn = ask(replay, max_retries=2, retry_delay=0.001)
    assert len(replay.received) == 3
    assert turn.ended is Ended.COMPLETE


def test_a_dropped_connection_after_the_retries_is_a_connection_error(
    replay: ReplayServer,
) -> None:
    replay.queue(*(Reply(hang_up=True) for _ in range(3)))
    turn = ask(replay, max_retries=2, retry_delay=0.001)
    assert len(replay.received) == 3
    assert turn.ended is Ended.ERROR
    assert turn.error is not None and turn.error.type == "connection"
    assert replay.url in turn.error.message


# Limits


@pytest.mark.parametrize("retries", [0, 1, 3])
def test_at_most_max_retries(retries: int, replay: ReplayServer) -> None:
    replay.queue(*(failure(500) for _ in range(5)))
    turn = ask(replay, max_retries=retries, retry_delay=0.001)
    assert len(replay.received) == retries + 1
    assert turn.ended is Ended.ERROR
    assert turn.error is not None and (turn.error.type, turn.error.status) == ("server", 500)


def test_the_default_is_two_retries() -> None:
    assert Endpoint("anthropic").max_retries == 2


# How long it waits


def test_backoff_doubles_from_the_first_delay_with_at_most_a_quarter_off(
    replay: ReplayServer,
) -> None:
    replay.queue(*(failure(503) for _ in range(4)))
    ask(replay, max_retries=3, retry_delay=0.1)
    waits = gaps(replay)
    assert len(waits) == 3
    for n, wait in enumerate(waits):
        longest = 0.1 * 2**n
        # Never shorter than the jitter allows; longer only by the time a request takes.
        assert 0.75 * longest <= wait <= longest + 0.5, (n, waits)


def test_backoff_is_capped() -> None:
    waits = [retry_wait(20, {}, 0.5) for _ in range(50)]
    assert all(0.75 * MAX_RETRY_DELAY <= w <= MAX_RETRY_DELAY for w in waits)
    assert MAX_RETRY_DELAY == 8.0


@pytest.mark.parametrize(
    ("headers", "asked"),
    [
        ({"retry-after-ms": "300"}, 0.3),
        ({"retry-after": "0.4"}, 0.4),
        ({"retry-after": "1"}, 1.0),
        ({"retry-after-ms": "250", "retry-after": "30"}, 0.25),  # milliseconds win
    ],
)
def test_retry_after_is_honoured(
    headers: dict[str, str], asked: float, replay: ReplayServer
) -> None:
    replay.queue(failure(429, **headers), Reply(body=OK))
    # The backoff would wait 3.75 to 5 s: the server's word is what decides.
    turn = ask(replay, max_retries=1, retry_delay=5.0)
    assert turn.ended is Ended.COMPLETE
    (wait,) = gaps(replay)
    assert asked <= wait < asked + 1.5


def test_retry_after_as_a_date() -> None:
    soon = formatdate(time.time() + 30, usegmt=True)
    wait = retry_after({"retry-after": soon})
    assert wait is not None and 28 <= wait <= 31
    past = formatdate(time.time() - 30, usegmt=True)
    # A date gone by asks nothing: the backoff decides.
    assert 0.375 <= retry_wait(0, {"retry-after": past}, 0.5) <= 0.5


def test_an_unreadable_retry_after_leaves_the_backoff(replay: ReplayServer) -> None:
    replay.queue(failure(503, **{"retry-after": "soon", "retry-after-ms": "x"}), Reply(body=OK))
    turn = ask(replay, max_retries=1, retry_delay=0.2)
    (wait,) = gaps(replay)
    assert turn.ended is Ended.COMPLETE
    assert 0.15 <= wait <= 0.7


def test_a_server_asking_more_than_two_minutes_is_not_retried(replay: ReplayServer) -> None:
    replay.queue(failure(429, **{"retry-after": "121"}), Reply(body=OK))
    turn = ask(replay, max_retries=2, retry_delay=0.001)
    assert len(replay.received) == 1
    assert turn.ended is Ended.ERROR
    assert turn.error is not None and turn.error.type == "rate_limit"
    assert retry_after({"retry-after": "1e999"}) == 121  # an overflow is excessive too


def test_ctrl_c_while_waiting_to_retry_ends_with_an_interrupted_record(
    replay: ReplayServer,
) -> None:
    replay.queue(failure(429, **{"retry-after": "20"}), Reply(body=OK))
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
    with ctrl_c_raises():
        start = time.monotonic()
        timer.start()
        turn = ask(replay, max_retries=2)
        timer.join()
    assert time.monotonic() - start < 10
    assert len(replay.received) == 1
    assert turn.ended is Ended.INTERRUPTED
    assert turn.error is not None and turn.error.type == "interrupted"


# Timeouts


def test_a_slow_first_byte_times_out_and_is_retried(replay: ReplayServer) -> None:
    replay.queue(Reply(body=OK, head_delay=1.0), Reply(body=OK))
    turn = ask(replay, max_retries=1, retry_delay=0.001, first_byte_timeout=0.3)
    assert len(replay.received) == 2
    assert turn.ended is Ended.COMPLETE


def test_a_slow_first_byte_after_the_retries_is_a_timeout(replay: ReplayServer) -> None:
    replay.queue(Reply(body=OK, head_delay=1.0))
    turn = ask(replay, max_retries=0, first_byte_timeout=0.3)
    assert turn.ended is Ended.ERROR
    assert turn.error is not None and turn.error.type == "timeout"
    assert turn.error.message == f"no answer from {replay.url} within 0.3 s"
    # The provider had the request and may have processed it: what it cost is unknown.
    assert turn.usage.input_unknown == turn.usage.output_unknown == 1


def test_pauses_between_chunks_have_their_own_timeout(replay: ReplayServer) -> None:
    # Each 0.5 s pause is longer than the first-byte timeout, shorter than the read timeout.
    replay.queue(Reply(body=OK, chunk_size=len(OK) // 3 + 1, delay=0.5, delay_first=False))
    turn = ask(replay, max_retries=0, first_byte_timeout=0.3, read_timeout=3.0)
    assert turn.ended is Ended.COMPLETE and turn.text == "ok"


def test_silence_mid_body_longer_than_the_read_timeout_cuts_the_stream(
    replay: ReplayServer,
) -> None:
    start_end = OK.index(b"\n\n") + 2  # message_start arrives, then the server falls silent
    replay.queue(Reply(body=OK, chunk_size=start_end, delay=1.0, delay_first=False))
    turn = ask(replay, max_retries=0, first_byte_timeout=1.5, read_timeout=0.3)
    assert turn.ended is Ended.INTERRUPTED
    assert turn.error is not None
    assert (turn.error.type, turn.error.message) == (
        "timeout",
        "no data from the provider for 0.3 s",
    )
    assert turn.usage.input_tokens == 7  # what had arrived is kept


def test_an_unreachable_server_is_a_connection_error_after_the_retries() -> None:
    with socket.socket() as s:  # a loopback port that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    endpoint = Endpoint("anthropic", f"http://127.0.0.1:{port}", "k", "ANTHROPIC_API_KEY")
    with closing(connect(endpoint)) as provider:
        start = time.monotonic()
        turn = final(list(provider.stream(Request("m", user()))))
        waited = time.monotonic() - start
    assert turn.error is not None and turn.error.type == "connection"
    assert f"127.0.0.1:{port}" in turn.error.message
    assert waited >= 0.375 + 0.75  # two backoff waits: 0.5 s and 1 s, less a quarter


# The connection and the error body


def test_requests_share_one_pooled_connection(replay: ReplayServer) -> None:
    replay.queue(Reply(body=OK), Reply(body=OK), Reply(body=OK))
    with closing(connect(endpoint_for(API, replay))) as provider:
        for _ in range(3):
            assert final(list(provider.stream(Request("m", user())))).ended is Ended.COMPLETE
    assert len({r.client for r in replay.received}) == 1


def test_a_plain_http_endpoint_is_not_redirected(replay: ReplayServer) -> None:
    # Following it could lead to https, and a plain-http client loads no TLS roots.
    moved = Reply(status=307, content_type="text/plain", headers={"location": "/elsewhere"})
    replay.queue(moved, Reply(body=OK))
    turn = ask(replay, max_retries=0)
    assert [r.path for r in replay.received] == ["/v1/messages"]
    assert turn.ended is Ended.ERROR
    assert turn.error is not None and turn.error.status == 307
    assert "redirects" in turn.error.message


def test_an_error_body_is_read_only_up_to_its_bound(replay: ReplayServer) -> None:
    # 4 MiB arriving 16 KiB every 0.1 s would take 25 s; the first 64 KiB take 0.4 s.
    html = b"<html>" + b"x" * (4 << 20)
    replay.queue(
        Reply(body=html, status=400, content_type="text/html", chunk_size=16 << 10, delay=0.1)
    )
    start = time.monotonic()
    turn = ask(replay, max_retries=0)
    assert time.monotonic() - start < 10
    assert turn.ended is Ended.ERROR
    assert turn.error is not None and (turn.error.type, turn.error.status) == ("bad_request", 400)
