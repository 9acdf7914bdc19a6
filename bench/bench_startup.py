"""Start-up time of the chit command against a bare Python, side by side in one run.

Run: .venv/bin/python bench/bench_startup.py
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RUNS = 20
CHIT = str(Path(sys.executable).with_name("chit"))


def median_ms(cmd: list[str], env: dict[str, str]) -> float:
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        subprocess.run(
            cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False
        )
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "CHIT_HOME": home}
        cases = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "chit --version": [CHIT, "--version"],
            "chit --help": [CHIT, "--help"],
            "chit sessions --json (empty)": [CHIT, "sessions", "--json"],
        }
        results = {name: median_ms(cmd, env) for name, cmd in cases.items()}
    base = results["python -c pass"]
    for name, ms in results.items():
        print(f"{name:32} {ms:7.1f} ms  {ms / base:4.1f}x python")


if __name__ == "__main__":
    main()
