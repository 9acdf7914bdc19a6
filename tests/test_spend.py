"""Reports that answer: the cache figures of every report, ``chit usage SESSION --requests``
and ``chit usage --all``, with real chit processes and the replay server."""

from __future__ import annotations

import json
import subprocess
from decimal import Decimal
from pathlib import Path
from typing import Any

import wire
from helpers import CHIT, KEY, env_for
from replay import ReplayServer, Reply


def chit_p(replay: ReplayServer, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``chit -p`` on Anthropic's wire format at the replay server."""
    return subprocess.run(
        [*CHIT, "--provider", "anthropic", "--base-url", replay.url, "--no-tools", *args],
        env=env_for(home, ANTHROPIC_API_KEY=KEY),
        capture_output=True,
        text=True,
        timeout=120,
    )


def chit(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """A report command on the sessions under ``home``."""
    return subprocess.run(
        [*CHIT, *args, "--home", str(home)], capture_output=True, text=True, timeout=60
    )


def as_json(r: subprocess.CompletedProcess[str]) -> Any:
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def sonnet(replay: ReplayServer, home: Path, *args: str, **usage: int) -> dict[str, Any]:
    """One ``-p`` turn on claude-sonnet-4-5 answered with the given usage, as JSON."""
    replay.queue(Reply(wire.anthropic("ok", **usage)))
    out: dict[str, Any] = as_json(
        chit_p(replay, home, "--model", "claude-sonnet-4-5", *args, "--output-format", "json")
    )
    return out


# --- slice 1: cache figures ---------------------------------------------------------------


def test_2000_cache_reads_on_sonnet_saved_exactly_0_0054(
    replay: ReplayServer, tmp_path: Path
) -> None:
    out = sonnet(replay, tmp_path, "-p", "hi", input_tokens=1000, cache_read=2000)
    for figures in (out["turn"], out["session"]):
        # $3/M uncached against $0.30/M read: 2,000 x $2.70/M.
        assert Decimal(figures["cache_saved_usd"]) == Decimal("0.0054")
        assert figures["cache_hit_rate"] == round(2000 / 3000, 4)
    report = as_json(chit(tmp_path, "usage", "--json"))
    assert Decimal(report["cache_saved_usd"]) == Decimal("0.0054")
    (model,) = report["by_model"].values()
    assert Decimal(model["cache_saved_usd"]) == Decimal("0.0054")
    assert model["cache_hit_rate"] == report["cache_hit_rate"] == round(2 / 3, 4)
    import genai_prices

    assert report["prices_version"] == str(genai_prices.__version__)


def test_cache_writes_that_cost_more_than_reads_saved_are_a_negative_saving(
    replay: ReplayServer, tmp_path: Path
) -> None:
    out = sonnet(replay, tmp_path, "-p", "hi", input_tokens=0, cache_write=1000)
    # Written at $3.75/M instead of read at $3/M: caching cost $0.00075 more.
    assert Decimal(out["turn"]["cache_saved_usd"]) == Decimal("-0.00075")
    assert out["turn"]["cache_hit_rate"] == 0.0


def test_no_input_means_no_hit_rate_and_unpriced_means_no_saving(
    replay: ReplayServer, tmp_path: Path
) -> None:
    replay.queue(Reply(wire.anthropic("ok", model="no-such-model-x", input_tokens=0)))
    args = ("--model", "no-such-model-x", "-p", "hi", "--output-format", "json")
    out = as_json(chit_p(replay, tmp_path, *args))
    assert out["turn"]["cache_hit_rate"] is None
    assert out["turn"]["cache_saved_usd"] is None
    assert out["turn"]["cost_usd"] is None
