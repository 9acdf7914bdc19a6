"""The chat in a real pseudo-terminal against the replay server, read through a terminal
emulator: what a person sees on the screen."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import wire
from helpers import CHIT, KEY, env_for
from replay import ReplayServer, Reply
from terminal import start

MARKDOWN = "## Plan\n\nSome **bold** text:\n\n- one\n- two\n\n```python\nprint(1)\n```\n\nDone."
#: An SGR sequence that sets a colour (foreground, background, 256 or true colour).
COLOUR = re.compile(rb"\x1b\[(?:[0-9;]*;)?(?:3[0-9]|4[0-9]|9[0-7]|10[0-7])(?:;[0-9;]*)?m")


def lines_with(screen: str, needle: str) -> list[str]:
    return [line for line in screen.splitlines() if needle in line]


def test_answer_is_rendered_markdown_with_a_toolbar(replay: ReplayServer, tmp_path: Path) -> None:
    replay.queue(
        Reply(
            body=wire.anthropic(MARKDOWN, input_tokens=1200, cache_read=1000, output_tokens=7),
            chunk_size=50,
            delay=0.01,
        )
    )
    t = start(replay, tmp_path)
    toolbar = t.settle().splitlines()[-1]
    assert "claude-sonnet-4-5 · 0 tokens" in toolbar  # at the bottom before anything is sent
    t.type("hi there\r")
    screen = t.wait_for("2,207 tokens (1,000 cached) · $0.0040")
    screen = t.settle()
    answer = screen[screen.index("› hi there") : screen.index("2,207 tokens")]
    for shown in ("Plan", "Some bold text:", "• one", "• two", "print(1)", "Done."):
        assert shown in answer
    for raw in ("##", "**", "```", "- one"):
        assert raw not in answer
    toolbar = screen.splitlines()[-1]
    assert "claude-sonnet-4-5" in toolbar
    assert "context 1% of 200k" in toolbar  # 2,207 of the model's 200,000 tokens
    assert "2,207 tokens · $0.0040" in toolbar
    # The code is highlighted: `print` is drawn in a colour of its own.
    row = next(y for y, line in enumerate(screen.splitlines()) if "print(1)" in line)
    x = screen.splitlines()[row].index("print")
    assert t.screen.buffer[row][x].fg != t.screen.buffer[row][x + 6].fg
    t.type("\x04")
    assert t.exit_status() == 0


def test_commands_any_case_leading_space_and_nearest(replay: ReplayServer, tmp_path: Path) -> None:
    t = start(replay, tmp_path)
    t.type(" /help\r")
    t.wait_for("/thinking")
    t.type("/USAGE\r")
    t.wait_for("this run")
    t.type("/usgae\r")
    t.wait_for("unknown command /usgae: did you mean /usage?")
    t.type("/us")  # the commands that fit show as one types; Tab takes the first
    t.wait_for("/usage  Tokens and cost")
    t.type("\t")
    t.wait_for("› /usage")
    t.type("\x03")  # Ctrl-C on a line with text clears it ...
    t.type("\x03")  # ... then on the empty line asks to press it again ...
    t.wait_for("press Ctrl-C again or Ctrl-D to leave")
    t.type("\x03")  # ... and the second leaves
    assert t.exit_status() == 0


def test_a_diff_before_an_edit_and_the_edit_applied_on_yes(
    replay: ReplayServer, tmp_path: Path
) -> None:
    (tmp_path / "app.py").write_text("def greet():\n    return 'hello'\n\nprint(greet())\n")
    edit = {"path": "app.py", "old": "return 'hello'", "new": "return 'good day'"}
    new = {"path": "notes.md", "content": "# Notes\n\nfirst line\nsecond line\n"}
    replay.queue(
        Reply(body=wire.anthropic("Changing it.", [("tu_1", "edit_file", edit)])),
        Reply(body=wire.anthropic("", [("tu_2", "write_file", new)])),
        Reply(body=wire.anthropic("All done.")),
    )
    t = start(replay, tmp_path)
    t.type("be polite\r")
    screen = t.wait_for("Allow edit_file? [Y/n/a]")
    assert "● edit_file app.py" in screen
    rows = screen.splitlines()
    minus = next(y for y, line in enumerate(rows) if line.startswith("-    return 'hello'"))
    plus = next(y for y, line in enumerate(rows) if line.startswith("+    return 'good day'"))
    assert t.screen.buffer[minus][0].fg == "red"
    assert t.screen.buffer[plus][0].fg == "green"
    assert " def greet():" in screen  # context around the change
    t.type("\r")  # Enter is yes
    screen = t.wait_for("Allow write_file? [Y/n/a]")
    assert "replaced 1 occurrence(s)" in screen
    assert (tmp_path / "app.py").read_text().startswith("def greet():\n    return 'good day'")
    assert "new file notes.md · 4 lines" in screen
    assert "first line" in screen
    t.type("maybe\r")  # not an answer: asked again
    t.wait_for("answer y (yes), n (no) or a (always, for this tool)")
    t.type("\x04")  # Ctrl-D is no
    t.wait_for("All done.")
    screen = t.wait_for("the user refused permission")
    assert not (tmp_path / "notes.md").exists()
    t.type("/exit\r")
    assert t.exit_status() == 0


def test_resume_shows_the_last_exchange_and_usage_side_by_side(
    replay: ReplayServer, tmp_path: Path
) -> None:
    replay.queue(Reply(body=wire.anthropic("The **first** answer.", input_tokens=1200)))
    t = start(replay, tmp_path)
    t.type("first question\r")
    t.wait_for("first answer.")
    t.settle()  # back at the prompt (keys typed while an answer streams wait for it)
    t.type("\x04")
    assert t.exit_status() == 0

    replay.queue(
        Reply(body=wire.anthropic("Second.", input_tokens=300, output_tokens=20)),
        Reply(body=wire.anthropic("Third.", input_tokens=40_000, cache_read=2, output_tokens=3)),
    )
    t = start(replay, tmp_path, "-c", cols=80)
    screen = t.settle()
    assert "› first question" in screen
    assert "The first answer." in screen
    assert "resumed · 1 turn(s) · 1,205 tokens" in screen
    t.type("second\r")
    t.wait_for("Second.")
    t.settle()
    t.type("third\r")
    t.wait_for("Third.")
    t.wait_for("›")
    t.type("/usage\r")
    screen = t.wait_for("saved by caching")
    rows = {line.split("  ")[0].strip(): line.split() for line in screen.splitlines()}
    assert screen.splitlines()[lines_index(screen, "this turn")].split() == [
        "this",
        "turn",
        "this",
        "run",
        "session",
    ]
    assert rows["input (all)"][-3:] == ["40,002", "40,302", "41,502"]
    assert rows["output"][-3:] == ["3", "23", "28"]
    assert rows["requests"][-3:] == ["1", "2", "3"]
    assert len(rows["cost"]) == 4  # exact dollars, three columns
    assert all(len(line) <= 80 for line in screen.splitlines())
    t.type("\x04")
    assert t.exit_status() == 0


def lines_index(screen: str, needle: str) -> int:
    return next(i for i, line in enumerate(screen.splitlines()) if needle in line)


def test_ctrl_c_mid_stream_comes_back_to_the_prompt_and_records_it(
    replay: ReplayServer, tmp_path: Path
) -> None:
    replay.queue(
        Reply(body=wire.anthropic("slow words " * 300, input_tokens=50), chunk_size=60, delay=0.05),
        Reply(body=wire.anthropic("still here")),
    )
    t = start(replay, tmp_path)
    t.type("talk\r")
    t.wait_for("slow words")
    t.type("\x03")
    screen = t.wait_for("· interrupted")
    assert "Traceback" not in screen
    t.wait_for("›")
    t.type("go on\r")
    t.wait_for("still here")
    t.settle()
    t.type("\x04")
    assert t.exit_status() == 0
    out = subprocess.run(
        [*CHIT, "usage", "--json"],
        capture_output=True,
        text=True,
        env=env_for(tmp_path),
        timeout=60,
    )
    report = json.loads(out.stdout)
    assert report["requests"] == 2
    assert report["unknown"] == {"input_tokens": 0, "output_tokens": 1}  # the cut one


def test_no_color_gives_no_colour_codes(replay: ReplayServer, tmp_path: Path) -> None:
    replay.queue(Reply(body=wire.anthropic(MARKDOWN)))
    t = start(replay, tmp_path, NO_COLOR="1")
    t.type("hi\r")
    screen = t.wait_for("Done.")
    t.settle()
    assert "print(1)" in screen and "**" not in screen
    t.type("/usage\r")
    t.wait_for("saved by caching")
    t.type("\x04")
    assert t.exit_status() == 0
    assert COLOUR.search(bytes(t.raw)) is None


def test_history_is_redacted_and_private(replay: ReplayServer, tmp_path: Path) -> None:
    tmp_path.chmod(0o755)  # an existing home too open: chit closes it
    replay.queue(Reply(body=wire.anthropic("noted")))
    t = start(replay, tmp_path)
    t.type(f"my key is {KEY} ok\r")
    t.wait_for("noted")
    t.settle()
    t.type("\x04")
    assert t.exit_status() == 0
    history = tmp_path / "history"
    assert KEY not in history.read_text()
    assert "my key is [redacted] ok" in history.read_text()
    assert history.stat().st_mode & 0o777 == 0o600
    assert tmp_path.stat().st_mode & 0o777 == 0o700


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


def test_a_read_outside_the_folder_asks_first(replay: ReplayServer, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (tmp_path / "secret.txt").write_text("the-secret-outside\n")
    (work / "link.txt").symlink_to(tmp_path / "secret.txt")
    replay.queue(
        Reply(body=wire.anthropic("", [("tu_1", "read_file", {"path": "../secret.txt"})])),
        Reply(body=wire.anthropic("", [("tu_2", "read_file", {"path": "link.txt"})])),
        Reply(body=wire.anthropic("Read it.")),
    )
    t = start(replay, work)
    t.type("read them\r")
    screen = t.wait_for("Allow read_file? [Y/n/a]")
    assert "../secret.txt" in screen
    t.type("n\r")
    # A symlink out of the folder is outside too: asked again, and allowed this time.
    t.wait_for("link.txt")
    t.wait_for("the user refused permission")
    t.type("y\r")
    t.wait_for("Read it.")
    refused = replay.received[1].json["messages"][-1]["content"][0]
    assert refused["is_error"] is True and "refused" in json.dumps(refused)
    assert "the-secret-outside" not in replay.received[1].body.decode()
    assert "the-secret-outside" in replay.received[2].body.decode()
    t.type("\x04")
    assert t.exit_status() == 0
