"""Start-up: ``chit -p`` against a bare SDK script and ``python -c pass``, side by side.

Every case is a whole process answered by the loopback replay server from the same
recorded stream. For a process that makes a request, two figures: the time its request
arrives at the server (from the moment the process was started) and the whole process.
The cases run in rounds, one of each per round, so a loaded machine slows them alike;
figures are medians over the rounds, after one uncounted round that also compiles every
module's bytecode (into a temporary ``PYTHONPYCACHEPREFIX``, as an install would have it:
this environment sets PYTHONDONTWRITEBYTECODE, which would have chit recompiled each run).
``claude -p`` joins when a ``claude`` binary is on PATH. Goal (issue 18): ``chit -p``'s
request within 6x a bare ``python -c pass``.

The ``answer at +0.5 s`` cases hold the response for half a second, as a model does
before its first token: chit loads genai-prices while it waits, so its whole process
should take about 0.5 s more than with an instant answer, not 0.5 s plus the prices' import.

Run: .venv/bin/python bench/bench_startup.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from replay import ReplayServer, Reply

PROVIDERS = ("anthropic", "openai")
#: The recorded stream each provider is answered with.
RECORDING = {
    "anthropic": "anthropic/lcg_create_message_stream",
    "openai": "openai/lcg_with_streaming",
}
#: Seconds the server holds a response in the waiting cases, like a model's first token.
WAIT = 0.5
MODEL = {"anthropic": "claude-sonnet-4-5", "openai": "gpt-4.1"}
KEY_ENV = {"anthropic": "ANTHROPIC_API_KEY", "openai": "OPENAI_API_KEY"}

SDK_SCRIPT = {
    "anthropic": """
import sys, anthropic
client = anthropic.Anthropic(api_key="k", base_url=sys.argv[1], max_retries=0)
messages = [{"role": "user", "content": "hi"}]
for event in client.messages.create(
    model="claude-sonnet-4-5", max_tokens=1024, messages=messages, stream=True
):
    pass
""",
    "openai": """
import sys, openai
client = openai.OpenAI(api_key="k", base_url=sys.argv[1] + "/v1", max_retries=0)
messages = [{"role": "user", "content": "hi"}]
for chunk in client.chat.completions.create(
    model="gpt-4.1", messages=messages, stream=True, stream_options={"include_usage": True}
):
    pass
""",
}


@dataclass
class Case:
    """One command to time, given the server's URL; ``reply`` answers its request, if any."""

    name: str
    command: Callable[[str], list[str]]
    reply: Callable[[], Reply] | None = None
    env: dict[str, str] = field(default_factory=dict)
    whole: list[float] = field(default_factory=list)
    request: list[float] = field(default_factory=list)


def python_case() -> Case:
    return Case("python -c pass", lambda url: [sys.executable, "-c", "pass"])


def chit_case(provider: str, reply: Callable[[], Reply], home: str) -> Case:
    def command(url: str) -> list[str]:
        base = url if provider == "anthropic" else url + "/v1"
        return [
            *(sys.executable, "-m", "chit", "--provider", provider, "--base-url", base),
            *("--model", MODEL[provider], "-p", "hi", "--output-format", "json", "--no-tools"),
        ]

    env = {KEY_ENV[provider]: "k", "CHIT_HOME": home}
    return Case(f"chit -p ({provider})", command, reply, env)


def sdk_case(provider: str, reply: Callable[[], Reply]) -> Case:
    script = SDK_SCRIPT[provider]
    return Case(
        f"bare {provider} SDK script", lambda url: [sys.executable, "-c", script, url], reply
    )


def claude_case(reply: Callable[[], Reply], home: str) -> list[Case]:
    """``claude -p`` when installed (it finds the server from ANTHROPIC_BASE_URL)."""
    claude = shutil.which("claude")
    if claude is None:
        print("claude -p: no `claude` binary on PATH, skipped")
        return []
    env = {"ANTHROPIC_API_KEY": "k", "CLAUDE_CONFIG_DIR": home}
    return [Case("claude -p", lambda url: [claude, "-p", "hi"], reply, env)]


def run_once(case: Case, server: ReplayServer, pycache: str) -> None:
    env = {**os.environ, **case.env, "ANTHROPIC_BASE_URL": server.url}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = pycache
    seen = len(server.received)
    if case.reply is not None:
        server.queue(case.reply())
    start = time.perf_counter()
    proc = subprocess.run(case.command(server.url), env=env, capture_output=True, check=False)
    end = time.perf_counter()
    if proc.returncode != 0:
        raise SystemExit(f"{case.name} failed ({proc.returncode}): {proc.stderr.decode()[-500:]}")
    case.whole.append(end - start)
    if case.reply is not None:
        arrived = server.received[seen:]
        if not arrived:
            raise SystemExit(f"{case.name} made no request")
        case.request.append(arrived[0].at - start)
    server.replies.clear()  # a process that asked for less than it was given


def measure(cases: list[Case], runs: int) -> None:
    """Run every case ``runs`` times in rounds, after one uncounted warm-up round."""
    with ReplayServer() as server, tempfile.TemporaryDirectory() as pycache:
        for case in cases:
            run_once(case, server, pycache)
            case.whole.clear()
            case.request.clear()
        for _ in range(runs):
            for case in cases:
                run_once(case, server, pycache)


def report(cases: list[Case], runs: int) -> None:
    """One line per case: medians, and ratios to the first case (``python -c pass``)."""
    base = statistics.median(cases[0].whole)
    print(f"median of {runs} rounds; ratios are to `{cases[0].name}` ({base * 1000:.0f} ms)")
    print(f"{'':28} {'request at':>10} {'whole':>10}   {'request/py':>10} {'whole/py':>10}")
    for case in cases:
        request = ratio = ""
        if case.request:
            request = f"{statistics.median(case.request) * 1000:7.0f} ms"
            ratio = f"{statistics.median(case.request) / base:9.1f}x"
        whole = f"{statistics.median(case.whole) * 1000:7.0f} ms"
        print(
            f"{case.name:28} {request:>10} {whole:>10}   {ratio:>10} "
            f"{statistics.median(case.whole) / base:9.1f}x"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description="chit -p start-up, side by side")
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        cases = [python_case()]
        for provider in PROVIDERS:
            reply = lambda provider=provider: Reply.recorded(RECORDING[provider])  # noqa: E731
            cases += [chit_case(provider, reply, home), sdk_case(provider, reply)]
        cases += claude_case(lambda: Reply.recorded(RECORDING["anthropic"]), home)
        waited = lambda: replace(Reply.recorded(RECORDING["anthropic"]), head_delay=WAIT)  # noqa: E731
        cases += [
            replace(chit_case("anthropic", waited, home), name=f"chit -p, answer at +{WAIT} s"),
            replace(sdk_case("anthropic", waited), name=f"anthropic SDK, answer at +{WAIT} s"),
        ]
        measure(cases, args.runs)
    report(cases, args.runs)


if __name__ == "__main__":
    main()
