"""What is drawn outside the chat: ``chit usage`` and ``chit sessions`` as tables (plain
text when piped), and print mode, which draws nothing with rich or prompt-toolkit."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import wire
from helpers import CHIT, KEY, env_for
from replay import ReplayServer, Reply

#: A local server's model: a file path, too long for a column.
LONG_MODEL = "/home/someone/models/llama/meta-llama-3.1-8b-instruct-q4_k_m-long-name.gguf"
#: The screen packages print mode must not load.
SCREEN = ("rich", "prompt_toolkit")


def chit(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CHIT, *args],
        env=env_for(home, ANTHROPIC_API_KEY=KEY, **env),
        capture_output=True,
        text=True,
        timeout=60,
    )


def two_turns(replay: ReplayServer, home: Path) -> None:
    replay.queue(
        Reply(body=wire.anthropic("one", model=LONG_MODEL, input_tokens=1_234_567)),
        Reply(body=wire.anthropic("two", input_tokens=100, cache_read=60, output_tokens=9)),
    )
    base = ["--provider", "anthropic", "--base-url", replay.url]
    assert chit(home, *base, "--model", LONG_MODEL, "-p", "hi").returncode == 0
    # 1.2M tokens would overflow sonnet's window: no compaction here, these are figures only.
    again = ("-c", "--auto-compact", "0", "--model", "claude-sonnet-4-5", "-p", "again")
    assert chit(home, *base, *again).returncode == 0


def test_usage_is_a_table_of_exact_figures(replay: ReplayServer, tmp_path: Path) -> None:
    two_turns(replay, tmp_path)
    r = chit(tmp_path, "usage")
    assert r.returncode == 0
    lines = r.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines)
    assert "\x1b[" not in r.stdout  # piped: plain text
    rows = {line[:20].strip(): line[20:].split() for line in lines}
    assert rows[""] == ["last", "turn", "session"]
    assert rows["input (all)"] == ["160", "1,234,727"]  # Anthropic counts cache apart
    assert rows["cache read"] == ["60", "60"]
    assert rows["requests"] == ["1", "2"]
    # A row per model when more than one served, the long one shortened, not wrapped.
    assert "  meta-llama-3.…ng-name.gguf  " in r.stdout and LONG_MODEL not in r.stdout
    assert "claude-sonnet-4-5-20250929" in r.stdout
    assert json.loads(chit(tmp_path, "usage", "--json").stdout)["requests"] == 2


def test_sessions_is_a_table_with_short_model_names(replay: ReplayServer, tmp_path: Path) -> None:
    two_turns(replay, tmp_path)
    r = chit(tmp_path, "sessions")
    assert r.returncode == 0
    header, _, row = r.stdout.splitlines()[:3]
    assert header.split() == ["id", "started", "models", "turns", "tokens", "cost"]
    assert "meta-llama" in row and LONG_MODEL not in r.stdout
    assert "1,234," in row  # exact tokens
    assert all(len(line) <= 80 for line in r.stdout.splitlines())
    assert len(json.loads(chit(tmp_path, "sessions", "--json").stdout)) == 1


def test_print_mode_loads_neither_rich_nor_prompt_toolkit(
    replay: ReplayServer, tmp_path: Path
) -> None:
    replay.queue(Reply(body=wire.anthropic("plain")))
    code = (
        "import atexit, sys\n"
        "atexit.register(lambda: print(sorted({m.split('.')[0] for m in sys.modules} & "
        f"{set(SCREEN)!r}), file=sys.stderr))\n"
        "sys.argv[0] = 'chit'\nfrom chit.cli.main import main\nmain()\n"
    )
    r = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            "--provider",
            "anthropic",
            "--base-url",
            replay.url,
            "-p",
            "x",
        ],
        env=env_for(tmp_path, ANTHROPIC_API_KEY=KEY),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0 and r.stdout.strip() == "plain"  # the turn ran
    assert r.stderr.strip().splitlines()[-1] == "[]"
