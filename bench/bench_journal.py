"""Session journal speed: appending a turn, resuming, ``chit usage`` and ``chit sessions``.

Run by hand (not a test)::

    python bench/bench_journal.py [--dir DIR] [--baseline SRC]

The goals (issue 10): ``chit usage`` on a 10,000-turn session within 0.5 s for the whole
command, and ``chit sessions`` over 100 sessions of 1,000 turns within 1 s, each in a fresh
process. With ``--baseline SRC`` (a folder holding another version's ``chit`` package, e.g.
``git archive <commit> chit | tar -x -C SRC``) every figure is measured for that version
too, side by side in the same run, on the same files.

A turn is what the agent writes for one user turn with one request: a user message, a
usage line (fsynced), an assistant message and a checkpoint (fsynced).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import orjson

from chit.checkpoint import Session
from chit.messages import AssistantTurn, Message
from chit.pricing import Cost
from chit.state import AgentState, RequestRecord
from chit.usage import Usage

MARKS = (10, 1_000, 10_000)
WINDOW = 10  # turns averaged at each mark
LISTED = 100  # sessions `chit sessions` lists, each a copy of the 1,000-turn one
REPEAT = 7  # fresh processes per command; the best is kept


def one_turn(s: Session, state: AgentState, n: int) -> None:
    user = Message("user", text=f"turn {n}: please look at the file and explain it " * 4)
    state.messages.append(user)
    s.append_message(user)
    response = AssistantTurn(
        "anthropic",
        "claude-sonnet-4-5",
        Usage.reported(1200 + n, 1100, 0, 80, 0),
        model="claude-sonnet-4-5-20250929",
        text="Here is what the file does. " * 35,
        stop_reason="end_turn",
        extras={
            "cache_write_5m": 0,
            "cache_write_1h": 0,
            "raw_usage": [
                {"input_tokens": 100 + n, "cache_read_input_tokens": 1100, "output_tokens": 1},
                {"output_tokens": 80},
            ],
        },
    )
    record = RequestRecord(n, response, Cost(Decimal("0.0014910"), Decimal("0.00297"), 0, False))
    state.record(record)
    s.append_usage(record)
    state.messages.append(response.message())
    s.append_message(response.message())
    state.turns = n
    s.append_checkpoint(state)


def write_session(home: Path, turns: int) -> tuple[list[float], dict[int, Path]]:
    """A session of ``turns`` turns; the time of each append, and copies at the marks."""
    s = Session.create(home, cwd=str(home), provider="anthropic", model="claude-sonnet-4-5")
    state = AgentState(session_id=s.session_id)
    per_turn: list[float] = []
    copies: dict[int, Path] = {}
    for n in range(1, turns + 1):
        t = time.perf_counter()
        one_turn(s, state, n)
        per_turn.append(time.perf_counter() - t)
        if n in MARKS:
            copies[n] = home / f"at-{n}.jsonl"  # outside the sessions folder
            copies[n].write_bytes(s.path.read_bytes())
    s.close()
    return per_turn, copies


def copy_sessions(source: Path, folder: Path, count: int) -> None:
    """``count`` copies of a session under new ids: what ``chit sessions`` lists."""
    header, rest = source.read_bytes().split(b"\n", 1)
    fields = orjson.loads(header)
    folder.mkdir(parents=True)
    for i in range(count):
        session_id = f"{i:08d}-0000-4000-8000-000000000000"
        line = orjson.dumps({**fields, "session_id": session_id})
        (folder / f"{session_id}.jsonl").write_bytes(line + b"\n" + rest)


def report_appends(per_turn: list[float]) -> None:
    print("append, per turn (2 fsyncs), median of the 10 turns ending at the mark:")
    at = {m: statistics.median(per_turn[m - WINDOW : m]) for m in MARKS if m <= len(per_turn)}
    for mark, seconds in at.items():
        print(f"  turn {mark:>6,}: {seconds * 1e6:9.1f} µs")
    first, last = MARKS[0], MARKS[-1]
    if first in at and last in at:
        print(f"  ratio turn {last:,} / turn {first}: {at[last] / at[first]:.2f}")


def best(args: list[str], source: str | None) -> float:
    """The best time of ``REPEAT`` fresh processes running ``args``, chit from ``source``."""
    env = dict(os.environ)
    if source is not None:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (source, env.get("PYTHONPATH")) if p)
    times = []
    for _ in range(REPEAT):
        t = time.perf_counter()
        subprocess.run([sys.executable, *args], env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - t)
    return min(times)


def report_commands(cases: dict[str, list[str]], baseline: str | None) -> None:
    print(f"fresh process each, best of {REPEAT}:")
    if baseline is not None:
        print(f"  {'':40} {'this':>9} {'baseline':>9}  this/baseline")
    for name, args in cases.items():
        this = best(args, None)
        line = f"  {name:40} {this * 1e3:6.0f} ms"
        if baseline is not None:
            before = best(args, baseline)
            line += f" {before * 1e3:6.0f} ms  {this / before:5.2f}"
        print(line, flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dir", help="where to write (default: a temporary folder)")
    p.add_argument("--baseline", metavar="SRC", help="a folder holding another chit to compare")
    p.add_argument("--turns", type=int, default=MARKS[-1])
    args = p.parse_args()
    baseline = None if args.baseline is None else str(Path(args.baseline).resolve())
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        home = Path(tmp)
        per_turn, copies = write_session(home / "write", args.turns)
        print(f"folder: {tmp}")
        report_appends(per_turn)
        last = copies[max(copies)]
        listed = home / "list"
        copy_sessions(copies[min(max(copies), 1_000)], listed / "sessions", LISTED)
        chit = ["-m", "chit"]
        resume = "import sys; from chit.checkpoint import load; load(sys.argv[1])"
        cases = {
            "chit --version": [*chit, "--version"],
            f"chit usage --json, {max(copies):,} turns": [*chit, "usage", str(last), "--json"],
            f"load (what resuming reads), {max(copies):,} turns": ["-c", resume, str(last)],
            f"chit sessions --json, {LISTED} x 1,000 turns": [
                *chit,
                "sessions",
                "--json",
                "--home",
                str(listed),
            ],
        }
        report_commands(cases, baseline)


if __name__ == "__main__":
    main()
