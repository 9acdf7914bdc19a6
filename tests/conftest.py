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
    # The clouds: AWS (boto3 also reads its files, and asks the instance metadata service) ...
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_BEARER_TOKEN_BEDROCK",
    "ANTHROPIC_BEDROCK_BASE_URL",
    # ... Google ...
    "GOOGLE_APPLICATION_CREDENTIALS",
    "CLOUD_ML_REGION",
    "ANTHROPIC_VERTEX_PROJECT_ID",
    "ANTHROPIC_VERTEX_BASE_URL",
    # ... and Azure.
    "AZURE_OPENAI_API_KEY",
    "AZURE_OPENAI_AD_TOKEN",
    "AZURE_OPENAI_ENDPOINT",
    "AZURE_OPENAI_API_VERSION",
    "OPENAI_API_VERSION",
]


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No real credentials or endpoints leak into a test; sessions go to a temporary home."""
    for name in _CREDENTIAL_VARS:
        monkeypatch.delenv(name, raising=False)
    # No telemetry to a developer's own collector (tests/test_telemetry.py brings one).
    for name in [n for n in os.environ if n.startswith("OTEL_")]:
        monkeypatch.delenv(name)
    # No real AWS or Google configuration files, no metadata servers.
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "no-gcloud"))
    monkeypatch.setenv("NO_GCE_CHECK", "True")
    monkeypatch.setenv("CHIT_HOME", str(tmp_path / "chit-home"))
    monkeypatch.setenv("CHIT_LOCAL_SERVERS", "")  # look for no local model server


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
