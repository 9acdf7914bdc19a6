"""Reports that answer: the cache figures of every report, ``chit usage SESSION --requests``
and ``chit usage --all``, with real chit processes and the replay server."""

from __future__ import annotations

import datetime as dt
import functools
import json
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path
from typing import Any

import wire
from helpers import CHIT, KEY, env_for
from replay import ReplayServer, Reply
from sessionfiles import CORPUS, CORPUS_ID

from chit.checkpoint import Session, sessions_dir


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


# --- slice 3: chit usage SESSION --requests -----------------------------------------------


def test_requests_lists_each_request_with_its_counts_and_cost(
    replay: ReplayServer, tmp_path: Path
) -> None:
    first = sonnet(replay, tmp_path, "-p", "hi", input_tokens=100, cache_read=2000)
    sonnet(
        replay, tmp_path, "-c", "-p", "more", input_tokens=50, output_tokens=7, stop="max_tokens"
    )
    rows = as_json(chit(tmp_path, "usage", first["session_id"], "--requests", "--json"))
    assert [(r["turn"], r["ended"], r["truncated"]) for r in rows] == [
        (1, "complete", False),
        (2, "complete", True),
    ]
    assert {r["model"] for r in rows} == {"claude-sonnet-4-5-20250929"}
    assert rows[0]["usage"] == {
        "input_tokens": 2100,
        "cache_read_tokens": 2000,
        "cache_write_tokens": 0,
        "output_tokens": 5,
        "reasoning_tokens": 0,
    }
    assert rows[1]["usage"]["output_tokens"] == 7
    # $3/M x 100 + $0.30/M x 2,000 + $15/M x 5; then $3/M x 50 + $15/M x 7.
    assert [Decimal(r["cost_usd"]) for r in rows] == [Decimal("0.000975"), Decimal("0.000255")]
    assert all(r["at"].endswith("Z") for r in rows)

    text = chit(tmp_path, "usage", "--requests")  # the latest session
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert first["session_id"] in lines[0]
    assert lines[1].split()[:3] == ["turn", "model", "ended"]
    assert lines[2].split()[:5] == ["1", "claude-sonnet-4-5-20250929", "complete", "2,100", "2,000"]
    assert lines[3].split()[2:4] == ["complete", "(cut)"]
    assert lines[3].endswith("$0.000255")


def test_requests_does_not_go_with_all(tmp_path: Path) -> None:
    r = chit(tmp_path, "usage", "--all", "--requests")
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "--requests" in r.stderr


# --- slice 4: chit usage --all ------------------------------------------------------------


def test_all_sums_every_session_once_by_model_day_and_project(
    replay: ReplayServer, tmp_path: Path
) -> None:
    home, project = tmp_path / "home", tmp_path / "project"
    project.mkdir()
    folder = sessions_dir(home)
    folder.mkdir(parents=True)
    shutil.copyfile(CORPUS, folder / f"{CORPUS_ID}.jsonl")  # 6 requests on 2026-11-23
    run = functools.partial(subprocess.run, capture_output=True, text=True, timeout=120)
    args = [*CHIT, "--provider", "anthropic", "--base-url", replay.url, "--no-tools", "-p", "hi"]
    env = env_for(home, ANTHROPIC_API_KEY=KEY)
    # A session, then a fork of it (a copy of its lines) with one more request.
    for resume in ((), ("-r", "fork")):
        if resume:
            session, _ = Session.latest(home)
            fork = session.fork()
            session.close()
            fork.close()
            resume = ("-r", fork.session_id)
        replay.queue(Reply(wire.anthropic("ok", input_tokens=100, cache_read=2000)))
        r = run([*args, *resume], cwd=project, env=env)
        assert r.returncode == 0, r.stderr
    assert len(list(folder.glob("*.jsonl"))) == 3

    out = as_json(chit(home, "usage", "--all", "--json"))
    assert (out["sessions"], out["requests"], out["since"]) == (3, 8, None)  # the fork's copy once
    corpus = as_json(chit(home, "usage", CORPUS_ID, "--json"))
    mine = Decimal("0.000975")  # each of the two -p requests (see the --requests test)
    assert Decimal(out["cost_usd"]) == Decimal(corpus["cost_usd"]) + 2 * mine
    assert out["usage"]["input_tokens"] == corpus["usage"]["input_tokens"] + 2 * 2100
    assert out["unknown"] == corpus["unknown"]
    saved = Decimal(corpus["cache_saved_usd"]) + 2 * Decimal("0.0054")
    assert Decimal(out["cache_saved_usd"]) == saved
    today = dt.datetime.now(dt.UTC).date().isoformat()
    assert {d: f["requests"] for d, f in out["by_day"].items()} == {"2026-11-23": 6, today: 2}
    projects = {p: f["requests"] for p, f in out["by_project"].items()}
    assert projects == {"/home/user/project": 6, str(project): 2}
    assert out["by_model"]["claude-sonnet-4-5-20250929"]["requests"] == 3 + 2
    for group in ("by_day", "by_project", "by_model"):
        assert sum(f["requests"] for f in out[group].values()) == 8
        total = sum(Decimal(f["cost_usd"] or 0) for f in out[group].values())
        assert total == Decimal(out["cost_usd"])

    recent = as_json(chit(home, "usage", "--all", "--since", "2026-11-24", "--json"))
    assert (recent["sessions"], recent["requests"]) == (2, 2)
    assert Decimal(recent["cost_usd"]) == 2 * mine
    assert list(recent["by_day"]) == [today]
    assert as_json(chit(home, "usage", "--all", "--since", "3d", "--json"))["requests"] == 2

    text = chit(home, "usage", "--all")
    assert text.returncode == 0, text.stderr
    assert text.stdout.startswith("3 session(s), 8 request(s)\n")
    for heading in ("model", "day", "project"):
        assert any(line.split()[:2] == [heading, "requests"] for line in text.stdout.splitlines())
    assert "2026-11-23" in text.stdout and str(project) in text.stdout


def test_a_since_that_is_no_time_is_one_line_and_exit_2(tmp_path: Path) -> None:
    for bad in ("yesterday", "7", "2026-13-01", "-3d"):
        r = chit(tmp_path, "usage", "--all", "--since", bad)
        assert r.returncode == 2, bad
        assert r.stdout == "" and r.stderr.count("\n") == 1 and "--since" in r.stderr
    r = chit(tmp_path, "usage", "--since", "7d")
    assert r.returncode == 2 and "--all" in r.stderr


def test_all_with_no_sessions_is_zero(tmp_path: Path) -> None:
    out = as_json(chit(tmp_path, "usage", "--all", "--json"))
    assert (out["sessions"], out["requests"], out["cost_usd"], out["by_day"]) == (0, 0, None, {})


# --- slice 5: chit sessions --json --------------------------------------------------------


def test_sessions_json_names_the_parent_of_a_fork_and_the_working_folder(tmp_path: Path) -> None:
    parent = Session.create(tmp_path, cwd="/work/app", provider="openai", model="gpt-4o-mini")
    fork = parent.fork()
    parent.close()
    fork.close()
    listed = {s["session_id"]: s for s in as_json(chit(tmp_path, "sessions", "--json"))}
    assert (listed[parent.session_id]["forked_from"], listed[parent.session_id]["cwd"]) == (
        None,
        "/work/app",
    )
    assert listed[fork.session_id]["forked_from"] == parent.session_id
    assert listed[fork.session_id]["cwd"] == "/work/app"


# --- the 5-minute / 1-hour cache-write split ----------------------------------------------


def test_the_cache_write_split_anthropic_reports_is_in_every_report(
    replay: ReplayServer, tmp_path: Path
) -> None:
    first = sonnet(
        replay, tmp_path, "-p", "hi", input_tokens=100, cache_write=3000, cache_split=(1000, 2000)
    )
    assert first["turn"]["cache_write_split"] == {"5m": 1000, "1h": 2000}
    assert first["session"]["cache_write_split"] == {"5m": 1000, "1h": 2000}
    # $3/M x 100 + $3.75/M x 1,000 (5 minutes) + $6/M x 2,000 (an hour) + $15/M x 5.
    assert Decimal(first["turn"]["cost_usd"]) == Decimal("0.016125")
    again = sonnet(replay, tmp_path, "-c", "-p", "more", cache_write=500, cache_split=(500, 0))
    assert again["turn"]["cache_write_split"] == {"5m": 500, "1h": 0}
    assert again["session"]["cache_write_split"] == {"5m": 1500, "1h": 2000}

    report = as_json(chit(tmp_path, "usage", "--json"))
    assert report["cache_write_split"] == {"5m": 1500, "1h": 2000}
    assert report["usage"]["cache_write_tokens"] == 3500
    assert as_json(chit(tmp_path, "usage", "--all", "--json"))["cache_write_split"] == {
        "5m": 1500,
        "1h": 2000,
    }
    rows = as_json(chit(tmp_path, "usage", "--requests", "--json"))
    assert [r["cache_write_split"] for r in rows] == [
        {"5m": 1000, "1h": 2000},
        {"5m": 500, "1h": 0},
    ]

    lines = chit(tmp_path, "usage", "--requests").stdout.splitlines()
    assert lines[1].split()[3:8] == ["input", "cache", "read", "cache", "write"]
    assert lines[1].split()[8:10] == ["1h", "write"]
    assert lines[2].split()[3:6] == ["3,100", "0", "3,000"] and lines[2].split()[6] == "2,000"
    assert lines[3].split()[5:7] == ["500", "0"]

    table = chit(tmp_path, "usage").stdout.splitlines()
    rows_of = {line[:20].strip(): line[20:].split() for line in table}
    assert rows_of["cache write"] == ["500", "3,500"]  # last turn, session
    assert rows_of["of which 1h"] == ["0", "2,000"]
    assert all(len(line) <= 80 for line in table)


def test_no_split_reported_is_null_and_no_row(replay: ReplayServer, tmp_path: Path) -> None:
    out = sonnet(replay, tmp_path, "-p", "hi", cache_write=300)  # no cache_creation object
    assert out["turn"]["cache_write_split"] is None
    assert out["session"]["cache_write_split"] is None
    assert as_json(chit(tmp_path, "usage", "--json"))["cache_write_split"] is None
    assert as_json(chit(tmp_path, "usage", "--all", "--json"))["cache_write_split"] is None
    assert as_json(chit(tmp_path, "usage", "--requests", "--json"))[0]["cache_write_split"] is None
    assert "1h write" not in chit(tmp_path, "usage", "--requests").stdout
    table = chit(tmp_path, "usage").stdout
    assert "cache write" in table and "of which 1h" not in table
    # Reported, but every write for 5 minutes: the split is there, the 1h row is not.
    sonnet(replay, tmp_path, "-c", "-p", "more", cache_write=200, cache_split=(200, 0))
    assert as_json(chit(tmp_path, "usage", "--json"))["cache_write_split"] == {"5m": 200, "1h": 0}
    assert "of which 1h" not in chit(tmp_path, "usage").stdout
