"""Streaming: chit against the raw SDKs and a bare SSE reader, on one long replayed stream.

A 20,000-chunk stream in each wire format is served from the loopback replay server,
side by side in one run (medians):

1. whole processes, as in ``bench_startup.py``: ``chit -p`` against a bare SDK script that
   reads the same stream, and ``python -c pass``;
2. in this process: the SDK's typed stream, chit's provider, and httpx + httpx-sse +
   orjson (the floor).

Run: .venv/bin/python bench/bench_stream.py [--runs N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import anthropic
import httpx
import openai
import orjson
from httpx_sse import connect_sse

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from bench_startup import chit_case, measure, python_case, report, sdk_case
from replay import ReplayServer, Reply

from chit.messages import AssistantTurn, Message
from chit.providers import Endpoint, Request, connect

CHUNKS = 20_000
REPEAT = 3


def openai_body() -> bytes:
    base = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4.1"}
    chunk = {**base, "choices": [{"index": 0, "delta": {"content": "tok "}, "finish_reason": None}]}
    line = f"data: {json.dumps(chunk)}\n\n"
    usage = {"prompt_tokens": 11, "completion_tokens": CHUNKS, "total_tokens": 11 + CHUNKS}
    last = {**base, "choices": [], "usage": usage}
    return (line * CHUNKS + f"data: {json.dumps(last)}\n\ndata: [DONE]\n\n").encode()


def anthropic_body() -> bytes:
    start = {
        "type": "message_start",
        "message": {
            "id": "m",
            "type": "message",
            "role": "assistant",
            "model": "claude-sonnet-4-5",
            "content": [],
            "stop_reason": None,
            "usage": {"input_tokens": 11, "output_tokens": 1},
        },
    }
    block = {
        "type": "content_block_start",
        "index": 0,
        "content_block": {"type": "text", "text": ""},
    }
    delta = {
        "type": "content_block_delta",
        "index": 0,
        "delta": {"type": "text_delta", "text": "tok "},
    }
    end = [
        {"type": "content_block_stop", "index": 0},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn"},
            "usage": {"output_tokens": CHUNKS},
        },
        {"type": "message_stop"},
    ]

    def sse(e: dict[str, object]) -> str:
        return f"event: {e['type']}\ndata: {json.dumps(e)}\n\n"

    return (sse(start) + sse(block) + sse(delta) * CHUNKS + "".join(map(sse, end))).encode()


def timed(server: ReplayServer, body: bytes, read: Callable[[], None]) -> float:
    times = []
    for _ in range(REPEAT):
        server.queue(Reply(body=body))
        start = time.perf_counter()
        read()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def floor(url: str, payload: dict[str, object]) -> None:
    with httpx.Client() as client, connect_sse(client, "POST", url, json=payload) as source:
        for sse in source.iter_sse():
            if sse.data != "[DONE]":
                orjson.loads(sse.data)


def chit_reader(provider: str, base_url: str) -> Callable[[], None]:
    p = connect(Endpoint(provider, base_url, "k", "KEY", max_retries=0))  # closed at exit
    request = Request(model="m", messages=[Message(role="user", text="hi")])

    def read() -> None:
        last = list(p.stream(request))[-1]
        assert isinstance(last, AssistantTurn) and last.usage.output_tokens == CHUNKS, last

    return read


def processes(runs: int) -> None:
    """Whole processes reading the long stream, side by side."""
    bodies = {"anthropic": anthropic_body(), "openai": openai_body()}
    with tempfile.TemporaryDirectory() as home:
        cases = [python_case()]
        for provider, data in bodies.items():
            reply = lambda data=data: Reply(body=data)  # noqa: E731
            cases += [chit_case(provider, reply, home), sdk_case(provider, reply)]
        measure(cases, runs)
    print(f"whole processes reading {CHUNKS:,} chunks")
    report(cases, runs)


def main() -> None:
    parser = argparse.ArgumentParser(description="streaming, side by side")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    processes(args.runs)
    print()
    in_process()


def in_process() -> None:
    warnings.simplefilter("ignore", DeprecationWarning)
    msgs = [{"role": "user", "content": "hi"}]
    with ReplayServer() as server:
        oai = openai.OpenAI(api_key="k", base_url=server.url + "/v1", max_retries=0)
        ant = anthropic.Anthropic(api_key="k", base_url=server.url, max_retries=0)
        rows = {
            "openai": (
                timed(
                    server,
                    openai_body(),
                    lambda: [
                        c
                        for c in oai.chat.completions.create(model="m", messages=msgs, stream=True)
                    ],
                ),  # type: ignore[arg-type]
                timed(server, openai_body(), chit_reader("openai", server.url + "/v1")),
                timed(server, openai_body(), lambda: floor(server.url + "/v1/chat", {})),
            ),
            "anthropic": (
                timed(
                    server,
                    anthropic_body(),
                    lambda: [
                        e
                        for e in ant.messages.create(
                            model="m", max_tokens=10, messages=msgs, stream=True
                        )
                    ],
                ),  # type: ignore[arg-type]
                timed(server, anthropic_body(), chit_reader("anthropic", server.url)),
                timed(server, anthropic_body(), lambda: floor(server.url + "/v1/messages", {})),
            ),
        }
    print(f"in one process, {CHUNKS:,} chunks, median of {REPEAT}")
    for name, (sdk, chit, bare) in rows.items():
        print(
            f"{name:10} raw SDK {sdk:6.3f} s | chit {chit:6.3f} s | floor {bare:6.3f} s | "
            f"chit/SDK {chit / sdk:4.2f} | chit/floor {chit / bare:4.2f}"
        )


if __name__ == "__main__":
    main()
