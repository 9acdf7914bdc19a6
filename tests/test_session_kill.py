"""kill -9 at random moments: a child process appends turns in a loop and reports each turn
once its checkpoint is fsynced; after every kill the session loads, no reported turn is
lost, and at most one line is torn. The next child continues the same session."""

from __future__ import annotations

import random
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from chit.checkpoint import load

CHILD = r"""
import sys
from decimal import Decimal
from pathlib import Path

from chit.checkpoint import Session
from chit.messages import AssistantTurn, Message
from chit.pricing import Cost
from chit.state import AgentState, RequestRecord
from chit.usage import Usage

home, ref, pad = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
if ref == "new":
    s = Session.create(home, cwd="/w", provider="openai", model="m")
    state = AgentState(session_id=s.session_id)
    print("path", s.path, flush=True)
else:
    s, loaded = Session.open(ref, home)
    state = loaded.state
    print("resumed", state.turns, flush=True)
while True:
    n = state.turns + 1
    user = Message("user", text=f"q{n} " + "x" * (n * 37 % pad))
    state.messages.append(user)
    s.append_message(user)
    response = AssistantTurn("openai", "m", Usage.reported(n, 0, 0, 1, 0), text=f"a{n}")
    record = RequestRecord(n, response, Cost(Decimal(n)))
    state.record(record)
    s.append_usage(record)
    state.messages.append(response.message())
    s.append_message(response.message())
    state.turns = n
    s.append_checkpoint(state)
    print(n, flush=True)
"""

SESSIONS = 8
KILLS_PER_SESSION = 14  # 112 kills in all
BUDGET_S = 20.0


def run_child(home: Path, ref: str, pad: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(home), ref, str(pad)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def kill_one_session(home: Path, seed: int, deadline: float) -> int:
    """Kill a child repeatedly on one session; returns the number of kills."""
    rng = random.Random(seed)
    ref = "new"
    path: Path | None = None
    confirmed: set[int] = set()
    kills = 0
    while kills < KILLS_PER_SESSION and time.monotonic() < deadline:
        child = run_child(home, ref, rng.choice([1, 200, 5000]))
        assert child.stdout is not None
        first = child.stdout.readline().split()
        assert first, child.stderr.read() if child.stderr else "no output"
        if first[0] == "path":
            path = Path(first[1])
            ref = str(path)
        # Sometimes right away (mid-start, mid-write), sometimes after some turns.
        time.sleep(rng.choice([0.0, rng.uniform(0, 0.004), rng.uniform(0, 0.03)]))
        child.kill()
        out, _ = child.communicate()
        kills += 1
        confirmed.update(int(x) for x in out.split())
        assert path is not None
        loaded = load(path)
        lost = confirmed - set(loaded.checkpoints)
        assert not lost, f"turns reported fsynced but lost: {sorted(lost)}"
        record_turns = {r.turn for r in loaded.state.records}
        assert confirmed <= record_turns
        torn = [w for w in loaded.warnings if "incomplete" in w]
        assert len(torn) <= 1, loaded.warnings
        # Earlier kills may each have left one marked fragment; nothing else is damaged.
        for w in loaded.warnings:
            if "damaged" in w:
                assert int(w.split()[1]) <= kills, loaded.warnings
        # The conversation is exactly the checkpointed turns, in order.
        users = [m.text.split()[0] for m in loaded.state.messages if m.role == "user"]
        assert users == [f"q{n}" for n in sorted(loaded.checkpoints)]
        # Each request's figures are the ones its turn wrote (turn n reported n input tokens).
        records = loaded.state.records
        assert all(r.response.usage.input_tokens == r.turn for r in records)
        assert (loaded.totals.usage.input_tokens or 0) == sum(r.turn for r in records)
    return kills


def test_kill_9_at_random_moments_loses_no_reported_turn(tmp_path: Path) -> None:
    deadline = time.monotonic() + BUDGET_S
    seed = random.randrange(1 << 30)
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = [
            pool.submit(kill_one_session, tmp_path / f"home{i}", seed + i, deadline)
            for i in range(SESSIONS)
        ]
        kills = sum(f.result() for f in futures)
    assert kills >= 100, f"only {kills} kills in {BUDGET_S} s (seed {seed})"
