"""``chit models``: what each configured or locally found provider serves, with the context
window and price genai-prices knows; every server is a replay server the test started."""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest
from helpers import CHIT, KEY, env_for, headers_of
from replay import ReplayServer, Reply

from chit.cli.main import run

ANTHROPIC_MODELS = {
    "data": [
        {"id": "claude-sonnet-4-5-20250929", "type": "model", "display_name": "Claude Sonnet 4.5"},
        {"id": "claude-mystery-9", "type": "model", "display_name": "Not priced"},
    ],
    "has_more": False,
}
TAGS = {
    "models": [
        {"name": "llama3.2:latest", "modified_at": "2024-11-01T09:00:00Z"},
        {"name": "nomic-embed-text:latest", "modified_at": "2025-03-02T10:00:00+01:00"},
        {"name": "qwen3:8b", "modified_at": "2025-01-15T08:30:00.123456789-08:00"},
    ]
}
LLAMA_CPP_MODELS = {"data": [{"id": "qwen2.5-7b-instruct", "meta": {"n_ctx_train": 32768}}]}


def listing(payload: dict[str, Any]) -> Reply:
    return Reply(body=json.dumps(payload).encode(), content_type="application/json")


def closed_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def models(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = run(["models", *args])
    out = capsys.readouterr()
    return status, out.out, out.err


def test_json_lists_configured_and_local_models_with_context_and_price(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with ReplayServer() as anthropic, ReplayServer() as ollama, ReplayServer() as llamacpp:
        anthropic.queue(listing(ANTHROPIC_MODELS))
        ollama.queue(listing(TAGS))
        llamacpp.queue(listing(LLAMA_CPP_MODELS))
        monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
        monkeypatch.setenv("ANTHROPIC_BASE_URL", anthropic.url)
        local = f"ollama={ollama.url},llama.cpp={llamacpp.url}/v1,vllm={closed_url()}/v1"
        monkeypatch.setenv("CHIT_LOCAL_SERVERS", local)
        status, out, err = models(capsys, "--json")
    assert (status, err) == (0, "")
    sent = headers_of(anthropic)
    assert anthropic.received[0].path == "/v1/models?limit=1000"
    assert (sent["x-api-key"], sent["anthropic-version"]) == (KEY, "2023-06-01")
    rows = json.loads(out)
    local = {"context_window": None, "price_per_mtok": None, "local": True}
    assert rows == [
        {
            "provider": "anthropic",
            "base_url": anthropic.url,
            "model": "claude-sonnet-4-5-20250929",
            "context_window": 200000,
            "price_per_mtok": {"input": "3", "output": "15", "cache_read": "0.3"},
            "local": False,
        },
        {
            "provider": "anthropic",
            "base_url": anthropic.url,
            "model": "claude-mystery-9",
            "context_window": None,
            "price_per_mtok": None,
            "local": False,
        },
        # Chat models first, the newest first; then the embedding models.
        {"provider": "ollama", "base_url": ollama.url, "model": "qwen3:8b", **local},
        {"provider": "ollama", "base_url": ollama.url, "model": "llama3.2:latest", **local},
        {"provider": "ollama", "base_url": ollama.url, "model": "nomic-embed-text:latest", **local},
        {
            "provider": "openai",
            "base_url": llamacpp.url + "/v1",
            "model": "qwen2.5-7b-instruct",
            **local,
            "context_window": 32768,  # the server's own figure
        },
    ]


def test_text_is_one_aligned_line_per_model(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with ReplayServer() as anthropic, ReplayServer() as ollama:
        anthropic.queue(listing(ANTHROPIC_MODELS))
        ollama.queue(listing(TAGS))
        monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
        monkeypatch.setenv("ANTHROPIC_BASE_URL", anthropic.url)
        monkeypatch.setenv("CHIT_LOCAL_SERVERS", f"ollama={ollama.url}")
        status, out, _ = models(capsys)
    assert status == 0
    header, *lines = out.splitlines()
    assert header.split()[:4] == ["PROVIDER", "URL", "MODEL", "CONTEXT"]
    assert len(lines) == 5
    assert lines[0].split() == [
        "anthropic",
        anthropic.url,
        "claude-sonnet-4-5-20250929",
        "200,000",
        "3",
        "/",
        "15",
        "/",
        "0.3",
    ]
    assert lines[1].endswith("  no price known")
    assert lines[2].split()[:4] == ["ollama", ollama.url, "qwen3:8b", "-"]
    assert all(line.endswith("  local: no price") for line in lines[2:])
    # Every column starts where its heading does.
    for heading in ("MODEL", "CONTEXT", "USD/MTOK"):
        at = header.index(heading)
        assert all(line[at - 2 : at] == "  " and line[at] != " " for line in lines)


def test_a_provider_that_fails_is_one_warning_and_the_rest_are_listed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with ReplayServer() as openai, ReplayServer() as ollama:
        openai.queue(Reply.error(401, {"error": {"message": "bad key"}}))
        ollama.queue(listing(TAGS))
        monkeypatch.setenv("OPENAI_API_KEY", KEY)
        monkeypatch.setenv("OPENAI_BASE_URL", openai.url + "/v1")
        monkeypatch.setenv("CHIT_LOCAL_SERVERS", f"ollama={ollama.url}")
        status, out, err = models(capsys, "--json")
    assert status == 0
    assert openai.received[0].path == "/v1/models"
    assert headers_of(openai)["authorization"] == f"Bearer {KEY}"
    (warning,) = err.splitlines()
    assert warning == f"chit: warning: openai: {openai.url}/v1/models answered 401"
    assert [r["model"] for r in json.loads(out)] == [
        "qwen3:8b",
        "llama3.2:latest",
        "nomic-embed-text:latest",
    ]


def test_provider_picks_one_and_asks_no_other(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with ReplayServer() as anthropic, ReplayServer() as ollama:
        ollama.queue(listing(TAGS))
        monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
        monkeypatch.setenv("ANTHROPIC_BASE_URL", anthropic.url)
        monkeypatch.setenv("CHIT_LOCAL_SERVERS", f"ollama={ollama.url}")
        status, out, _ = models(capsys, "--provider", "ollama", "--json")
    assert status == 0
    assert anthropic.received == []
    assert {r["provider"] for r in json.loads(out)} == {"ollama"}


def test_nothing_to_list_is_exit_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CHIT_LOCAL_SERVERS", f"ollama={closed_url()}")
    status, out, err = models(capsys, "--json")
    assert (status, json.loads(out)) == (1, [])
    assert err.startswith("chit: no models listed")


def test_chit_models_as_a_command(tmp_path: Path) -> None:
    with ReplayServer() as ollama:
        ollama.queue(listing(TAGS))
        r = subprocess.run(
            [*CHIT, "--home", str(tmp_path), "models"],
            env=env_for(tmp_path, CHIT_LOCAL_SERVERS=f"ollama={ollama.url}"),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert (r.returncode, r.stderr) == (0, "")
    assert [line.split()[2] for line in r.stdout.splitlines()[1:]] == [
        "qwen3:8b",
        "llama3.2:latest",
        "nomic-embed-text:latest",
    ]
