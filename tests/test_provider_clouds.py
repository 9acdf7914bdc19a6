"""The clouds against loopback servers: Bedrock (SigV4, AWS event-stream framing), Vertex
(Google OAuth, its token endpoint on the loopback server too) and Azure OpenAI (``api-key``).

The SDK clients are the real ones, made by chit from the same variables a user sets, with
fake credentials; each test checks the auth the SDK put on the request, the path the cloud
routes by, the exact usage, the auth errors' message, and Ctrl-C.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from contextlib import closing
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import wire
from helpers import final, headers_of, read_with_ctrl_c, user
from replay import ReplayServer, Reply, body, entry, manifest

from chit.errors import BadInput, NoCredentials
from chit.messages import Ended
from chit.providers import Endpoint, Request, choose, connect

ANTHROPIC = [e["id"] for e in manifest() if e["api"] == "anthropic_messages"]
CHAT = "openai/lcg_with_streaming"
BEDROCK_MODEL = "anthropic.claude-sonnet-4-5-20250929-v1:0"
VERTEX_MODEL = "claude-sonnet-4-5@20250929"
EVENT_STREAM = "application/vnd.amazon.eventstream"
FAST_RETRY = {"retry-after-ms": "1"}


def ask(endpoint: Endpoint, model: str) -> Any:
    """One request through a freshly connected provider; its final record."""
    with closing(connect(endpoint)) as provider:
        return final(list(provider.stream(Request(model, user()))))


def slow(data: bytes, at: int) -> Reply:
    """The body up to ``at`` at once, the rest after a pause (time for a Ctrl-C)."""
    return Reply(body=data, content_type=EVENT_STREAM, chunk_size=at, delay=0.6, delay_first=False)


# Bedrock


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake AWS credentials in the variables boto3 reads."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDTESTTESTTEST")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret-test-key")
    monkeypatch.setenv("AWS_REGION", "us-east-1")


def bedrock(server: ReplayServer, **settings: Any) -> Endpoint:
    """The endpoint ``--provider bedrock --base-url`` gives, with these settings."""
    endpoint, model = choose(os.environ, "bedrock", BEDROCK_MODEL, server.url)
    assert model == BEDROCK_MODEL
    return replace(endpoint, **{"max_retries": 0, **settings})


@pytest.mark.parametrize("entry_id", ANTHROPIC)
def test_bedrock_signs_the_request_and_reads_the_event_stream(
    entry_id: str, aws: None, replay: ReplayServer
) -> None:
    replay.queue(Reply(body=wire.bedrock(body(entry_id)), content_type=EVENT_STREAM))
    turn = ask(bedrock(replay), BEDROCK_MODEL)
    expected = entry(entry_id)["expected"]
    assert turn.usage.counts() == expected["usage"]
    assert (turn.ended.value, turn.model, turn.provider) == (
        expected["ended"],
        expected["model"],
        "bedrock",
    )
    (received,) = replay.received
    assert received.path == f"/model/{BEDROCK_MODEL}/invoke-with-response-stream"
    headers = headers_of(replay)
    assert headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDTESTTESTTEST/")
    assert "/us-east-1/bedrock/aws4_request" in headers["authorization"]
    assert headers["x-amz-date"].endswith("Z")
    sent = received.json
    assert sent["anthropic_version"]  # the SDK's, in the body
    assert "model" not in sent and "stream" not in sent  # in the path instead


@pytest.mark.parametrize("status", [401, 403])
def test_bedrock_auth_errors_name_the_aws_variables(
    status: int, aws: None, replay: ReplayServer
) -> None:
    refusal = {"message": "The security token included in the request is invalid."}
    replay.queue(Reply.error(status, refusal))
    turn = ask(bedrock(replay), BEDROCK_MODEL)
    assert turn.ended is Ended.ERROR
    assert turn.error is not None and (turn.error.type, turn.error.status) == ("auth", status)
    assert "AWS_ACCESS_KEY_ID" in turn.error.message and "AWS_PROFILE" in turn.error.message
    assert "security token included in the request is invalid" in turn.error.message


def test_bedrock_retries_through_the_sdk_each_try_signed(aws: None, replay: ReplayServer) -> None:
    replay.queue(
        Reply.error(529, {"message": "busy"}, headers=FAST_RETRY),
        Reply(body=wire.bedrock(wire.anthropic("ok")), content_type=EVENT_STREAM),
    )
    turn = ask(bedrock(replay, max_retries=1), BEDROCK_MODEL)
    assert turn.ended is Ended.COMPLETE and turn.text == "ok"
    assert len(replay.received) == 2
    assert all(headers_of(replay, n)["authorization"].startswith("AWS4") for n in (0, 1))


def test_a_bedrock_exception_in_the_stream_ends_with_its_error(
    aws: None, replay: ReplayServer
) -> None:
    start = wire.sse_data(wire.anthropic("ab", input_tokens=12))[:3]  # message_start, a block
    data = b"".join(map(wire.aws_chunk, start)) + wire.aws_exception("throttlingException", "slow")
    replay.queue(Reply(body=data, content_type=EVENT_STREAM))
    turn = ask(bedrock(replay), BEDROCK_MODEL)
    assert turn.ended is Ended.ERROR
    assert turn.error is not None and turn.error.type == "rate_limit"
    assert turn.error.message == "throttlingException: slow"
    assert turn.usage.input_tokens == 12  # what arrived is kept


def test_a_bedrock_stream_cut_mid_message_is_interrupted_with_what_arrived(
    aws: None, replay: ReplayServer
) -> None:
    chunks = [wire.aws_chunk(d) for d in wire.sse_data(wire.anthropic("abc", input_tokens=9))]
    data = b"".join(chunks)
    replay.queue(Reply(body=data, content_type=EVENT_STREAM, cut_after=len(chunks[0]) + 10))
    turn = ask(bedrock(replay), BEDROCK_MODEL)
    assert turn.ended is Ended.INTERRUPTED
    assert turn.error is not None and turn.error.type == "connection"
    assert (turn.usage.input_tokens, turn.usage.output_tokens) == (9, None)


def test_the_endpoints_timeouts_hold_through_the_sdk(aws: None, replay: ReplayServer) -> None:
    data = wire.bedrock(wire.anthropic("ok", input_tokens=3))
    # Pauses of 0.5 s between pieces: longer than the first-byte timeout, within the read one.
    replay.queue(
        Reply(
            body=data,
            content_type=EVENT_STREAM,
            chunk_size=len(data) // 3 + 1,
            delay=0.5,
            delay_first=False,
        )
    )
    turn = ask(bedrock(replay, first_byte_timeout=0.3, read_timeout=3.0), BEDROCK_MODEL)
    assert (turn.ended, turn.text) == (Ended.COMPLETE, "ok")
    # A first byte later than its timeout: the SDK's timeout, as chit's own timeout error.
    replay.queue(Reply(body=data, content_type=EVENT_STREAM, head_delay=1.0))
    turn = ask(bedrock(replay, first_byte_timeout=0.3), BEDROCK_MODEL)
    assert turn.ended is Ended.ERROR
    assert turn.error is not None and turn.error.type == "timeout"
    assert f"connection to {replay.url} timed out" in turn.error.message


def test_a_body_that_is_no_event_stream_is_a_bad_response(aws: None, replay: ReplayServer) -> None:
    replay.queue(Reply(body=wire.anthropic("hi")))  # server-sent events, not Bedrock's framing
    turn = ask(bedrock(replay), BEDROCK_MODEL)
    assert turn.error is not None and turn.error.type == "bad_response"
    assert "expected an AWS event stream, got text/event-stream" in turn.error.message


def test_ctrl_c_during_a_bedrock_stream_ends_with_an_interrupted_record(
    aws: None, replay: ReplayServer
) -> None:
    chunks = [wire.aws_chunk(d) for d in wire.sse_data(wire.anthropic("hello", input_tokens=5))]
    before_delta = sum(map(len, chunks[:3]))  # message_start, block start, first text
    replay.queue(slow(b"".join(chunks), before_delta))
    with closing(connect(bedrock(replay))) as provider:
        turn = final(read_with_ctrl_c(provider.stream(Request(BEDROCK_MODEL, user())), 0.2))
    assert turn.ended is Ended.INTERRUPTED
    assert turn.error is not None and turn.error.type == "interrupted"
    assert (turn.usage.input_tokens, turn.usage.output_tokens) == (5, None)
    assert turn.text == "hello"


def test_bedrock_without_credentials_says_which_variables(
    monkeypatch: pytest.MonkeyPatch, replay: ReplayServer
) -> None:
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    with pytest.raises(NoCredentials, match="set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"):
        connect(bedrock(replay))


def test_bedrock_without_a_region_says_aws_region(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_REGION")
    with pytest.raises(NoCredentials, match="set AWS_REGION"):
        connect(Endpoint("bedrock", "http://127.0.0.1:9"))


@pytest.mark.parametrize(
    ("provider", "hidden", "extra"),
    [("bedrock", "botocore", "chit[bedrock]"), ("vertex", "google.auth", "chit[vertex]")],
)
def test_a_missing_cloud_extra_is_one_line_naming_it(
    provider: str, hidden: str, extra: str, aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, hidden, None)  # as if it were not installed
    with pytest.raises(BadInput, match=re.escape(f"pip install '{extra}'")):
        connect(Endpoint(provider, "http://127.0.0.1:9"))


def test_chit_p_on_bedrock(aws: None, replay: ReplayServer, tmp_path: Path) -> None:
    # A process of its own: boto3 reads the variables afresh (the SDK keeps one session per
    # process, so a session token set in a test process after another test would go unseen).
    entry_id = "anthropic/otl_prompt_caching_stream_write"
    replay.queue(Reply(body=wire.bedrock(body(entry_id)), content_type=EVENT_STREAM))
    env = {**os.environ, "CHIT_PROVIDER": "bedrock", "CHIT_HOME": str(tmp_path / "home")}
    env["AWS_SESSION_TOKEN"] = "session-token-test"
    command = [sys.executable, "-m", "chit", "--model", BEDROCK_MODEL, "--base-url", replay.url]
    run = subprocess.run(
        [*command, "-p", "hi", "--output-format", "json", "--no-tools"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert (out["provider"], out["ended"]) == ("bedrock", "complete")
    assert out["turn"]["usage"] == entry(entry_id)["expected"]["usage"]
    assert out["turn"]["cost_usd"] is not None  # priced as AWS prices it
    headers = headers_of(replay)
    assert headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDTESTTESTTEST/")
    assert headers["x-amz-security-token"] == "session-token-test"


# Vertex: a service account whose token endpoint is the loopback server too


TOKEN = "ya29.test-access-token"


@pytest.fixture(scope="module")
def private_key() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


@pytest.fixture
def google(
    private_key: str, replay: ReplayServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A service-account key file in GOOGLE_APPLICATION_CREDENTIALS, the region and project
    in the SDK's variables; the token request is answered first, with ``TOKEN``."""
    account = {
        "type": "service_account",
        "project_id": "key-project",
        "private_key_id": "k1",
        "private_key": private_key,
        "client_email": "chit-test@key-project.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": f"{replay.url}/token",
    }
    path = tmp_path / "service-account.json"
    path.write_text(json.dumps(account))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(path))
    monkeypatch.setenv("CLOUD_ML_REGION", "us-east5")
    monkeypatch.setenv("ANTHROPIC_VERTEX_PROJECT_ID", "proj-1")
    token = {"access_token": TOKEN, "expires_in": 3600, "token_type": "Bearer"}
    replay.queue(Reply(body=json.dumps(token).encode(), content_type="application/json"))


def vertex(server: ReplayServer) -> Endpoint:
    """The endpoint ``--provider vertex --base-url`` gives, without retries."""
    endpoint, model = choose(os.environ, "vertex", VERTEX_MODEL, server.url)
    assert model == VERTEX_MODEL
    return replace(endpoint, max_retries=0)


@pytest.mark.parametrize("entry_id", ANTHROPIC[:3])
def test_vertex_signs_in_with_google_and_reads_the_stream(
    entry_id: str, google: None, replay: ReplayServer
) -> None:
    replay.queue(Reply.recorded(entry_id))
    turn = ask(vertex(replay), VERTEX_MODEL)
    assert turn.usage.counts() == entry(entry_id)["expected"]["usage"]
    assert (turn.ended, turn.provider) == (Ended.COMPLETE, "vertex")
    signin, received = replay.received
    assert signin.path == "/token"
    assert b"grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer" in signin.body
    assert received.path == (
        f"/projects/proj-1/locations/us-east5/publishers/anthropic/models/{VERTEX_MODEL}"
        ":streamRawPredict"
    )
    assert headers_of(replay, 1)["authorization"] == f"Bearer {TOKEN}"
    assert received.json["anthropic_version"] and "model" not in received.json


def test_vertex_takes_the_project_of_the_key_file_when_no_variable_names_one(
    google: None, monkeypatch: pytest.MonkeyPatch, replay: ReplayServer
) -> None:
    monkeypatch.delenv("ANTHROPIC_VERTEX_PROJECT_ID")
    replay.queue(Reply(body=wire.anthropic("hi")))
    assert ask(vertex(replay), VERTEX_MODEL).text == "hi"
    assert replay.received[1].path.startswith("/projects/key-project/locations/us-east5/")


@pytest.mark.parametrize("status", [401, 403])
def test_vertex_auth_errors_name_the_google_variables(
    status: int, google: None, replay: ReplayServer
) -> None:
    refusal = {"error": {"code": status, "message": "Permission denied on resource project"}}
    replay.queue(Reply.error(status, refusal))
    turn = ask(vertex(replay), VERTEX_MODEL)
    assert turn.error is not None and (turn.error.type, turn.error.status) == ("auth", status)
    assert "GOOGLE_APPLICATION_CREDENTIALS" in turn.error.message
    assert "ANTHROPIC_VERTEX_PROJECT_ID" in turn.error.message
    assert "Permission denied on resource project" in turn.error.message


def test_ctrl_c_during_a_vertex_stream_ends_with_an_interrupted_record(
    google: None, replay: ReplayServer
) -> None:
    data = wire.anthropic("hello", input_tokens=5)
    at = data.index(b"event: content_block_stop")
    replay.queue(Reply(body=data, chunk_size=at, delay=0.6, delay_first=False))
    with closing(connect(vertex(replay))) as provider:
        turn = final(read_with_ctrl_c(provider.stream(Request(VERTEX_MODEL, user())), 0.2))
    assert turn.ended is Ended.INTERRUPTED
    assert turn.error is not None and turn.error.type == "interrupted"
    assert (turn.usage.input_tokens, turn.usage.output_tokens, turn.text) == (5, None, "hello")


def test_a_refused_google_sign_in_is_one_line_at_connect(
    google: None, replay: ReplayServer
) -> None:
    replay.replies.clear()
    replay.queue(Reply.error(400, {"error": "invalid_grant", "error_description": "bad key"}))
    with pytest.raises(NoCredentials, match="Google refused the credentials for vertex"):
        connect(vertex(replay))


def test_vertex_without_credentials_or_region_says_what_to_set(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    with pytest.raises(NoCredentials, match="set GOOGLE_APPLICATION_CREDENTIALS"):
        connect(Endpoint("vertex", "http://127.0.0.1:9"))


def test_vertex_without_a_region_says_cloud_ml_region(
    google: None, monkeypatch: pytest.MonkeyPatch, replay: ReplayServer
) -> None:
    monkeypatch.delenv("CLOUD_ML_REGION")
    with pytest.raises(NoCredentials, match="set CLOUD_ML_REGION"):
        connect(vertex(replay))


# Azure OpenAI


@pytest.fixture
def azure(monkeypatch: pytest.MonkeyPatch, replay: ReplayServer) -> None:
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", replay.url)
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "azure-test-key")


def azure_endpoint(model: str | None = "my-gpt") -> tuple[Endpoint, str]:
    """What the variables choose with no ``--provider``: Azure, from AZURE_OPENAI_ENDPOINT."""
    endpoint, chosen = choose(os.environ, None, model)
    return replace(endpoint, max_retries=0), chosen


def test_azure_is_chosen_by_its_endpoint_and_sends_the_api_key(
    azure: None, replay: ReplayServer
) -> None:
    replay.queue(Reply.recorded(CHAT))
    endpoint, model = azure_endpoint()
    assert endpoint.provider == "azure"
    turn = ask(endpoint, model)
    assert turn.usage.counts() == entry(CHAT)["expected"]["usage"]
    assert (turn.ended, turn.provider) == (Ended.COMPLETE, "azure")
    (received,) = replay.received
    assert received.path == "/openai/deployments/my-gpt/chat/completions?api-version=2024-10-21"
    headers = headers_of(replay)
    assert headers["api-key"] == "azure-test-key" and "authorization" not in headers
    sent = received.json
    assert sent["max_completion_tokens"] == 8192 and "max_tokens" not in sent
    assert sent["stream_options"] == {"include_usage": True}


@pytest.mark.parametrize(
    ("variables", "version"),
    [
        ({"OPENAI_API_VERSION": "2025-01-01-preview"}, "2025-01-01-preview"),
        ({"AZURE_OPENAI_API_VERSION": "2024-06-01", "OPENAI_API_VERSION": "x"}, "2024-06-01"),
    ],
)
def test_azure_api_version_from_the_variables(
    variables: dict[str, str],
    version: str,
    azure: None,
    monkeypatch: pytest.MonkeyPatch,
    replay: ReplayServer,
) -> None:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    replay.queue(Reply(body=wire.openai_chat("ok")))
    assert ask(*azure_endpoint()).text == "ok"
    assert replay.received[0].path.endswith(f"?api-version={version}")


def test_an_openai_model_name_goes_to_azure_when_only_azure_is_set(
    azure: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert azure_endpoint("gpt-4o")[0].provider == "azure"
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    assert azure_endpoint("gpt-4o")[0].provider == "openai"


def test_cloud_model_ids_choose_their_cloud() -> None:
    for model, provider in [
        (BEDROCK_MODEL, "bedrock"),
        ("us.anthropic.claude-haiku-4-5-20251001-v1:0", "bedrock"),
        (VERTEX_MODEL, "vertex"),
    ]:
        assert choose({}, None, model)[0].provider == provider


def test_azure_ad_token_is_sent_as_a_bearer_token(
    azure: None, monkeypatch: pytest.MonkeyPatch, replay: ReplayServer
) -> None:
    monkeypatch.setenv("AZURE_OPENAI_AD_TOKEN", "entra-token")
    replay.queue(Reply(body=wire.openai_chat("ok")))
    endpoint, model = azure_endpoint()
    assert endpoint.api_key_env == "AZURE_OPENAI_AD_TOKEN"
    assert ask(endpoint, model).text == "ok"
    headers = headers_of(replay)
    assert headers["authorization"] == "Bearer entra-token" and "api-key" not in headers


@pytest.mark.parametrize("status", [401, 403])
def test_azure_auth_errors_name_the_key_variable(
    status: int, azure: None, replay: ReplayServer
) -> None:
    refusal = {"error": {"code": str(status), "message": "Access denied due to invalid key"}}
    replay.queue(Reply.error(status, refusal))
    turn = ask(*azure_endpoint())
    assert turn.error is not None and (turn.error.type, turn.error.status) == ("auth", status)
    assert "check AZURE_OPENAI_API_KEY" in turn.error.message
    assert "Access denied due to invalid key" in turn.error.message


def test_azure_refusing_stream_options_is_asked_again_without(
    azure: None, replay: ReplayServer
) -> None:
    refusal = {"error": {"message": "Unrecognized request argument: stream_options"}}
    replay.queue(Reply.error(400, refusal), Reply(body=wire.openai_chat("ok", prompt_tokens=3)))
    turn = ask(*azure_endpoint())
    assert (turn.text, turn.usage.input_tokens) == ("ok", 3)
    first, second = (r.json for r in replay.received)
    assert "stream_options" in first and "stream_options" not in second


def test_ctrl_c_during_an_azure_stream_ends_with_an_interrupted_record(
    azure: None, replay: ReplayServer
) -> None:
    data = wire.openai_chat("hello world", prompt_tokens=4)
    at = data.index(b'"stop"')  # the text whole, then a pause before the finish
    replay.queue(Reply(body=data, chunk_size=at, delay=0.6, delay_first=False))
    endpoint, model = azure_endpoint()
    with closing(connect(endpoint)) as provider:
        turn = final(read_with_ctrl_c(provider.stream(Request(model, user())), 0.2))
    assert turn.ended is Ended.INTERRUPTED
    assert turn.error is not None and turn.error.type == "interrupted"
    assert turn.usage.input_tokens is None  # the usage chunk never came
    assert turn.text == "hello world"


def test_azure_without_its_variables_says_which(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", "https://res.openai.azure.com")
    with pytest.raises(NoCredentials, match="AZURE_OPENAI_API_KEY"):
        choose(os.environ, "azure")


def test_chit_p_without_the_bedrock_extra_is_one_line_and_exit_2(aws: None, tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    # As if botocore were not installed (an import of a None entry raises ImportError).
    guard = "from _chit_netguard import install\ninstall()\n"
    (site / "sitecustomize.py").write_text(guard + "import sys\nsys.modules['botocore'] = None\n")
    env = {**os.environ, "CHIT_PROVIDER": "bedrock", "CHIT_HOME": str(tmp_path / "home")}
    env["PYTHONPATH"] = os.pathsep.join((str(site), env["PYTHONPATH"]))
    run = subprocess.run(
        [sys.executable, "-m", "chit", "-p", "hi", "--no-tools"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 2
    assert run.stderr.strip().splitlines() == [
        "chit: the bedrock provider needs boto3: pip install 'chit[bedrock]'"
    ]
