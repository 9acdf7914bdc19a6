"""Telemetry's cost at start-up: ``chit -p`` with no OTEL_* variables (telemetry off: nothing
of OpenTelemetry is imported), with them but ``OTEL_SDK_DISABLED=true``, and with telemetry
on, exporting to a loopback collector; ``python -c pass`` is the yardstick.

The cases, rounds and medians are bench_startup.py's: whole processes answered by the
replay server from one recorded stream, one of each per round. "request at" is when the
provider request arrived (what a user waits for before the answer starts); "whole" includes
the flush at exit when telemetry is on.

Run: .venv/bin/python bench/bench_telemetry.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import tempfile

from bench_startup import RECORDING, chit_case, measure, python_case, report
from collector import Collector
from replay import Reply


def main() -> None:
    parser = argparse.ArgumentParser(description="chit -p start-up with and without telemetry")
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    for name in [n for n in os.environ if n.startswith("OTEL_")]:
        del os.environ[name]  # the "off" case means off

    def reply() -> Reply:
        return Reply.recorded(RECORDING["anthropic"])

    with tempfile.TemporaryDirectory() as home, Collector() as collector:
        off = chit_case("anthropic", reply, home)
        off.name = "chit -p, no OTEL_* variables"
        disabled = chit_case("anthropic", reply, home)
        disabled.name = "chit -p, OTEL_SDK_DISABLED"
        disabled.env.update(collector.env(OTEL_SDK_DISABLED="true"))
        on = chit_case("anthropic", reply, home)
        on.name = "chit -p, telemetry on"
        on.env.update(collector.env())
        cases = [python_case(), off, disabled, on]
        measure(cases, args.runs)
        if not collector.spans:
            raise SystemExit("telemetry on sent no span")
    report(cases, args.runs)
    print(f"off vs on, request at: {_ratio(off.request, on.request)}; whole: ", end="")
    print(_ratio(off.whole, on.whole))


def _ratio(a: list[float], b: list[float]) -> str:
    import statistics

    return f"{statistics.median(b) / statistics.median(a):.2f}x"


if __name__ == "__main__":
    main()
