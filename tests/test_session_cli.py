"""``chit usage`` and ``chit sessions`` as scripts run them: real processes, real files."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from helpers import CHIT
from sessionfiles import CORPUS, CORPUS_ID, new_session

from chit.checkpoint import sessions_dir


def chit(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CHIT, *args], capture_output=True, text=True, timeout=60)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    folder = sessions_dir(tmp_path)
    folder.mkdir(parents=True)
    shutil.copyfile(CORPUS, folder / f"{CORPUS_ID}.jsonl")
    return tmp_path


def test_usage_json_of_the_latest_session(home: Path) -> None:
    r = chit("usage", "--json", "--home", str(home))
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    out = orjson.loads(r.stdout)
    assert out["session_id"] == CORPUS_ID
    assert out["session_file"] == str(sessions_dir(home) / f"{CORPUS_ID}.jsonl")
    assert out["turns"] == 5
    assert out["requests"] == 6
    assert out["usage"] == {
        "input_tokens": 6352,
        "cache_read_tokens": 3458,
        "cache_write_tokens": 1217,
        "output_tokens": 273,
        "reasoning_tokens": 64,
    }
    assert out["unknown"] == {"input_tokens": 1, "output_tokens": 2}
    assert out["cost_usd"] == "0.009121"
    assert list(out["by_model"]) == [
        "claude-sonnet-4-5-20250929",
        "gpt-4o-mini",
        "o4-mini-2025-04-16",
        "llama3.2",
    ]
    claude = out["by_model"]["claude-sonnet-4-5-20250929"]
    assert claude["turns"] == 2
    assert claude["requests"] == 3
    assert claude["usage"]["input_tokens"] == 3840
    assert claude["cost_usd"] == "0.007106"
    failed = out["by_model"]["gpt-4o-mini"]
    assert failed["usage"] == dict.fromkeys(out["usage"])  # never reported: null, not 0
    assert failed["unknown"] == {"input_tokens": 1, "output_tokens": 1}
    assert out["by_model"]["llama3.2"]["cost_usd"] is None


def test_usage_by_prefix_path_and_text(home: Path) -> None:
    by_prefix = chit("usage", CORPUS_ID[:5], "--json", "--home", str(home))
    by_path = chit("usage", str(CORPUS), "--json", "--home", str(home))
    assert by_prefix.returncode == by_path.returncode == 0
    assert orjson.loads(by_prefix.stdout)["requests"] == orjson.loads(by_path.stdout)["requests"]
    text = chit("usage", "--home", str(home))
    assert text.returncode == 0
    assert text.stdout.startswith(f"session {CORPUS_ID} · ")
    # The table: a row per figure, the last turn's column, then the session's.
    rows = {line[:18].strip(): line[18:].split() for line in text.stdout.splitlines()}
    assert rows["input (all)"][-1] == "6,352"
    assert rows["cache read"][-1] == "3,458"
    assert rows["cache write"][-1] == "1,217"
    assert rows["output"][-1] == "273"
    assert rows["reasoning"][-1] == "64"
    assert rows["requests"][-1] == "6"
    assert rows["cost"][-2:] == ["≥", "$0.009121"]


def test_sessions_json_newest_first(home: Path) -> None:
    time.sleep(0.05)
    second = sessions_dir(home) / "0000aaaa-second.jsonl"
    shutil.copyfile(CORPUS, second)
    r = chit("sessions", "--json", "--home", str(home))
    assert r.returncode == 0, r.stderr
    out = orjson.loads(r.stdout)
    assert [s["session_file"] for s in out] == [
        str(second),
        str(sessions_dir(home) / f"{CORPUS_ID}.jsonl"),
    ]
    first = out[1]
    assert first["session_id"] == CORPUS_ID
    assert first["started"] == "2026-11-23T02:30:27Z"
    assert first["turns"] == 5
    assert first["requests"] == 6
    assert first["usage"]["input_tokens"] == 6352
    assert first["cost_usd"] == "0.009121"
    assert first["models"][-1] == "llama3.2"
    text = chit("sessions", "--home", str(home))
    assert text.returncode == 0
    assert text.stdout.splitlines()[0].split() == [
        "id",
        "started",
        "models",
        "turns",
        "tokens",
        "cost",
    ]
    assert CORPUS_ID[:8] in text.stdout


def test_no_sessions(tmp_path: Path) -> None:
    r = chit("sessions", "--json", "--home", str(tmp_path))
    assert r.returncode == 0
    assert orjson.loads(r.stdout) == []
    r = chit("usage", "--json", "--home", str(tmp_path))
    assert r.returncode == 2
    assert r.stderr.startswith("chit: no sessions yet")


@pytest.mark.parametrize(
    ("ref", "needle"),
    [
        ("nope", "no session 'nope'"),
        ("/no/such/file.jsonl", "no session file"),
        ("BROKEN", "not a chit session"),
        ("NEWER", "newer chit"),
        ("", "empty session id"),
    ],
)
def test_a_bad_session_is_one_line_and_status_2(home: Path, ref: str, needle: str) -> None:
    broken = home / "broken.jsonl"
    broken.write_bytes(b"\x00\xff not json\n")
    newer = home / "newer.jsonl"
    header = orjson.loads(CORPUS.read_bytes().splitlines()[0])
    newer.write_bytes(orjson.dumps({**header, "schema_version": 99}) + b"\n")
    ref = {"BROKEN": str(broken), "NEWER": str(newer)}.get(ref, ref)
    r = chit("usage", ref, "--json", "--home", str(home))
    assert r.returncode == 2
    assert r.stdout == ""
    assert len(r.stderr.strip().splitlines()) == 1
    assert needle in r.stderr
    assert "Traceback" not in r.stderr


def test_warnings_go_to_stderr_and_figures_still_print(home: Path) -> None:
    torn = home / "torn.jsonl"
    torn.write_bytes(CORPUS.read_bytes()[:-10])
    r = chit("usage", str(torn), "--json", "--home", str(home))
    assert r.returncode == 0
    assert "incomplete" in r.stderr
    assert orjson.loads(r.stdout)["requests"] == 6


def test_reports_import_neither_the_sdks_nor_the_agent(home: Path) -> None:
    heavy = (
        "anthropic",
        "openai",
        "ollama",
        "rich",
        "prompt_toolkit",
        "genai_prices",
        "httpx",
        "chit.agent",
        "chit.providers",
    )
    code = (
        "import sys, io, contextlib\nfrom chit.cli.main import run\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    run(['usage', '--json', '--home', {str(home)!r}])\n"
        f"    run(['sessions', '--json', '--home', {str(home)!r}])\n"
        f"print(sorted(m for m in {heavy!r} if m in sys.modules))"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == "[]"


def test_usage_and_sessions_agree_on_a_session_chit_wrote(tmp_path: Path) -> None:
    # Listed from its last checkpoint's seal; reported from every line: the same figures.
    s, _ = new_session(tmp_path, turns=3)
    usage = orjson.loads(chit("usage", "--json", "--home", str(tmp_path)).stdout)
    (listed,) = orjson.loads(chit("sessions", "--json", "--home", str(tmp_path)).stdout)
    figures = ("requests", "usage", "unknown", "cost_usd", "turns", "session_id", "session_file")
    assert {k: listed[k] for k in figures} == {k: usage[k] for k in figures}
    assert listed["models"] == list(usage["by_model"]) == ["gpt-4o-mini"]
    assert usage["usage"]["input_tokens"] == 600
    assert usage["cost_usd"] == "0.006000"
    assert listed["session_file"] == str(s.path)
