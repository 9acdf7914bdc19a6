"""What several test modules share: reaching a provider on the replay server, reading its
final record, feeding a body to a provider without HTTP, and real Ctrl-C.

Test modules import from here (and from ``replay`` and ``wire``), never from each other.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from collections.abc import Iterable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from replay import ReplayServer

from chit.agent import (
    Agent,
    AgentEvent,
    PermissionRequest,
    ToolContext,
    TurnDone,
    default_tools,
    drain,
)
from chit.messages import AssistantTurn, Event, Message, TextDelta
from chit.providers import Endpoint, Request, connect
from chit.providers.base import HTTPProvider
from chit.usage import FIELDS

#: The manifest's ``api`` names, as chit's ``--provider`` names.
API_PROVIDER = {
    "anthropic_messages": "anthropic",
    "openai_chat": "openai",
    "openai_responses": "openai-responses",
    "ollama_chat": "ollama",
}
KEY_ENV = {"anthropic": "ANTHROPIC_API_KEY", "ollama": ""}
_START = (
    "import signal, sys\n"
    "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
    "sys.argv[0] = 'chit'\n"
    "from chit.cli.main import main\n"
    "main()\n"
)

#: chit as a command, as users and scripts run it; append its arguments. Ctrl-C reaches it
#: as an interactive shell delivers it: a suite started in the background (``nohup ... &``)
#: has SIGINT ignored, and a child would inherit that and never see its Ctrl-C.
CHIT = [sys.executable, "-c", _START]

#: The API key chit processes get in tests; no file chit writes may hold it.
KEY = "sk-test-DO-NOT-LEAK-4242"
#: Every count unknown: what a request that never reported usage gives.
UNKNOWN: dict[str, int | None] = dict.fromkeys(FIELDS)


def endpoint_for(api: str, server: ReplayServer, **kw: Any) -> Endpoint:
    """An endpoint pointing the provider of ``api`` at the replay server."""
    provider = API_PROVIDER[api]
    base = server.url if provider in ("anthropic", "ollama") else server.url + "/v1"
    key = None if provider == "ollama" else "test-key"
    return Endpoint(provider, base, key, KEY_ENV.get(provider, "OPENAI_API_KEY"), **kw)


def run_stream(api: str, server: ReplayServer, model: str = "test-model", **kw: Any) -> list[Event]:
    """Send one request through the provider and collect every event."""
    endpoint = endpoint_for(api, server, max_retries=kw.pop("max_retries", 0))
    request = Request(model=model, messages=[Message(role="user", text="hi")], **kw)
    with closing(connect(endpoint)) as provider:
        return list(provider.stream(request))


def final(events: list[Event]) -> AssistantTurn:
    """The stream's final record, checking there is exactly one and it comes last."""
    turns = [e for e in events if isinstance(e, AssistantTurn)]
    assert len(turns) == 1, f"expected one AssistantTurn, got {len(turns)}"
    assert events[-1] is turns[0]
    return turns[0]


def read_body(
    api: str, pieces: Iterable[bytes], content_type: str, model: str = "test-model"
) -> list[Event]:
    """The events the provider of ``api`` makes of a body arriving in these pieces: its
    own framing and accumulator, fed from memory instead of a socket."""
    endpoint = Endpoint(API_PROVIDER[api], "http://127.0.0.1:9", "test-key")
    with closing(connect(endpoint)) as provider:
        assert isinstance(provider, HTTPProvider)
        acc = provider.accumulator()
        response = httpx.Response(200, headers={"content-type": content_type}, content=pieces)
        events = list(provider.read(response, acc))
        return [*events, acc.turn(endpoint.provider, model)]


def bytewise(data: bytes) -> Iterator[bytes]:
    """The body one byte at a time: every split point at once."""
    return (data[i : i + 1] for i in range(len(data)))


def user(text: str = "hi") -> list[Message]:
    return [Message(role="user", text=text)]


def headers_of(server: ReplayServer, n: int = 0) -> dict[str, str]:
    """The headers of the ``n``-th request received, names in lower case."""
    return {k.lower(): v for k, v in server.received[n].headers.items()}


def raw_value(sent: bytes, key: str) -> bytes:
    """The bytes of a top-level value of a JSON body, exactly as sent."""
    text = sent.decode()
    start = text.index(f'"{key}":') + len(key) + 3
    while text[start] in " \t\n":
        start += 1
    _, end = json.JSONDecoder().raw_decode(text, start)
    return text[start:end].encode()


@contextmanager
def ctrl_c_raises() -> Iterator[None]:
    """SIGINT raises ``KeyboardInterrupt`` in here, also when the tests run with SIGINT
    ignored (started as a background job, where the shell ignores it for them)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def read_with_ctrl_c(events: Iterable[Event], after: float) -> list[Event]:
    """Collect a stream, pressing Ctrl-C (a real SIGINT to this process) ``after`` seconds
    past its first text; a ``KeyboardInterrupt`` escaping the stream fails the test."""
    seen: list[Event] = []
    timer: threading.Timer | None = None
    with ctrl_c_raises():
        try:
            for event in events:
                seen.append(event)
                if timer is None and isinstance(event, TextDelta):
                    timer = threading.Timer(after, os.kill, (os.getpid(), signal.SIGINT))
                    timer.start()
        except KeyboardInterrupt:
            pytest.fail("Ctrl-C escaped the provider's stream")
        finally:
            if timer is not None:
                timer.join()
    return seen


def env_for(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a chit process: no real key, sessions under ``home``."""
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env.update(CHIT_HOME=str(home), **extra)
    return env


#: Agents made by :func:`make_agent`; conftest closes them after each test.
MADE: list[Agent] = []


def make_agent(
    replay: ReplayServer, tmp_path: Path, api: str = "anthropic_messages", **kw: Any
) -> Agent:
    """An agent on the replay server with the default tools, confined to ``tmp_path``."""
    endpoint = endpoint_for(api, replay)
    kw.setdefault("tools", default_tools())
    kw.setdefault("tool_context", ToolContext(root=tmp_path))
    agent = Agent(connect(endpoint), endpoint, "claude-sonnet-4-5", **kw)
    agent.state.session_id = "sess-1"
    MADE.append(agent)
    return agent


def run_turn(
    agent: Agent, prompt: str = "go", answer: str | None = None
) -> tuple[TurnDone, list[AgentEvent]]:
    """Run one turn, answering permission requests with ``answer``; the events it gave."""
    events: list[AgentEvent] = []

    def handle(e: AgentEvent) -> None:
        if isinstance(e, PermissionRequest) and answer is not None:
            e.answer(answer)  # type: ignore[arg-type]
        events.append(e)

    return drain(agent.run(prompt), handle), events
