"""Every recorded stream in the shared manifest gives exactly its expected usage, model, ending.

One parametrized test reads the manifest, so a new entry is tested with no new code.
"""

from __future__ import annotations

from typing import Any

import pytest
from replay import ReplayServer, Reply, manifest

from chit.messages import AssistantTurn, Event, Message
from chit.providers import Endpoint, Request, connect

API_PROVIDER = {
    "anthropic_messages": "anthropic",
    "openai_chat": "openai",
    "openai_responses": "openai-responses",
    "ollama_chat": "ollama",
}


def endpoint_for(api: str, server: ReplayServer, **kw: Any) -> Endpoint:
    """An endpoint pointing the real SDK of ``api`` at the replay server."""
    provider = API_PROVIDER[api]
    base = server.url if provider in ("anthropic", "ollama") else server.url + "/v1"
    key_env = {"anthropic": "ANTHROPIC_API_KEY", "ollama": ""}.get(provider, "OPENAI_API_KEY")
    key = None if provider == "ollama" else "test-key"
    return Endpoint(provider, base, key, key_env, **kw)


def run_stream(api: str, server: ReplayServer, model: str = "test-model", **kw: Any) -> list[Event]:
    """Send one request through the provider and collect every event."""
    provider = connect(endpoint_for(api, server, max_retries=kw.pop("max_retries", 0)))
    request = Request(model=model, messages=[Message(role="user", text="hi")], **kw)
    return list(provider.stream(request))


def final(events: list[Event]) -> AssistantTurn:
    """The stream's final record, checking there is exactly one and it comes last."""
    turns = [e for e in events if isinstance(e, AssistantTurn)]
    assert len(turns) == 1, f"expected one AssistantTurn, got {len(turns)}"
    assert events[-1] is turns[0]
    return turns[0]


@pytest.mark.parametrize("entry", manifest(), ids=lambda e: e["id"])
def test_recorded_stream_gives_expected_usage(entry: dict[str, Any], replay: ReplayServer) -> None:
    replay.queue(Reply.recorded(entry["id"]))
    turn = final(run_stream(entry["api"], replay, model=entry.get("model") or "test-model"))
    expected = entry["expected"]
    assert turn.usage.counts() == expected["usage"]
    assert turn.model == expected["model"]
    assert turn.ended.value == expected["ended"]
    assert turn.provider == API_PROVIDER[entry["api"]]
