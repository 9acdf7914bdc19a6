"""The built-in tools with real files, folders, FIFOs, devices and processes: what they may
touch, and the bounds they keep."""

from __future__ import annotations

import functools
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import wire
from helpers import KEY, ctrl_c_raises, env_for, make_agent, run_turn
from replay import ReplayServer, Reply

from chit.agent import PermissionRequest, ToolContext, ToolDone, ToolFailed, default_tools
from chit.agent.tools import MAX_RESULT, PROVIDER_KEYS
from chit.agent.tools.walk import glob_regex
from chit.errors import NoCredentials
from chit.providers import choose

TOOLS = default_tools()


def call(name: str, args: dict[str, Any], ctx: ToolContext) -> str:
    """Run a tool as the loop does once allowed; a failure's message is the result."""
    tool = TOOLS.get(name)
    assert tool is not None
    try:
        return tool.run(args, ctx)
    except ToolFailed as e:
        return f"FAILED: {e}"


def asks(name: str, args: dict[str, Any], ctx: ToolContext) -> bool:
    tool = TOOLS.get(name)
    assert tool is not None
    return tool.needs_permission(args, ctx)


def promptly(fn: Callable[[], str], seconds: float = 5.0) -> str:
    """``fn()``, failing the test (not hanging it) when it does not return in time."""
    out: list[str] = []
    worker = threading.Thread(target=lambda: out.append(fn()), daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), f"did not return within {seconds} s"
    return out[0]


def bytes_read() -> int:
    """Bytes this process has read through read() calls so far (Linux)."""
    fields = dict(line.split(": ") for line in Path("/proc/self/io").read_text().splitlines())
    return int(fields["rchar"])


@pytest.fixture
def work(tmp_path: Path) -> Path:
    """A working folder with one file inside, one file beside it, and a way out by symlink."""
    root = tmp_path / "work"
    root.mkdir()
    (root / "notes.txt").write_text("alpha\nbeta\n")
    (tmp_path / "outside.txt").write_text("OUTSIDE-CONTENT\n")
    (root / "link").symlink_to(tmp_path / "outside.txt")
    (root / "environ-link").symlink_to("/proc/self/environ")
    return root


# --- what the read tools may touch ----------------------------------------------------


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("read_file", {"path": "../outside.txt"}),
        ("read_file", {"path": "notes.txt/../../outside.txt"}),
        ("read_file", {"path": "OUTSIDE"}),
        ("read_file", {"path": "link"}),
        ("read_file", {"path": "environ-link"}),
        ("read_file", {"path": "/proc/self/environ"}),
        ("read_file", {"path": "/dev/zero"}),
        ("read_file", {"path": "~/.bashrc"}),
        ("list_files", {"path": ".."}),
        ("list_files", {"path": "/"}),
        ("search", {"pattern": "x", "path": ".."}),
        ("search", {"pattern": "x", "path": "link"}),
        ("search", {"pattern": "x", "path": "/proc/self/environ"}),
    ],
)
def test_reads_outside_the_folder_need_permission(
    work: Path, name: str, args: dict[str, Any]
) -> None:
    args = {k: str(work.parent / "outside.txt") if v == "OUTSIDE" else v for k, v in args.items()}
    assert asks(name, args, ToolContext(root=work))


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("read_file", {"path": "notes.txt"}),
        ("read_file", {"path": "./sub/../notes.txt"}),
        ("list_files", {}),
        ("search", {"pattern": "beta"}),
    ],
)
def test_reads_inside_the_folder_do_not_ask(work: Path, name: str, args: dict[str, Any]) -> None:
    (work / "sub").mkdir()
    assert not asks(name, args, ToolContext(root=work))


def test_allowed_reads_widen_the_folder(work: Path) -> None:
    outside = work.parent / "outside.txt"
    ctx = ToolContext(root=work, allowed_reads=(outside,))
    assert not asks("read_file", {"path": "../outside.txt"}, ctx)
    assert not asks("read_file", {"path": "link"}, ctx)
    assert asks("read_file", {"path": "/etc/hostname"}, ctx)
    assert call("read_file", {"path": "link"}, ctx) == "OUTSIDE-CONTENT\n"


def test_a_process_environment_is_refused_even_when_allowed(
    work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    ctx = ToolContext(root=work, allowed_reads=(Path("/proc"),))
    for path in ("/proc/self/environ", f"/proc/{os.getpid()}/environ", "environ-link"):
        result = call("read_file", {"path": path}, ctx)
        assert result.startswith("FAILED: refused:") and "running process" in result
        assert KEY not in result
    result = call("search", {"pattern": "API_KEY", "path": "/proc/self/environ"}, ctx)
    assert result.startswith("FAILED: refused:")


def test_only_regular_files_are_read(work: Path) -> None:
    os.mkfifo(work / "fifo")  # no writer: a blocking open or read would hang forever
    ctx = ToolContext(root=work)
    for name, args in [
        ("read_file", {"path": "fifo"}),
        ("search", {"pattern": "x", "path": "fifo"}),
        ("edit_file", {"path": "fifo", "old": "a", "new": "b"}),
        ("write_file", {"path": "fifo", "content": "x"}),
        ("read_file", {"path": "/dev/zero"}),
        ("read_file", {"path": "/dev/urandom"}),
    ]:
        result = promptly(functools.partial(call, name, args, ctx))
        assert result.startswith("FAILED: refused:") and "not a regular file" in result, result
    # Walking a folder that holds one skips it rather than hang.
    found = promptly(functools.partial(call, "search", {"pattern": "beta"}, ctx))
    assert found.splitlines()[0] == "notes.txt:2: beta"
    assert "fifo" in call("list_files", {}, ctx).splitlines()
    assert call("read_file", {"path": "."}, ctx).startswith(f"FAILED: {work} is a folder")


def test_the_loop_asks_before_reading_outside_and_sends_the_refusal(
    replay: ReplayServer, work: Path
) -> None:
    calls = [
        ("tu_1", "read_file", {"path": "../outside.txt"}),
        ("tu_2", "read_file", {"path": "link"}),
        ("tu_3", "search", {"pattern": "OUTSIDE", "path": ".."}),
        ("tu_4", "read_file", {"path": "/proc/self/environ"}),
        ("tu_5", "read_file", {"path": "notes.txt"}),
    ]
    replay.queue(Reply(body=wire.anthropic("", calls)), Reply(body=wire.anthropic("ok")))
    agent = make_agent(replay, work, tool_context=ToolContext(root=work))
    _, events = run_turn(agent, answer="no")
    asked = [e.call.id for e in events if isinstance(e, PermissionRequest)]
    assert asked == ["tu_1", "tu_2", "tu_3", "tu_4"]
    results = {e.call.id: e.result for e in events if isinstance(e, ToolDone)}
    for refused in asked:
        assert results[refused].is_error and results[refused].content == (
            "the user refused permission"
        )
    assert results["tu_5"].content == "alpha\nbeta\n"
    sent = replay.received[1].body
    assert b"OUTSIDE-CONTENT" not in sent and b"alpha" in sent


def test_a_read_outside_runs_once_allowed(replay: ReplayServer, work: Path) -> None:
    calls = [
        ("tu_1", "read_file", {"path": "../outside.txt"}),
        ("tu_2", "read_file", {"path": "/proc/self/environ"}),
        ("tu_3", "read_file", {"path": "/dev/zero"}),
    ]
    replay.queue(Reply(body=wire.anthropic("", calls)), Reply(body=wire.anthropic("ok")))
    agent = make_agent(replay, work, tool_context=ToolContext(root=work))
    _, events = run_turn(agent, answer="yes")
    results = [e.result for e in events if isinstance(e, ToolDone)]
    assert results[0].content == "OUTSIDE-CONTENT\n"
    assert results[1].is_error and "running process" in results[1].content
    assert results[2].is_error and "not a regular file" in results[2].content


def test_print_mode_refuses_reads_outside_and_never_sends_the_key(
    replay: ReplayServer, tmp_path: Path, work: Path
) -> None:
    calls = [
        ("tu_1", "read_file", {"path": "/proc/self/environ"}),
        ("tu_2", "read_file", {"path": "../outside.txt"}),
    ]
    with_command = [*calls, ("tu_3", "run_command", {"command": "env"})]
    replay.queue(
        Reply(body=wire.anthropic("", calls)),
        Reply(body=wire.anthropic("done")),
        Reply(body=wire.anthropic("", with_command)),
        Reply(body=wire.anthropic("done")),
    )
    base = [sys.executable, "-m", "chit", "--provider", "anthropic", "--base-url", replay.url]
    env = env_for(tmp_path / "home", ANTHROPIC_API_KEY=KEY)
    json_out = ["--output-format", "json"]

    r = subprocess.run(
        [*base, "-p", "look", *json_out], cwd=work, env=env, capture_output=True, timeout=60
    )
    assert r.returncode == 0, r.stderr
    assert b"refused read_file" in r.stderr
    sent = replay.received[1]
    assert KEY.encode() not in sent.body and b"OUTSIDE-CONTENT" not in sent.body
    results = sent.json["messages"][-1]["content"]
    assert [(x["is_error"], x["content"]) for x in results] == [
        (True, "the user refused permission")
    ] * 2

    # --allow-tools lets the read outside through; a process's environment stays refused,
    # and a command does not get the key either.
    r = subprocess.run(
        [*base, "-p", "look", *json_out, "--allow-tools"],
        cwd=work,
        env=env,
        capture_output=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    sent = replay.received[3]
    assert KEY.encode() not in sent.body
    results = sent.json["messages"][-1]["content"]
    assert results[0]["is_error"] and "running process" in results[0]["content"]
    assert results[1]["content"] == "OUTSIDE-CONTENT\n"
    assert "CHIT_HOME=" in results[2]["content"]  # the command ran, with the environment
    assert "ANTHROPIC_API_KEY" not in results[2]["content"]


# --- bounds -------------------------------------------------------------------------


def test_a_huge_line_is_cut_at_the_cap_without_reading_the_file(work: Path) -> None:
    big = work / "big.bin"
    with open(big, "wb") as f:
        f.truncate(50 * 2**20)  # 50 MB, sparse, no newline
    before = bytes_read()
    result = call("read_file", {"path": "big.bin"}, ToolContext(root=work))
    assert bytes_read() - before < 2**20
    assert len(result) <= MAX_RESULT
    assert result.endswith("characters]") and "[line 1 cut at" in result


def test_a_long_file_stops_at_the_cap_and_says_where_to_go_on(work: Path) -> None:
    line = "x" * 99 + "\n"
    (work / "long.txt").write_text(line * 500_000)  # 50 MB
    ctx = ToolContext(root=work)
    before = bytes_read()
    result = call("read_file", {"path": "long.txt", "limit": 10**9}, ctx)
    assert bytes_read() - before < 2**20
    assert len(result) <= MAX_RESULT
    shown = result.count(line)
    assert result.endswith(f"[stopped at the size cap: read on with offset={shown + 1}]")
    following = call("read_file", {"path": "long.txt", "offset": shown + 1, "limit": 2}, ctx)
    assert following == line * 2 + f"[more lines: read on with offset={shown + 3}]"
    assert call("read_file", {"path": "notes.txt", "offset": 9}, ctx).startswith(
        f"[{work / 'notes.txt'} has 2 lines"
    )


def test_search_stops_within_its_time_budget_over_a_big_tree(work: Path) -> None:
    usr = Path("/usr")
    ctx = ToolContext(root=work, allowed_reads=(usr,), search_seconds=1.0, search_bytes=2**40)
    assert not asks("search", {"pattern": "x", "path": "/usr"}, ctx)
    start = time.monotonic()
    result = call("search", {"pattern": "no-such-text-q9z7", "path": "/usr"}, ctx)
    assert time.monotonic() - start < 3.0
    assert result.endswith("[search stopped after 1 s: narrow the path or glob]")
    start = time.monotonic()
    result = call("list_files", {"pattern": "**/*.no-such", "path": "/usr"}, ctx)
    assert time.monotonic() - start < 3.0
    assert result == "[listing stopped after 1 s: narrow the pattern or path]"


def test_search_stops_at_its_size_budget(work: Path) -> None:
    for i in range(8):
        (work / f"f{i}.txt").write_text("filler line\n" * 40_000 + "needle\n")  # ~480 KB
    result = call("search", {"pattern": "needle"}, ToolContext(root=work, search_bytes=2**20))
    hits = [x for x in result.splitlines() if ":40001: needle" in x]
    assert 1 <= len(hits) < 8
    assert "\n[search stopped after reading 1 MB: narrow the path or glob]\n" in result


def test_gitignored_hidden_and_linked_out_files_are_skipped(work: Path) -> None:
    (work / ".gitignore").write_text(
        "# build output\nbuild/\n*.log\n!keep.log\n/top.txt\ndocs/**/*.tmp\n"
    )
    files = [
        "build/a.txt",
        "sub/build/b.txt",
        "x.log",
        "sub/y.log",
        "keep.log",
        "top.txt",
        "sub/top.txt",
        "docs/c.tmp",
        "docs/a/b/c.tmp",
        "docs/a/c.txt",
        "src/main.py",
        ".git/config",
        ".hidden/h.txt",
    ]
    for name in files:
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).write_text("needle\n")
    (work.parent / "away").mkdir()
    (work.parent / "away" / "far.txt").write_text("needle\n")
    (work / "linked-dir").symlink_to(work.parent / "away")
    (work / "alias.py").symlink_to(work / "src" / "main.py")
    ctx = ToolContext(root=work)
    kept = ["alias.py", "docs/a/c.txt", "keep.log", "src/main.py", "sub/top.txt"]
    result = call("search", {"pattern": "needle"}, ctx).splitlines()
    assert sorted(x.split(":")[0] for x in result[:-1]) == kept
    # link, environ-link and linked-dir lead out of the folder.
    assert result[-1] == "[skipped 3 link(s) leading outside the working folder]"
    listed = call("list_files", {"pattern": "**/*.*"}, ctx).splitlines()
    assert sorted(listed) == sorted([*kept, "notes.txt"])
    # From a subfolder the root's .gitignore still applies, anchored at the root.
    assert call("search", {"pattern": "needle", "path": "sub"}, ctx) == "top.txt:1: needle"
    assert "linked-dir" in call("list_files", {}, ctx).splitlines()
    assert "linked-dir/far.txt" not in call("list_files", {}, ctx)


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("*.md", "a.md", True),
        ("*.md", "docs/a.md", False),
        ("**/*.md", "a.md", True),
        ("**/*.md", "docs/deep/a.md", True),
        ("docs/**", "docs/deep/a.md", True),
        ("a?c", "abc", True),
        ("a?c", "a/c", False),
        ("[!a]x", "bx", True),
        ("[!a]x", "ax", False),
        ("[a-c]x", "bx", True),
        ("[[]x", "[x", True),
        ("a+b(c).txt", "a+b(c).txt", True),
    ],
)
def test_glob_patterns(pattern: str, path: str, matches: bool) -> None:
    assert bool(glob_regex(pattern).fullmatch(path)) is matches


# --- run_command --------------------------------------------------------------------


def test_commands_start_without_the_provider_keys(
    work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in PROVIDER_KEYS:
        monkeypatch.setenv(name, f"provider-key-of-{name}")
    monkeypatch.setenv("PROJECT_DEPLOY_TOKEN", "the-project-needs-this")
    result = call("run_command", {"command": "env"}, ToolContext(root=work))
    assert "provider-key-of-" not in result
    assert "PROJECT_DEPLOY_TOKEN=the-project-needs-this" in result
    assert result.endswith("[exit status 0]")


def test_the_withheld_keys_are_every_key_chit_can_use() -> None:
    with pytest.raises(NoCredentials) as e:
        choose({})
    named = set(re.findall(r"[A-Z_]+_API_KEY", str(e.value)))
    assert named and named <= PROVIDER_KEYS
    assert "ANTHROPIC_AUTH_TOKEN" in PROVIDER_KEYS  # the Anthropic SDK's own bearer token


def test_command_output_keeps_head_and_tail_within_the_cap(work: Path) -> None:
    command = "echo FIRST; head -c 1000000 /dev/zero | tr '\\0' m; echo; echo LAST"
    result = call("run_command", {"command": command}, ToolContext(root=work))
    assert len(result) <= MAX_RESULT
    assert result.startswith("FIRST\nmmm")
    assert result.endswith("mmm\nLAST\n\n[exit status 0]")
    total = len("FIRST\n") + 1_000_000 + len("\nLAST\n")
    kept = result.count("m") + len("FIRST\n\nLAST\n")
    assert f"[... {total - kept:,} bytes of output cut ...]" in result


def test_a_command_printing_200_mb_keeps_memory_bounded(work: Path) -> None:
    script = """
import json, resource, sys
from pathlib import Path
from chit.agent.tools import ToolContext
from chit.agent.tools.command import run_command

before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
out = run_command({"command": "yes | head -c 200000000"}, ToolContext(root=Path(sys.argv[1])))
grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
print(json.dumps({"grown_kb": grown, "length": len(out), "end": out[-120:]}))
"""
    r = subprocess.run(
        [sys.executable, "-c", script, str(work)], capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    assert got["grown_kb"] < 20_000  # the output is 200,000 KB
    assert got["length"] <= MAX_RESULT
    assert got["end"].endswith("y\ny\n\n[exit status 0]")


def test_a_command_past_its_timeout_is_stopped(work: Path) -> None:
    start = time.monotonic()
    result = call("run_command", {"command": "echo started; sleep 30"}, ToolContext(work, 0.5))
    assert time.monotonic() - start < 5
    assert result == "started\n\n[stopped after 0.5 s]"


def test_ctrl_c_stops_a_running_command_and_its_children(work: Path) -> None:
    main = threading.main_thread().ident
    assert main is not None
    timer = threading.Timer(0.5, signal.pthread_kill, (main, signal.SIGINT))
    start = time.monotonic()
    with ctrl_c_raises(), pytest.raises(KeyboardInterrupt):
        timer.start()
        call("run_command", {"command": "sleep 30 & echo $! > child; wait"}, ToolContext(work))
    assert time.monotonic() - start < 5
    child = int((work / "child").read_text())
    deadline = time.monotonic() + 5
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0]
    return status != "Z"  # killed, not yet reaped by init
