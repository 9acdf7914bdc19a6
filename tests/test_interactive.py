"""The interactive terminal in a real pseudo-terminal, against the replay server."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pexpect
import wire
from helpers import CHIT
from replay import ReplayServer, Reply

TIMEOUT = 15


def spawn(replay: ReplayServer, home: Path, *args: str) -> pexpect.spawn:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env.update(
        CHIT_HOME=str(home), ANTHROPIC_API_KEY="test", TERM="xterm", PROMPT_TOOLKIT_NO_CPR="1"
    )
    child = pexpect.spawn(
        CHIT[0],
        [*CHIT[1:], "--provider", "anthropic", "--base-url", replay.url, *args],
        env=env,
        cwd=str(home),
        dimensions=(40, 120),
        encoding="utf-8",
        timeout=TIMEOUT,
    )
    child.expect("/help for commands")
    child.expect("›")
    return child


def test_chat_usage_help_and_exit(replay: ReplayServer, tmp_path: Path) -> None:
    replay.queue(
        Reply(
            body=wire.anthropic(
                "Hello from the replay.", input_tokens=1200, cache_read=1000, output_tokens=7
            )
        )
    )
    child = spawn(replay, tmp_path)
    child.sendline("hi there")
    child.expect("Hello from the replay.")
    child.expect(r"2,207 tokens \(1,000 cached\)")
    child.expect("›")
    child.sendline("/help")
    for name in ("/exit", "/help", "/usage"):
        child.expect(name)
    child.expect("›")
    child.sendline("/nope")
    child.expect("unknown command /nope: try /help")
    child.sendline("/usage")
    child.expect("2,200")  # the session's input tokens appear in the report
    child.expect("›")
    child.sendline("/exit")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_permission_prompt_and_resume(replay: ReplayServer, tmp_path: Path) -> None:
    call = [("tu_1", "write_file", {"path": "out.txt", "content": "yes"})]
    replay.queue(
        Reply(body=wire.anthropic("", call)),
        Reply(body=wire.anthropic("refused ok")),
        Reply(body=wire.anthropic("", call)),
        Reply(body=wire.anthropic("written")),
    )
    child = spawn(replay, tmp_path)
    child.sendline("write it")
    child.expect(r"allow write_file .*\? \[y/n/a\]")
    child.sendline("n")
    child.expect("refused ok")
    assert not (tmp_path / "out.txt").exists()
    child.sendline("write it again")
    child.expect(r"allow write_file .*\? \[y/n/a\]")
    child.sendline("y")
    child.expect("written")
    child.expect("›")
    assert (tmp_path / "out.txt").read_text() == "yes"
    child.sendeof()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0

    replay.queue(Reply(body=wire.anthropic("back again")))
    child = spawn(replay, tmp_path, "-c")
    child.sendline("hello")
    child.expect("back again")
    roles = [m["role"] for m in replay.received[-1].json["messages"]]
    assert len(roles) == 9  # the resumed conversation was sent
    child.sendline("/exit")
    child.expect(pexpect.EOF)


def test_ctrl_c_stops_the_answer_and_keeps_the_session(
    replay: ReplayServer, tmp_path: Path
) -> None:
    replay.queue(
        Reply(body=wire.anthropic("slow words " * 300, input_tokens=50), chunk_size=60, delay=0.05)
    )
    child = spawn(replay, tmp_path)
    child.sendline("talk")
    child.expect("slow words")
    child.sendintr()
    child.expect("interrupted")
    child.expect("›")
    child.sendline("/exit")
    child.expect(pexpect.EOF)
    out = subprocess.run(
        [*CHIT, "usage", "--json"],
        capture_output=True,
        text=True,
        env={**os.environ, "CHIT_HOME": str(tmp_path)},
        timeout=60,
    )
    report = json.loads(out.stdout)
    assert report["requests"] == 1
    assert report["usage"]["input_tokens"] == 50
    assert report["usage"]["output_tokens"] is None  # cut short: never reported
    assert report["unknown"] == {"input_tokens": 0, "output_tokens": 1}


def test_without_a_terminal_it_says_to_use_print_mode(tmp_path: Path) -> None:
    env = {**os.environ, "CHIT_HOME": str(tmp_path), "ANTHROPIC_API_KEY": "x"}
    r = subprocess.run(
        CHIT,
        stdin=subprocess.DEVNULL,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2
    assert "chit -p" in r.stderr and "Traceback" not in r.stderr
