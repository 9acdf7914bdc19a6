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

from chit.checkpoint import FileOps, Session
from chit.checkpoint.journal import OS_OPS
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


class NoSync(FileOps):
    """Writes without ``fsync``: for sessions only read here."""

    def fsync(self, fd: int) -> None:
        pass

    def fsync_dir(self, path: Path) -> None:
        pass


def write_session(
    home: Path, turns: int, ops: FileOps = OS_OPS
) -> tuple[Session, list[float], dict[int, Path]]:
    """A session of ``turns`` turns; the time of each append, and copies at the marks."""
    s = Session.create(
        home, cwd=str(home), provider="anthropic", model="claude-sonnet-4-5", ops=ops
    )
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
    return s, per_turn, copies


def report_appends(per_turn: list[float]) -> None:
    print("append, per turn (2 fsyncs), median of the 10 turns ending at the mark:")
    at = {m: statistics.median(per_turn[m - WINDOW : m]) for m in MARKS if m <= len(per_turn)}
    for mark, seconds in at.items():
        print(f"  turn {mark:>6,}: {seconds * 1e6:9.1f} µs")
    first, last = MARKS[0], MARKS[-1]
    if first in at and last in at:
        print(f"  ratio turn {last:,} / turn {first}: {at[last] / at[first]:.2f}")


def best(args: list[str], tmp: Path, source: str | None) -> float:
    """The best time of ``REPEAT`` fresh processes running ``args``, chit from ``source``
    (default: the installed one). Each runs in ``tmp``, so that ``-m chit`` finds no other
    chit there, with its modules compiled once into a cache there, as an installed chit's are."""
    env = {**os.environ, "PYTHONPYCACHEPREFIX": str(tmp / f"pycache-{source is None}")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if source is not None:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (source, env.get("PYTHONPATH")) if p)
    times = []
    for _ in range(REPEAT + 1):  # the first run compiles
        t = time.perf_counter()
        subprocess.run([sys.executable, *args], env=env, cwd=tmp, check=True, capture_output=True)
        times.append(time.perf_counter() - t)
    return min(times[1:])


def report_commands(cases: dict[str, list[str]], tmp: Path, baseline: str | None) -> None:
    print(f"fresh process each, best of {REPEAT}:")
    if baseline is not None:
        print(f"  {'':44} {'this':>9} {'baseline':>9}  this/baseline")
    for name, args in cases.items():
        this = best(args, tmp, None)
        line = f"  {name:44} {this * 1e3:6.0f} ms"
        if baseline is not None:
            before = best(args, tmp, baseline)
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
        print(f"folder: {tmp}", flush=True)
        _, per_turn, copies = write_session(home / "write", args.turns)
        report_appends(per_turn)
        last = copies[max(copies)]
        listed = home / "list"
        for _ in range(LISTED):  # written as they are, unsynced: only read here
            write_session(listed, min(max(copies), 1_000), NoSync())
        resume = "import sys; from chit.checkpoint import load; load(sys.argv[1])"
        cases = {
            "chit --version": ["-m", "chit", "--version"],
            f"chit usage --json, {max(copies):,} turns": [
                "-m",
                "chit",
                "usage",
                str(last),
                "--json",
            ],
            f"load (what resuming reads), {max(copies):,} turns": ["-c", resume, str(last)],
            f"chit sessions --json, {LISTED} x 1,000 turns": [
                *("-m", "chit", "sessions", "--json", "--home", str(listed)),
            ],
        }
        report_commands(cases, home, baseline)


if __name__ == "__main__":
    main()
