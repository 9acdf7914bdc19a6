"""Session journal speed: append per turn, load, and ``chit usage --json`` on a long session.

Run by hand (not a test): ``python bench/bench_journal.py [--dir DIR] [--turns N]``.
A turn is what the agent writes for one user turn with one request: a user message, a
usage line (fsynced), an assistant message and a checkpoint (fsynced).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from chit.checkpoint import Session, load, tally
from chit.messages import AssistantTurn, Message
from chit.pricing import Cost
from chit.state import AgentState, RequestRecord
from chit.usage import Usage

MARKS = (10, 1_000, 10_000)
WINDOW = 10  # turns averaged at each mark


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


def best_of(fn: object, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - t)
    return min(times)


def run_cli(*args: str) -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "chit", *args], check=True, capture_output=True)
    return time.perf_counter() - t


def report_appends(per_turn: list[float]) -> None:
    print("append, per turn (2 fsyncs), median of the 10 turns ending at the mark:")
    at = {m: statistics.median(per_turn[m - WINDOW : m]) for m in MARKS if m <= len(per_turn)}
    for mark, seconds in at.items():
        print(f"  turn {mark:>6,}: {seconds * 1e6:9.1f} µs")
    first, last = MARKS[0], MARKS[-1]
    if first in at and last in at:
        print(f"  ratio turn {last:,} / turn {first}: {at[last] / at[first]:.2f}")


def report_loads(snapshots: dict[int, Path]) -> None:
    print("in process, best of 5: full load (resume) | tally (chit usage) | tally / load")
    for mark, path in snapshots.items():
        size = path.stat().st_size
        full = best_of(lambda path=path: load(path), 5)
        figures = best_of(lambda path=path: tally(path), 5)
        print(
            f"  {mark:>6,} turns ({size / 1e6:6.1f} MB): {full * 1e3:8.1f} ms | "
            f"{figures * 1e3:8.1f} ms | {figures / full:4.2f}"
        )


def report_commands(home: Path, first: Path, path: Path) -> None:
    def usage(p: Path) -> float:
        return min(run_cli("usage", str(p), "--json", "--home", str(home)) for _ in range(7))

    start = min(run_cli("--version") for _ in range(7))
    small, large = usage(first), usage(path)
    listing = min(run_cli("sessions", "--json", "--home", str(home)) for _ in range(7))
    print("command line, fresh process each, best of 7:")
    print(f"  chit --version:                    {start * 1e3:7.1f} ms")
    print(f"  chit usage --json, 1 turn:         {small * 1e3:7.1f} ms")
    print(f"  chit usage --json, {MARKS[-1]:,} turns:   {large * 1e3:7.1f} ms")
    print(f"    beyond chit --version:           {(large - start) * 1e3:7.1f} ms")
    print(f"    beyond the same on 1 turn:       {(large - small) * 1e3:7.1f} ms")
    print(f"  chit sessions --json:              {listing * 1e3:7.1f} ms")
    print(f"    beyond chit --version:           {(listing - start) * 1e3:7.1f} ms")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--dir", help="where to write (default: a temporary folder)")
    p.add_argument("--turns", type=int, default=MARKS[-1])
    args = p.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        home = Path(tmp)
        s = Session.create(home, cwd=tmp, provider="anthropic", model="claude-sonnet-4-5")
        state = AgentState(session_id=s.session_id)
        per_turn: list[float] = []
        snapshots: dict[int, Path] = {}
        first = home / "at-1.jsonl"  # a copy after turn 1: the command's own start-up
        for n in range(1, args.turns + 1):
            t = time.perf_counter()
            one_turn(s, state, n)
            per_turn.append(time.perf_counter() - t)
            if n == 1:
                first.write_bytes(s.path.read_bytes())
            if n in MARKS:
                # Copies outside the sessions folder: `chit sessions` lists one session.
                snapshots[n] = home / f"at-{n}.jsonl"
                snapshots[n].write_bytes(s.path.read_bytes())
        s.close()
        print(f"folder: {tmp}")
        report_appends(per_turn)
        report_loads(snapshots)
        if MARKS[-1] in snapshots:
            report_commands(home, first, snapshots[MARKS[-1]])


if __name__ == "__main__":
    main()
