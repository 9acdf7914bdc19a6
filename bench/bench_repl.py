"""The chat's screen: time to a ready prompt against ``python -c pass``, and the CPU that
drawing a long streamed answer costs, per 1,000 chunks.

Ready prompt: chit runs in a pseudo-terminal (as a person starts it) and the clock stops
when the prompt is drawn; ``python -c pass`` runs in a pty the same way and stops at exit.
Rounds alternate the two cases, one uncounted round first to compile bytecode into a
temporary ``PYTHONPYCACHEPREFIX`` (as an install would have it); medians are reported.
Goal (issue 13): the prompt within 6x a bare Python start.

Rendering: 1,000 chunks of Markdown (prose, lists, code) fed to the chat's StreamView at a
steady pace, drawing to an in-memory terminal; process CPU (the live region's refresh
thread included) against writing the same chunks as plain text.

Run: .venv/bin/python bench/bench_repl.py [--runs N]
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pexpect
from rich.console import Console

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from replay import ReplayServer

from chit.cli.repl.stream import StreamView

PROMPT = "›".encode()
CHUNKS = 1000
#: Seconds between chunks: a fast model's pace (1,000 chunks in about 3 s).
PACE = 0.003


def ready_time(command: list[str], env: dict[str, str], until: bytes | None) -> float:
    """Seconds from spawning ``command`` in a pty until ``until`` shows (or it exits)."""
    start = time.perf_counter()
    child = pexpect.spawn(command[0], command[1:], env=env, dimensions=(40, 100), timeout=30)
    if until is None:
        child.expect(pexpect.EOF)
    else:
        child.expect(until)
    took = time.perf_counter() - start
    if until is not None:
        child.sendeof()
        child.expect(pexpect.EOF)
    child.close()
    return took


def bench_prompt(runs: int) -> None:
    with ReplayServer() as server, tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env.update(
            PYTHONPYCACHEPREFIX=str(Path(tmp) / "pycache"),
            CHIT_HOME=str(Path(tmp) / "home"),
            ANTHROPIC_API_KEY="k",
            TERM="xterm-256color",
            PROMPT_TOOLKIT_NO_CPR="1",
        )
        chit = [sys.executable, "-m", "chit", "--provider", "anthropic", "--base-url", server.url]
        bare = [sys.executable, "-c", "pass"]
        times: dict[str, list[float]] = {"python -c pass": [], "chit (ready prompt)": []}
        for n in range(runs + 1):
            python = ready_time(bare, env, None)
            ready = ready_time(chit, env, PROMPT)
            if n:  # the first round compiles
                times["python -c pass"].append(python)
                times["chit (ready prompt)"].append(ready)
    base = statistics.median(times["python -c pass"])
    print(f"ready prompt, median of {runs} rounds")
    for name, seconds in times.items():
        median = statistics.median(seconds)
        print(f"  {name:<22} {median * 1000:7.0f} ms   {median / base:5.1f}x")


def answer_chunks() -> list[str]:
    block = (
        "## Step {n}\n\nThe **change** touches `render.py` and keeps the *footer*:\n\n"
        "- read the file\n- change the function\n- run the tests\n\n"
        "```python\ndef footer(done):\n    return f'{{done.model}} · {{done.totals}}'\n```\n\n"
    )
    text = "".join(block.format(n=n) for n in range(60))
    size = len(text) // CHUNKS + 1
    return [text[i : i + size] for i in range(0, len(text), size)][:CHUNKS]


def cpu_of(feed: str) -> tuple[float, float]:
    """Process CPU and wall seconds to stream the chunks through ``feed``."""
    chunks = answer_chunks()
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=100, height=40, color_system="256")
    view = StreamView(console)
    cpu, wall = time.process_time(), time.perf_counter()
    if feed == "view":
        view.wait()
        for chunk in chunks:
            view.text(chunk)
            time.sleep(PACE)
        view.finish()
    else:
        for chunk in chunks:
            out.write(chunk)
            time.sleep(PACE)
    return time.process_time() - cpu, time.perf_counter() - wall


def bench_render(runs: int) -> None:
    results: dict[str, list[float]] = {"plain text": [], "rendered (StreamView)": []}
    for _ in range(runs):
        results["plain text"].append(cpu_of("plain")[0])
        results["rendered (StreamView)"].append(cpu_of("view")[0])
    base = statistics.median(results["plain text"])
    print(f"CPU per {CHUNKS:,} streamed chunks, median of {runs} runs")
    for name, seconds in results.items():
        median = statistics.median(seconds)
        print(f"  {name:<22} {median * 1000:7.0f} ms   {median / base:5.1f}x")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=5)
    args = p.parse_args()
    bench_prompt(args.runs)
    bench_render(args.runs)


if __name__ == "__main__":
    main()
