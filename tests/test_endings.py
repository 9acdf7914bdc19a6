"""Every way a real ``chit -p`` process can end records the request in flight.

Each test runs chit against the loopback replay server and then reads the session file:
a request that reached the server is in it, however the process ended. Signals are sent
many times at random moments, since a single run proves little about a race.
"""

from __future__ import annotations

import json
import os
import random
import resource
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import wire
from replay import ReplayServer, Reply

KEY = "sk-test-endings-0000"
#: How many times each signal is sent, each at its own random moment.
RUNS_PER_SIGNAL = 20


def _child_setup() -> None:
    # A test suite started in the background ignores SIGINT in its children; chit must see
    # Ctrl-C as a terminal would send it.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def command(replay: ReplayServer, *args: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "chit",
        "--provider",
        "anthropic",
        "--base-url",
        replay.url,
        *args,
    ]


def environment(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env.update(CHIT_HOME=str(home), ANTHROPIC_API_KEY=KEY)
    return env


def start(replay: ReplayServer, home: Path, *args: str, **kw: Any) -> subprocess.Popen[str]:
    return subprocess.Popen(
        command(replay, *args),
        env=environment(home),
        stdin=subprocess.DEVNULL,
        stdout=kw.pop("stdout", subprocess.PIPE),
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=kw.pop("preexec_fn", _child_setup),
        **kw,
    )


def run(
    replay: ReplayServer, home: Path, *args: str, **kw: Any
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command(replay, *args),
        env=environment(home),
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=_child_setup,
        **kw,
    )


def lines_of(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text().splitlines()]


def session_files(home: Path) -> list[Path]:
    return sorted((home / "sessions").glob("*.jsonl"))


def usage_of(home: Path) -> list[dict[str, Any]]:
    return [x for p in session_files(home) for x in lines_of(p) if x["type"] == "usage"]


def slow_answer() -> Reply:
    body = wire.anthropic("word " * 300, input_tokens=70, cache_read=500, output_tokens=300)
    return Reply(body=body, chunk_size=48, delay=0.01)


def wait_for_request(replay: ReplayServer, count: int = 1, within: float = 30) -> None:
    deadline = time.monotonic() + within
    while len(replay.received) < count:
        assert time.monotonic() < deadline, "chit sent no request"
        time.sleep(0.01)


# --- signals ------------------------------------------------------------------------------


def _signal_run(tmp_path: Path, n: int, signals_: list[int], gap: float) -> tuple[int, str, Path]:
    """One chit process, signalled a random moment into its answer."""
    home = tmp_path / f"home{n}"
    with ReplayServer() as replay:
        replay.queue(slow_answer())
        proc = start(replay, home, "-p", "talk", "--output-format", "json")
        wait_for_request(replay)
        time.sleep(random.uniform(0.0, 0.4))
        for i, signum in enumerate(signals_):
            if i:
                time.sleep(random.uniform(0, gap))
            proc.send_signal(signum)
        _, err = proc.communicate(timeout=60)
    return proc.returncode, err, home


@pytest.mark.parametrize(
    ("signals_", "status"),
    [
        ([signal.SIGTERM], 143),
        ([signal.SIGHUP], 129),
        ([signal.SIGINT, signal.SIGINT], 130),  # an impatient double Ctrl-C
    ],
    ids=["sigterm", "sighup", "double-sigint"],
)
def test_a_signal_mid_answer_records_the_request(
    tmp_path: Path, signals_: list[int], status: int
) -> None:
    with ThreadPoolExecutor(4) as pool:
        results = list(
            pool.map(lambda n: _signal_run(tmp_path, n, signals_, 0.05), range(RUNS_PER_SIGNAL))
        )
    missing = 0
    for code, err, home in results:
        assert "Traceback" not in err, err
        used = usage_of(home)
        missing += len(used) != 1
        # A signal after the answer finished leaves a clean exit: that is fine too.
        assert code in (status, 0), err
        if code == status:
            assert used and used[0]["ended"] == "interrupted"
            assert used[0]["usage"]["input_tokens"] in (None, 570)
    assert missing == 0


def test_sigterm_keeps_the_counts_that_arrived(replay: ReplayServer, tmp_path: Path) -> None:
    replay.queue(slow_answer())
    proc = start(replay, tmp_path, "-p", "talk", "--output-format", "json")
    wait_for_request(replay)
    time.sleep(0.5)  # message_start, with the input counts, has arrived
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    result = json.loads(out)
    assert result["ended"] == "interrupted"
    assert result["turn"]["usage"]["input_tokens"] == 570
    [line] = usage_of(tmp_path)
    assert line["usage"]["input_tokens"] == 570 and line["usage"]["output_tokens"] is None
    assert lines_of(session_files(tmp_path)[0])[-1]["type"] == "checkpoint"


def test_nohup_keeps_sighup_ignored(replay: ReplayServer, tmp_path: Path) -> None:
    def ignore_hup() -> None:
        _child_setup()
        signal.signal(signal.SIGHUP, signal.SIG_IGN)

    replay.queue(Reply(body=wire.anthropic("done", output_tokens=3), chunk_size=40, delay=0.02))
    proc = start(replay, tmp_path, "-p", "talk", preexec_fn=ignore_hup)
    wait_for_request(replay)
    proc.send_signal(signal.SIGHUP)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert [u["ended"] for u in usage_of(tmp_path)] == ["complete"]


# --- stdout closed ------------------------------------------------------------------------


def test_a_closed_stdout_still_records_the_whole_request(
    replay: ReplayServer, tmp_path: Path
) -> None:
    replay.queue(slow_answer())
    proc = start(replay, tmp_path, "-p", "talk")
    assert proc.stdout is not None
    assert len(proc.stdout.read(5)) == 5
    proc.stdout.close()  # `chit -p ... | head -c 5`
    assert proc.stderr is not None
    with proc.stderr:
        err = proc.stderr.read()
    proc.wait(timeout=60)
    assert "Traceback" not in err and "BrokenPipe" not in err, err
    assert proc.returncode == 0, err
    [line] = usage_of(tmp_path)
    # Read to the end: the provider generated (and billed) the whole answer.
    assert line["ended"] == "complete"
    assert line["usage"]["output_tokens"] == 300


# --- a full disk --------------------------------------------------------------------------


def test_a_full_disk_reports_the_request_it_could_not_write(
    replay: ReplayServer, tmp_path: Path
) -> None:
    # The file may grow by a few lines, then writes fail with EFBIG as a full disk fails
    # with ENOSPC.
    replay.queue(
        Reply(body=wire.anthropic("one")),
        Reply(body=wire.anthropic("two", input_tokens=77)),
        Reply(body=wire.anthropic("never sent")),
    )
    assert run(replay, tmp_path, "-p", "one").returncode == 0
    [path] = session_files(tmp_path)

    def with_room(room: int) -> subprocess.CompletedProcess[str]:
        limit = path.stat().st_size + room

        def small_disk() -> None:
            _child_setup()
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

        return subprocess.run(
            command(replay, "-c", "-p", "two", "--output-format", "json"),
            env=environment(tmp_path),
            capture_output=True,
            text=True,
            timeout=60,
            preexec_fn=small_disk,
        )

    # Room for the prompt's line, not for the request's usage line.
    r = with_room(200)
    assert "Traceback" not in r.stderr, r.stderr
    out = json.loads(r.stdout)
    assert r.returncode == 1
    assert out["error"]["type"] == "journal"
    assert "missing from the session file" in out["error"]["message"]
    assert "missing from the session file" in r.stderr
    assert out["unsaved_requests"] == 1
    assert out["turn"]["usage"]["input_tokens"] == 77
    assert len(replay.received) == 2
    # No room even for the prompt: nothing is sent that could not be recorded.
    r = with_room(0)
    out = json.loads(r.stdout)
    assert r.returncode == 1
    assert "no request was sent" in out["error"]["message"]
    assert len(replay.received) == 2


# --- one writer per session ---------------------------------------------------------------


def test_a_second_chit_on_the_same_session_is_refused(replay: ReplayServer, tmp_path: Path) -> None:
    replay.queue(Reply(body=wire.anthropic("first")), slow_answer())
    assert run(replay, tmp_path, "-p", "one").returncode == 0
    holder = start(replay, tmp_path, "-c", "-p", "two")
    wait_for_request(replay, 2)
    second = run(replay, tmp_path, "-c", "-p", "three")
    holder.communicate(timeout=60)
    assert second.returncode == 2
    assert len(second.stderr.strip().splitlines()) == 1
    assert f"pid {holder.pid}" in second.stderr
    assert "--fork" in second.stderr
    assert len(replay.received) == 2
    turns = [u["turn"] for u in usage_of(tmp_path)]
    assert turns == [1, 2]


def test_fork_continues_a_busy_session_as_a_new_one(replay: ReplayServer, tmp_path: Path) -> None:
    replay.queue(
        Reply(body=wire.anthropic("first")), slow_answer(), Reply(body=wire.anthropic("forked"))
    )
    first = json.loads(run(replay, tmp_path, "-p", "one", "--output-format", "json").stdout)
    holder = start(replay, tmp_path, "-c", "-p", "two")
    wait_for_request(replay, 2)
    r = run(
        replay,
        tmp_path,
        "-r",
        first["session_id"],
        "--fork",
        "-p",
        "three",
        "--output-format",
        "json",
    )
    holder.communicate(timeout=60)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["session_id"] != first["session_id"]
    header = lines_of(Path(out["session_file"]))[0]
    assert header["forked_from"] == first["session_id"]
    # The fork holds the parent's conversation: the third request carried turn 1.
    roles = [m["role"] for m in replay.received[2].json["messages"]]
    assert roles[:2] == ["user", "assistant"]


# --- resume tells the truth ---------------------------------------------------------------


def test_damage_is_reported_on_resume(replay: ReplayServer, tmp_path: Path) -> None:
    replay.queue(Reply(body=wire.anthropic("one")), Reply(body=wire.anthropic("two")))
    assert run(replay, tmp_path, "-p", "one").returncode == 0
    [path] = session_files(tmp_path)
    with path.open("ab") as f:
        f.write(b"this is not json\n\xff\xfe\n")
    r = run(replay, tmp_path, "-c", "-p", "two")
    assert r.returncode == 0, r.stderr
    warning = [x for x in r.stderr.splitlines() if "damaged" in x]
    assert warning and "line" in warning[0]


def test_opening_a_session_without_a_turn_writes_nothing(
    replay: ReplayServer, tmp_path: Path
) -> None:
    replay.queue(Reply(body=wire.anthropic("one")))
    assert run(replay, tmp_path, "-p", "one").returncode == 0
    [path] = session_files(tmp_path)
    before = path.read_bytes()
    # A new model and a budget, then a prompt that is refused: nothing happened.
    r = run(replay, tmp_path, "-c", "--model", "claude-opus-4-1", "--max-tokens", "900", "-p", " ")
    assert r.returncode == 2
    assert path.read_bytes() == before
    assert session_files(tmp_path) == [path]


def test_odd_entries_in_the_sessions_folder_break_nothing(
    replay: ReplayServer, tmp_path: Path
) -> None:
    replay.queue(Reply(body=wire.anthropic("one")), Reply(body=wire.anthropic("two")))
    assert run(replay, tmp_path, "-p", "one").returncode == 0
    folder = tmp_path / "sessions"
    (folder / "empty.jsonl").write_bytes(b"")
    os.mkfifo(folder / "fifo.jsonl")
    (folder / "zero.jsonl").symlink_to("/dev/zero")
    (folder / "folder.jsonl").mkdir()
    for args in (["sessions"], ["sessions", "--json"], ["usage"]):
        r = subprocess.run(
            [sys.executable, "-m", "chit", *args],
            env=environment(tmp_path),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert r.returncode == 0, (args, r.stderr)
        assert "Traceback" not in r.stderr
        for odd in ("empty", "fifo", "zero", "folder"):
            assert f"{odd}.jsonl" in r.stderr, (args, r.stderr)
    r = run(replay, tmp_path, "-c", "-p", "two")
    assert r.returncode == 0, r.stderr
    assert "empty.jsonl" in r.stderr  # the newest entry, passed over with a warning
    listed = json.loads(
        subprocess.run(
            [sys.executable, "-m", "chit", "sessions", "--json"],
            env=environment(tmp_path),
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout
    )
    assert len(listed) == 1 and listed[0]["turns"] == 2


# --- honest endings -----------------------------------------------------------------------


@pytest.mark.parametrize("status", [400, 401, 403, 404, 429, 500])
def test_an_http_error_was_billed_nothing(
    replay: ReplayServer, tmp_path: Path, status: int
) -> None:
    error = {"type": "error", "error": {"type": "api_error", "message": f"status {status}"}}
    # 429 and 500 are retried: every attempt answers the same.
    replay.queue(*(Reply.error(status, error, headers={"retry-after-ms": "1"}) for _ in range(3)))
    r = run(replay, tmp_path, "-p", "hi", "--output-format", "json")
    assert r.returncode == 1
    out = json.loads(r.stdout)
    assert out["turn"]["usage"]["input_tokens"] == 0
    assert out["turn"]["usage"]["output_tokens"] == 0
    assert out["turn"]["unknown"] == {"input_tokens": 0, "output_tokens": 0}
    text = run(replay, tmp_path, "-c", "-p", "again")
    assert "at least" not in text.stderr


def test_a_dropped_connection_is_a_provider_failure(replay: ReplayServer, tmp_path: Path) -> None:
    body = wire.anthropic("word " * 100, input_tokens=70, output_tokens=100)
    replay.queue(Reply(body=body, cut_after=len(body) // 2))
    r = run(replay, tmp_path, "-p", "hi", "--output-format", "json")
    assert r.returncode == 1, r.stderr
    out = json.loads(r.stdout)
    assert out["ended"] == "interrupted"
    assert out["turn"]["usage"]["input_tokens"] == 70


def test_a_stalled_stream_times_out(replay: ReplayServer, tmp_path: Path) -> None:
    body = wire.anthropic("word " * 100, input_tokens=70, output_tokens=100)
    replay.queue(Reply(body=body, chunk_size=200, pause_after=400, pause=8))
    start_at = time.monotonic()
    r = run(replay, tmp_path, "-p", "hi", "--timeout", "1", "--output-format", "json")
    assert time.monotonic() - start_at < 7
    assert r.returncode == 1, r.stderr
    out = json.loads(r.stdout)
    assert out["ended"] == "interrupted"
    assert out["turn"]["usage"]["input_tokens"] == 70
    assert "Traceback" not in r.stderr


def test_an_undecodable_chunk_is_an_error(replay: ReplayServer, tmp_path: Path) -> None:
    body = wire.anthropic("hello", input_tokens=70, output_tokens=3)
    broken = body.replace(b'"type": "content_block_stop"', b'"type": "content_block_stop', 1)
    assert broken != body
    replay.queue(Reply(body=broken))
    r = run(replay, tmp_path, "-p", "hi", "--output-format", "json")
    assert r.returncode == 1
    out = json.loads(r.stdout)
    assert out["ended"] == "error"
    assert out["error"]["type"] == "bad_response"


def test_an_answer_cut_at_the_output_limit_says_so(replay: ReplayServer, tmp_path: Path) -> None:
    body = wire.anthropic("cut off mid", output_tokens=5).replace(b"end_turn", b"max_tokens")
    replay.queue(Reply(body=body), Reply(body=body))
    r = run(replay, tmp_path, "-p", "hi")
    assert r.returncode == 0
    assert "cut at the output limit" in r.stderr.strip().splitlines()[-1]
    out = json.loads(run(replay, tmp_path, "-p", "hi", "--output-format", "json").stdout)
    assert out["stop_reason"] == "max_tokens"
    assert out["truncated"] is True


def test_non_utf8_input_is_refused_and_nothing_is_sent(
    replay: ReplayServer, tmp_path: Path
) -> None:
    r = subprocess.run(
        command(replay, "-p", "-"),
        env=environment(tmp_path),
        input=b"caf\xe9",
        capture_output=True,
        timeout=60,
    )
    assert r.returncode == 2
    err = r.stderr.decode()
    assert "UTF-8" in err and len(err.strip().splitlines()) == 1
    assert replay.received == []
    assert session_files(tmp_path) == []
