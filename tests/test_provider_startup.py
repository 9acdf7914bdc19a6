"""``chit -p`` reaches every provider without importing a provider SDK.

A real ``python -m chit ... -p`` process runs against the replay server, with a small
``sitecustomize`` (the network guard, plus an audit hook) that writes down which modules
were loaded when the request's connection opened, and which at exit.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers import API_PROVIDER
from replay import ReplayServer, Reply

#: The packages of the provider SDKs and what they stand on.
SDKS = {"anthropic", "openai", "ollama", "pydantic", "pydantic_core", "httpx2"}
#: One recording of each provider's wire format.
RECORDING = {
    "anthropic_messages": "anthropic/lcg_create_message_stream",
    "openai_chat": "openai/lcg_with_streaming",
    "openai_responses": "openai/pai_responses_stream_0",
    "ollama_chat": "ollama/lcg_with_streaming",
}

SITECUSTOMIZE = """
import atexit, json, os, sys

from _chit_netguard import install

install()
seen = {}


def at_connect(event, args):
    if event == "socket.connect" and "connect" not in seen:
        seen["connect"] = sorted(sys.modules)


@atexit.register
def at_exit():
    seen["exit"] = sorted(sys.modules)
    with open(os.environ["CHIT_TEST_MODULES"], "w") as out:
        json.dump(seen, out)


sys.addaudithook(at_connect)
"""


def packages(modules: list[str]) -> set[str]:
    return {name.partition(".")[0] for name in modules}


@pytest.mark.parametrize("api", API_PROVIDER)
def test_chit_p_imports_no_provider_sdk(api: str, replay: ReplayServer, tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    record = tmp_path / "modules.json"
    provider = API_PROVIDER[api]
    base = replay.url if provider in ("anthropic", "ollama") else replay.url + "/v1"
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env.update(
        PYTHONPATH=os.pathsep.join((str(site), env["PYTHONPATH"])),
        CHIT_TEST_MODULES=str(record),
        CHIT_HOME=str(tmp_path / "home"),
    )
    if provider != "ollama":
        env["ANTHROPIC_API_KEY" if provider == "anthropic" else "OPENAI_API_KEY"] = "test-key"
    replay.queue(Reply.recorded(RECORDING[api]))
    command = [sys.executable, "-m", "chit", "--provider", provider, "--base-url", base]
    run = subprocess.run(
        [*command, "-p", "hi", "--output-format", "json", "--no-tools"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    out: dict[str, Any] = json.loads(run.stdout)
    assert (run.returncode, out["ended"], out["provider"]) == (0, "complete", provider)
    assert len(replay.received) == 1
    seen = json.loads(record.read_text())
    at_request, at_exit = packages(seen["connect"]), packages(seen["exit"])
    assert "httpx" in at_request and "chit" in at_request  # the record is of this process
    assert at_request & SDKS == set()
    assert at_exit & {"anthropic", "openai", "ollama"} == set()
