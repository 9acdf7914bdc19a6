"""Local first: with nothing configured, chit finds a model server on loopback and uses it.

Every server here is a replay server started by the test, named to chit through
CHIT_LOCAL_SERVERS; a closed port is one the test bound and released.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import wire
from helpers import CHIT, env_for
from replay import ReplayServer, Reply, entry

from chit.errors import BadInput, NoCredentials
from chit.providers import choose
from chit.providers.local import PROBE_DEADLINE, servers

OLLAMA_ENTRY = "ollama/otl_streaming_chat_llama3"
#: Ollama's tags: the newest is an embedding model, then qwen3:8b, then llama3.2.
TAGS = {
    "models": [
        {
            "name": "llama3.2:latest",
            "modified_at": "2024-11-01T09:00:00Z",
            "details": {"family": "llama", "families": ["llama"]},
        },
        {
            "name": "nomic-embed-text:latest",
            "modified_at": "2025-03-02T10:00:00.123456789+01:00",
            "details": {"family": "nomic-bert", "families": ["nomic-bert"]},
        },
        {
            "name": "qwen3:8b",
            "modified_at": "2025-01-15T08:30:00.5-08:00",
            "details": {"family": "qwen3", "families": ["qwen3"]},
        },
        {
            "name": "all-minilm:latest",
            "modified_at": "2025-05-01T00:00:00Z",
            "details": {"family": "bert"},
        },
    ]
}
#: llama.cpp's /v1/models: an embedding model listed first, then the chat model.
OPENAI_MODELS = {
    "object": "list",
    "data": [
        {"id": "text-embedding-nomic-embed-text-v1.5", "object": "model"},
        {"id": "qwen2.5-7b-instruct", "object": "model", "meta": {"n_ctx_train": 32768}},
    ],
}


def listing(payload: dict[str, Any]) -> Reply:
    return Reply(body=json.dumps(payload).encode(), content_type="application/json")


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


@contextmanager
def silent_server() -> Iterator[str]:
    """A loopback port that takes connections and never answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        yield f"http://127.0.0.1:{s.getsockname()[1]}"


def run_chit(home: Path, local: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CHIT, "-p", "hi", "--no-tools", *args],
        env=env_for(home, CHIT_LOCAL_SERVERS=local),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_ollama_found_is_used_and_its_usage_recorded_exactly(tmp_path: Path) -> None:
    with ReplayServer() as ollama:
        ollama.queue(listing(TAGS), Reply.recorded(OLLAMA_ENTRY))
        closed = f"http://127.0.0.1:{closed_port()}/v1"
        r = run_chit(tmp_path, f"ollama={ollama.url},llama.cpp={closed}", "--output-format", "json")
    assert r.returncode == 0, r.stderr
    # The newest chat model: the newer embedding models are passed over.
    assert r.stderr == f"chit: no API key set; using qwen3:8b on Ollama at {ollama.url}\n"
    out = json.loads(r.stdout)
    expected = entry(OLLAMA_ENTRY)["expected"]["usage"]
    assert out["provider"] == "ollama"
    assert out["turn"]["usage"] == expected
    assert out["session"]["usage"] == expected
    assert [(q.method, q.path) for q in ollama.received] == [
        ("GET", "/api/tags"),
        ("POST", "/api/chat"),
    ]
    assert ollama.received[1].json["model"] == "qwen3:8b"
    # The session names the server's wire format and model, as --provider ollama would.
    session = Path(out["session_file"]).read_text()
    assert '"provider":"ollama"' in session.replace(" ", "")
    assert "qwen3:8b" in session


def test_an_openai_compatible_server_is_used_as_base_url_would(tmp_path: Path) -> None:
    body = wire.openai_chat("hello", model="qwen2.5-7b-instruct", prompt_tokens=41, cached=32)
    with ReplayServer() as server:
        server.queue(listing(OPENAI_MODELS), Reply(body=body))
        closed = f"http://127.0.0.1:{closed_port()}"
        local = f"ollama={closed},llama.cpp={server.url}/v1"
        r = run_chit(tmp_path, local, "--output-format", "json")
    assert r.returncode == 0, r.stderr
    line = f"chit: no API key set; using qwen2.5-7b-instruct on llama.cpp at {server.url}/v1\n"
    assert r.stderr == line
    out = json.loads(r.stdout)
    assert out["provider"] == "openai"
    assert out["result"] == "hello"
    usage = out["turn"]["usage"]
    assert (usage["input_tokens"], usage["cache_read_tokens"], usage["output_tokens"]) == (
        41,
        32,
        5,
    )
    assert [(q.method, q.path) for q in server.received] == [
        ("GET", "/v1/models"),
        ("POST", "/v1/chat/completions"),
    ]
    assert server.received[1].json["model"] == "qwen2.5-7b-instruct"


def test_ollama_is_preferred_when_two_servers_serve_a_model() -> None:
    told: list[str] = []
    with ReplayServer() as ollama, ReplayServer() as llamacpp:
        ollama.queue(listing(TAGS))
        llamacpp.queue(listing(OPENAI_MODELS))
        env = {"CHIT_LOCAL_SERVERS": f"ollama={ollama.url}, llama.cpp={llamacpp.url}/v1"}
        endpoint, model = choose(env, on_local=told.append)
        assert llamacpp.received, "both servers are asked at once"
    assert (endpoint.provider, endpoint.base_url, model) == ("ollama", ollama.url, "qwen3:8b")
    assert told == [f"no API key set; using qwen3:8b on Ollama at {ollama.url}"]


def test_a_server_with_only_embedding_models_is_passed_over() -> None:
    embedding_only = {"models": [m for m in TAGS["models"] if "qwen" not in m["name"]]}
    embedding_only["models"] = [m for m in embedding_only["models"] if "llama" not in m["name"]]
    with ReplayServer() as ollama, ReplayServer() as vllm:
        ollama.queue(listing(embedding_only))
        vllm.queue(listing({"data": [{"id": "Qwen/Qwen3-8B", "max_model_len": 40960}]}))
        env = {"CHIT_LOCAL_SERVERS": f"ollama={ollama.url},vllm={vllm.url}/v1"}
        endpoint, model = choose(env, on_local=lambda line: None)
    assert (endpoint.provider, endpoint.base_url, model) == (
        "openai",
        vllm.url + "/v1",
        "Qwen/Qwen3-8B",
    )
    assert endpoint.api_key == "not-needed"


def test_a_model_given_is_used_on_the_server_found() -> None:
    with ReplayServer() as ollama:
        ollama.queue(listing(TAGS))
        env = {"CHIT_LOCAL_SERVERS": f"ollama={ollama.url}"}
        _, model = choose(env, model="llama3.2:latest", on_local=lambda line: None)
    assert model == "llama3.2:latest"


def test_nothing_found_is_quick_and_names_keys_and_servers() -> None:
    urls = [f"http://127.0.0.1:{closed_port()}" for _ in range(4)]
    env = {
        "CHIT_LOCAL_SERVERS": f"ollama={urls[0]},llama.cpp={urls[1]}/v1,"
        f"lmstudio={urls[2]}/v1,vllm={urls[3]}/v1"
    }
    started = time.perf_counter()
    with pytest.raises(NoCredentials) as e:
        choose(env, on_local=lambda line: None)
    spent = time.perf_counter() - started
    assert spent < 0.5, f"looking on four closed ports took {spent:.3f} s"
    message = str(e.value)
    assert "ANTHROPIC_API_KEY" in message and "OPENAI_API_KEY" in message
    for name, url in zip(["Ollama", "llama.cpp", "LM Studio", "vLLM"], urls, strict=True):
        assert f"{name} at {url}" in message
    assert e.value.exit_code == 2


def test_a_server_that_never_answers_is_not_waited_for() -> None:
    with silent_server() as url:
        started = time.perf_counter()
        with pytest.raises(NoCredentials, match="start a local model server"):
            choose({"CHIT_LOCAL_SERVERS": f"ollama={url}"}, on_local=lambda line: None)
        spent = time.perf_counter() - started
    assert spent < PROBE_DEADLINE + 0.3, f"a silent server held chit {spent:.3f} s"


def test_a_server_without_a_chat_model_is_named() -> None:
    with ReplayServer() as ollama:
        ollama.queue(listing({"models": []}))
        with pytest.raises(NoCredentials, match=f"Ollama at {ollama.url} serves no chat model"):
            choose({"CHIT_LOCAL_SERVERS": f"ollama={ollama.url}"}, on_local=lambda line: None)


def test_without_on_local_choose_never_looks() -> None:
    with ReplayServer() as ollama:
        with pytest.raises(NoCredentials) as e:
            choose({"CHIT_LOCAL_SERVERS": f"ollama={ollama.url}"})
        assert ollama.received == []
    assert "local" not in str(e.value)


def test_a_process_with_nothing_found_gives_one_line_and_exit_2(tmp_path: Path) -> None:
    closed = f"http://127.0.0.1:{closed_port()}"
    r = run_chit(tmp_path, f"ollama={closed}")
    assert r.returncode == 2
    (line,) = r.stderr.splitlines()
    assert "ANTHROPIC_API_KEY" in line and f"Ollama at {closed}" in line
    assert not (tmp_path / "sessions").exists() or not any((tmp_path / "sessions").iterdir())


def test_the_default_servers_and_their_order() -> None:
    names = [(s.name, s.url) for s in servers({})]
    assert names == [
        ("Ollama", "http://127.0.0.1:11434"),
        ("llama.cpp", "http://127.0.0.1:8080/v1"),
        ("LM Studio", "http://127.0.0.1:1234/v1"),
        ("vLLM", "http://127.0.0.1:8000/v1"),
    ]
    assert servers({"OLLAMA_HOST": "http://127.0.0.1:9"})[0].url == "http://127.0.0.1:9"
    assert servers({"CHIT_LOCAL_SERVERS": ""}) == ()


@pytest.mark.parametrize("spec", ["ollama", "mystery=http://127.0.0.1:1", "vllm="])
def test_a_bad_server_list_is_named(spec: str) -> None:
    with pytest.raises(BadInput, match="CHIT_LOCAL_SERVERS"):
        servers({"CHIT_LOCAL_SERVERS": spec})


def test_a_session_on_a_local_server_resumes_there(tmp_path: Path) -> None:
    first = wire.openai_chat("hello", model="qwen2.5-7b-instruct", prompt_tokens=41)
    again = wire.openai_chat("again", model="qwen2.5-7b-instruct", prompt_tokens=77)
    with ReplayServer() as server:
        server.queue(listing(OPENAI_MODELS), Reply(body=first), Reply(body=again))
        r = run_chit(tmp_path, f"llama.cpp={server.url}/v1", "--output-format", "json")
        assert r.returncode == 0, r.stderr
        # No key and nothing to look for: the session remembers its server.
        r = run_chit(tmp_path, "", "-c", "--output-format", "json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["result"] == "again"
    assert out["session"]["requests"] == 2
    assert [q.path for q in server.received] == [
        "/v1/models",
        "/v1/chat/completions",
        "/v1/chat/completions",
    ]
    header = json.loads(Path(out["session_file"]).read_text().splitlines()[0])
    assert header["base_url"] == f"{server.url}/v1"


def test_a_base_url_is_kept_without_its_password(tmp_path: Path) -> None:
    body = wire.openai_chat("hello")
    with ReplayServer() as server:
        server.queue(Reply(body=body))
        host = server.url.removeprefix("http://")
        r = run_chit(
            tmp_path,
            "",
            "--provider",
            "openai",
            "--base-url",
            f"http://user:hunter2-pass@{host}/v1",
            "--output-format",
            "json",
        )
    assert r.returncode == 0, r.stderr
    text = Path(json.loads(r.stdout)["session_file"]).read_text()
    assert "hunter2-pass" not in text
    assert f'"base_url":"http://{host}/v1"' in text.replace(" ", "")
