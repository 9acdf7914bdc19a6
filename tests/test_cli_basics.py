"""The command line's front door: version, help, bad flags, and what it does not import."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import CHIT

from chit import __version__

HEAVY = ("anthropic", "openai", "ollama", "rich", "prompt_toolkit", "genai_prices", "httpx")


def chit(*args: str, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CHIT, *args], capture_output=True, text=True, timeout=60, **kw)  # type: ignore[call-overload]


def test_version() -> None:
    r = chit("--version")
    assert r.returncode == 0
    assert r.stdout.strip() == f"chit {__version__}"


def test_help_names_the_options() -> None:
    r = chit("--help")
    assert r.returncode == 0
    for option in ("--print", "--continue", "--resume", "--output-format", "--max-cost", "--home"):
        assert option in r.stdout


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["usage", "--help"]])
def test_front_door_imports_nothing_heavy(args: list[str]) -> None:
    code = (
        "import sys\nfrom chit.cli.main import run\n"
        f"try:\n    run({args!r})\nexcept SystemExit:\n    pass\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--no-such-flag"], "unrecognized arguments"),
        (["--max-cost", "abc"], "not an amount of USD"),
        (["--max-cost", "-1"], "positive"),
        (["--max-tokens", "0"], "positive"),
        (["--output-format", "xml"], "invalid choice"),
        (["usage", "--bogus"], "unrecognized arguments"),
    ],
)
def test_bad_flags_give_one_line_and_status_2(args: list[str], needle: str) -> None:
    r = chit(*args)
    assert r.returncode == 2
    assert needle in r.stderr
    assert "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_options_may_stand_before_the_command_word(tmp_path: Path) -> None:
    home = tmp_path / "elsewhere"
    for argv in (
        ["--home", str(home), "sessions", "--json"],
        [f"--home={home}", "sessions", "--json"],
        ["sessions", "--home", str(home), "--json"],
    ):
        r = subprocess.run([*CHIT, *argv], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout) == []
    # A prompt that happens to be a command word stays a prompt.
    r = subprocess.run([*CHIT, "-p", "sessions"], capture_output=True, text=True, timeout=60)
    assert "no provider configured" in r.stderr or "API key" in r.stderr
