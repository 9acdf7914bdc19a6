"""A chat's provider connects in the background (``chit.providers.Connecting``): the
first request gives the same record as a provider connected at once, and nothing loads
before it is started."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from helpers import endpoint_for, final
from replay import ReplayServer, Reply

from chit.messages import Message
from chit.providers import Connecting, Request, connect

RECORDING = "anthropic/lcg_create_message_stream"


def _turn(provider: object, server: ReplayServer) -> object:
    server.queue(Reply.recorded(RECORDING))
    request = Request(model="claude-sonnet-4-5", messages=[Message(role="user", text="hi")])
    return final(list(provider.stream(request)))  # type: ignore[attr-defined]


def test_the_first_request_waits_for_the_connection_and_gives_the_same_record() -> None:
    with ReplayServer() as server:
        endpoint = endpoint_for("anthropic_messages", server, max_retries=0)
        at_once = connect(endpoint)
        background = Connecting(endpoint)
        try:
            expected = _turn(at_once, server)
            got = _turn(background, server)  # never started: the request starts it
        finally:
            at_once.close()
            background.close()
        assert got == expected
        assert len(server.received) == 2


def test_started_early_it_connects_while_nothing_is_asked() -> None:
    with ReplayServer() as server:
        background = Connecting(endpoint_for("anthropic_messages", server, max_retries=0))
        background.start()
        background.start()  # once only
        assert background.ready() is background.ready()
        assert server.received == []  # connecting sends nothing
        background.close()


def test_closing_one_never_started_loads_nothing() -> None:
    with ReplayServer() as server:
        background = Connecting(endpoint_for("anthropic_messages", server))
        background.close()
        assert not background.started


def test_a_cloud_is_connected_at_once_not_in_the_background() -> None:
    with ReplayServer() as server:
        endpoint = endpoint_for("anthropic_messages", server)
    with pytest.raises(ValueError, match="bedrock is connected at once"):
        Connecting(replace(endpoint, provider="bedrock"))


#: What a chat's first prompt must not wait for.
HEAVY = (
    *("httpx", "rich", "genai_prices", "anthropic", "openai", "orjson"),
    *("chit.agent.loop", "chit.messages", "chit.checkpoint.session"),
)

OPEN_A_CHAT = """
import sys
from chit.cli.interactive import run_interactive  # what `chit` imports to chat
from chit.cli.main import build_parser
from chit.cli.setup import open_all

opening = open_all(build_parser().parse_args(["--model", "claude-sonnet-4-5"]), background=True)
print(" ".join(sorted(sys.modules)))
opening.provider.close()
"""


def test_a_chat_opens_its_session_without_the_heavy_half(tmp_path: Path) -> None:
    env = {**os.environ, "ANTHROPIC_API_KEY": "k", "CHIT_HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", OPEN_A_CHAT], env=env, capture_output=True, text=True, check=True
    )
    loaded = set(done.stdout.split())
    assert "chit.cli.setup" in loaded and "prompt_toolkit" in loaded
    assert "chit.checkpoint.home" in loaded  # the session's path is known, its format not loaded
    assert [m for m in HEAVY if m in loaded] == []
