"""Suite-wide fixtures: the network guard, an isolated home, and the replay server."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

NETGUARD = Path(__file__).parent / "netguard"
sys.path.insert(0, str(NETGUARD))
sys.path.insert(0, str(Path(__file__).parent))

from _chit_netguard import install  # noqa: E402
from helpers import MADE  # noqa: E402
from replay import ReplayServer  # noqa: E402

install()
# Child processes (chit run as a command) get the same guard through sitecustomize.
os.environ["PYTHONPATH"] = os.pathsep.join(
    p for p in (str(NETGUARD), os.environ.get("PYTHONPATH", "")) if p
)

_CREDENTIAL_VARS = [
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_BASE_URL",
    "ANTHROPIC_AUTH_TOKEN",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "OPENAI_ORG_ID",
    "OPENAI_PROJECT_ID",
    "OLLAMA_HOST",
    "CHIT_PROVIDER",
    "CHIT_MODEL",
]


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No real credentials or endpoints leak into a test; sessions go to a temporary home."""
    for name in _CREDENTIAL_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CHIT_HOME", str(tmp_path / "chit-home"))


@pytest.fixture
def replay() -> Iterator[ReplayServer]:
    """A started replay server; queue replies with ``replay.queue(Reply...)``."""
    with ReplayServer() as server:
        yield server


@pytest.fixture(autouse=True)
def _close_agents() -> Iterator[None]:
    """Every agent a test made with ``helpers.make_agent`` closes its provider's connections."""
    yield
    while MADE:
        MADE.pop().close()
