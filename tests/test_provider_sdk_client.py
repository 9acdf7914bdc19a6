"""A user's own SDK client: ``connect(endpoint, client=...)`` sends through it (its auth, base
URL, retries) and reads the body with chit's own framing and accumulator.

The clients are the real ``anthropic``, ``openai`` and ``ollama`` clients, pointed at the
replay server.
"""

from __future__ import annotations

from contextlib import closing
from typing import Any

import anthropic
import ollama
import openai
import pytest
import wire
from helpers import final, headers_of, user
from replay import ReplayServer, Reply, body, entry

from chit.errors import BadInput
from chit.messages import Ended
from chit.providers import Endpoint, Request, connect

FAST_RETRY = {"retry-after-ms": "1"}
EVENT_STREAM = "application/vnd.amazon.eventstream"
#: How each SDK names itself: the request came from the user's client, not chit's own.
AGENTS = {
    "anthropic": "Anthropic/Python",
    "openai": "OpenAI/Python",
    "openai-responses": "OpenAI/Python",
    "ollama": "ollama-python/",
}
RECORDED = {
    "anthropic": "anthropic/otl_prompt_caching_stream_write",
    "openai": "openai/lcg_with_streaming",
    "openai-responses": "openai/pai_responses_stream_0",
    "ollama": "ollama/lcg_with_streaming",
}


def ask(endpoint: Endpoint, client: object, model: str = "m") -> Any:
    with closing(connect(endpoint, client=client)) as provider:
        return final(list(provider.stream(Request(model, user()))))


def clients(server: ReplayServer) -> dict[str, Any]:
    """One client of each SDK per wire format, as a user would make it."""
    return {
        "anthropic": anthropic.Anthropic(api_key="user-key", base_url=server.url, max_retries=0),
        "openai": openai.OpenAI(api_key="user-key", base_url=server.url + "/v1", max_retries=0),
        "openai-responses": openai.OpenAI(
            api_key="user-key", base_url=server.url + "/v1", max_retries=0
        ),
        "ollama": ollama.Client(host=server.url, headers={"authorization": "Bearer user-key"}),
    }


@pytest.mark.parametrize("provider", RECORDED)
def test_a_users_client_sends_and_chit_reads_the_exact_usage(
    provider: str, replay: ReplayServer
) -> None:
    replay.queue(Reply.recorded(RECORDED[provider]))
    client = clients(replay)[provider]
    turn = ask(Endpoint(provider), client)
    assert turn.usage.counts() == entry(RECORDED[provider])["expected"]["usage"]
    assert (turn.ended, turn.provider) == (Ended.COMPLETE, provider)
    headers = headers_of(replay)
    # The client's own auth (this anthropic version sends its key as a bearer token).
    assert headers["authorization"] == "Bearer user-key"
    assert headers["user-agent"].startswith(AGENTS[provider])
    client.close()


def test_the_clients_retries_are_the_ones_used(replay: ReplayServer) -> None:
    client = anthropic.Anthropic(api_key="k", base_url=replay.url, max_retries=2)
    busy = {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}
    replay.queue(
        Reply.error(529, busy, headers=FAST_RETRY),
        Reply.error(529, busy, headers=FAST_RETRY),
        Reply(body=wire.anthropic("ok")),
    )
    # The endpoint asks for no retries: the client's two are what happen.
    turn = ask(Endpoint("anthropic", max_retries=0), client)
    assert (turn.ended, turn.text, len(replay.received)) == (Ended.COMPLETE, "ok", 3)
    assert headers_of(replay, 2)["x-stainless-retry-count"] == "2"


@pytest.mark.parametrize("status", [401, 403])
def test_an_auth_error_through_a_users_client(status: int, replay: ReplayServer) -> None:
    client = anthropic.Anthropic(api_key="bad", base_url=replay.url, max_retries=0)
    refusal = {"type": "error", "error": {"type": "authentication_error", "message": "bad key"}}
    replay.queue(Reply.error(status, refusal))
    turn = ask(Endpoint("anthropic", api_key_env="ANTHROPIC_API_KEY"), client)
    assert turn.error is not None and (turn.error.type, turn.error.status) == ("auth", status)
    assert "check ANTHROPIC_API_KEY" in turn.error.message and "bad key" in turn.error.message


def test_a_cut_through_a_users_client_keeps_what_arrived(replay: ReplayServer) -> None:
    data = body(RECORDED["anthropic"])
    replay.queue(Reply(body=data, cut_after=data.index(b"event: message_delta")))
    client = anthropic.Anthropic(api_key="k", base_url=replay.url, max_retries=0)
    turn = ask(Endpoint("anthropic"), client)
    assert turn.ended is Ended.INTERRUPTED
    assert turn.error is not None and turn.error.type == "connection"
    # httpx2's failure, read as httpx's: a cut stream.
    assert "the connection was lost mid-response" in turn.error.message
    assert "incomplete chunked read" in turn.error.message
    assert (turn.usage.input_tokens, turn.usage.output_tokens) == (1169, None)


def test_an_unreachable_server_through_a_users_client(replay: ReplayServer) -> None:
    replay.queue(Reply(hang_up=True))
    client = openai.OpenAI(api_key="k", base_url=replay.url + "/v1", max_retries=0)
    turn = ask(Endpoint("openai"), client)
    assert turn.error is not None and turn.error.type == "connection"
    assert f"connection to {replay.url}/v1/ failed" in turn.error.message


def test_closing_the_provider_leaves_the_users_client_open(replay: ReplayServer) -> None:
    replay.queue(Reply(body=wire.anthropic("one")), Reply(body=wire.anthropic("two")))
    client = anthropic.Anthropic(api_key="k", base_url=replay.url, max_retries=0)
    assert ask(Endpoint("anthropic"), client).text == "one"
    assert not client.is_closed()
    assert ask(Endpoint("anthropic"), client).text == "two"
    client.close()


def test_a_users_bedrock_client_with_its_own_credentials(replay: ReplayServer) -> None:
    client = anthropic.AnthropicBedrock(
        aws_access_key="AKIDUSERUSERUSER",
        aws_secret_key="user-secret",
        aws_session_token="user-session-token",
        aws_region="eu-west-1",
        base_url=replay.url,
        max_retries=0,
    )
    replay.queue(Reply(body=wire.bedrock(wire.anthropic("hi")), content_type=EVENT_STREAM))
    turn = ask(Endpoint("bedrock"), client, "anthropic.claude-haiku-4-5-20251001-v1:0")
    assert (turn.text, turn.provider) == ("hi", "bedrock")
    headers = headers_of(replay)
    assert "Credential=AKIDUSERUSERUSER/" in headers["authorization"]
    assert "/eu-west-1/bedrock/aws4_request" in headers["authorization"]
    assert headers["x-amz-security-token"] == "user-session-token"
    client.close()


def test_a_users_vertex_client_with_an_access_token(replay: ReplayServer) -> None:
    client = anthropic.AnthropicVertex(
        access_token="user-token",
        region="europe-west1",
        project_id="user-proj",
        base_url=replay.url,
        max_retries=0,
    )
    replay.queue(Reply(body=wire.anthropic("hi")))
    assert ask(Endpoint("vertex"), client, "claude-haiku-4-5@20251001").text == "hi"
    assert replay.received[0].path.startswith("/projects/user-proj/locations/europe-west1/")
    assert headers_of(replay)["authorization"] == "Bearer user-token"
    client.close()


def test_a_users_azure_client(replay: ReplayServer) -> None:
    client = openai.AzureOpenAI(
        api_key="user-azure-key",
        azure_endpoint=replay.url,
        api_version="2024-10-21",
        max_retries=0,
    )
    replay.queue(Reply(body=wire.openai_chat("hi")))
    assert ask(Endpoint("azure"), client, "dep-1").text == "hi"
    assert (
        replay.received[0].path
        == "/openai/deployments/dep-1/chat/completions?api-version=2024-10-21"
    )
    assert headers_of(replay)["api-key"] == "user-azure-key"
    client.close()


@pytest.mark.parametrize(
    ("provider", "make"),
    [
        ("openai", lambda url: anthropic.Anthropic(api_key="k", base_url=url)),
        ("anthropic", lambda url: openai.OpenAI(api_key="k", base_url=url)),
        ("anthropic", lambda url: anthropic.AsyncAnthropic(api_key="k", base_url=url)),
        ("anthropic", lambda url: ollama.Client(host=url)),
        ("ollama", lambda url: object()),
    ],
)
def test_a_client_that_cannot_send_there_is_bad_input(
    provider: str, make: Any, replay: ReplayServer
) -> None:
    with pytest.raises(BadInput, match="cannot send"):
        connect(Endpoint(provider), client=make(replay.url))
