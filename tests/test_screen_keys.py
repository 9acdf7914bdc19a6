"""The chat's keys and streams in a real pseudo-terminal, read through a terminal emulator:
TERM=dumb, Ctrl-R, path completion, bracketed paste, keys typed ahead, reasoning as it
streams and the ``/thinking`` toggle."""

from __future__ import annotations

import re
from pathlib import Path

import wire
from replay import ReplayServer, Reply
from terminal import start

#: Any escape sequence: CSI (colours, cursor moves, modes), OSC, or ESC and one character.
ESCAPE = re.compile(rb"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07]*\x07|[@-Z\\-_])")
#: An SGR sequence that turns on dim (2) and italic (3), as rich writes "dim italic".
DIM_ITALIC = re.compile(rb"\x1b\[(?:[0-9;]*;)?2;3(?:;[0-9;]*)?m")


def said(replay: ReplayServer, n: int) -> list[str]:
    """The text of each user message of request ``n``, as the provider received it."""
    out = []
    for m in replay.received[n].json["messages"]:
        if m["role"] == "user":
            content = m["content"]
            blocks = [content] if isinstance(content, str) else [b.get("text", "") for b in content]
            out.append("".join(b if isinstance(b, str) else "" for b in blocks))
    return out


def steps(word: str) -> str:
    return "\n".join(f"{word} {n}: weigh option {n} against the rest." for n in range(1, 7))


def stalled_after_reasoning(thinking: str, text: str) -> Reply:
    """An answer whose stream stops for a while once the reasoning is sent, so the screen
    can be read while the reasoning is still streaming."""
    body = wire.anthropic(text, thinking=thinking)
    text_starts = body.index(b'"content_block": {"type": "text"')
    return Reply(
        body=body, chunk_size=200, pause_after=body.rindex(b"\n\n", 0, text_starts) + 2, pause=1.5
    )


def test_dumb_terminal_gets_plain_text(replay: ReplayServer, tmp_path: Path) -> None:
    replay.queue(
        Reply(body=wire.anthropic("## Plan\n\nSome **bold** text.", thinking=steps("step")))
    )
    t = start(replay, tmp_path, TERM="dumb")
    t.type("hi\r")
    t.wait_for("claude-sonnet-4-5-20250929 · 15 tokens")
    screen = t.settle()
    assert "step 1: weigh option 1" in screen and "step 6: weigh option 6" in screen
    assert "Some **bold** text." in screen  # written as it came: no rendering, no codes
    t.type("/usage\r")
    t.wait_for("saved by caching")
    t.settle()  # at the prompt: a Ctrl-D typed before it is the terminal's end-of-file
    t.type("\x04")
    assert t.exit_status() == 0
    assert ESCAPE.search(bytes(t.raw)) is None, bytes(t.raw)[:200]


def test_ctrl_r_finds_an_earlier_prompt_in_the_history_file(
    replay: ReplayServer, tmp_path: Path
) -> None:
    (tmp_path / "history").write_text(
        "\n# 2026-01-01 10:00:00.000000\n+explain the build script\n"
        "\n# 2026-01-01 10:05:00.000000\n+list the tests\n"
    )
    replay.queue(Reply(body=wire.anthropic("It builds.")))
    t = start(replay, tmp_path)
    t.type("\x12tests")  # Ctrl-R, then what to find
    t.wait_for("› list the tests")
    t.type("\x03")  # Ctrl-C gives the search up (it does not leave, nor ask to)
    screen = t.settle()
    assert "I-search" not in screen and "list the tests" not in screen
    assert "press Ctrl-C again" not in screen
    t.type("\x12")
    t.type("build")
    screen = t.wait_for("explain the build script")
    assert "list the tests" not in screen
    t.type("\r")  # takes the found line ...
    t.wait_for("› explain the build script")
    t.settle()
    assert not replay.received
    t.type("\r")  # ... and Enter sends it
    t.wait_for("It builds.")
    assert said(replay, 0) == ["explain the build script"]
    t.settle()
    t.type("\x04")
    assert t.exit_status() == 0


def test_tab_completes_a_path_in_the_working_folder(replay: ReplayServer, tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "architecture_notes.md").write_text("# notes\n")
    replay.queue(Reply(body=wire.anthropic("Read.")))
    t = start(replay, tmp_path)
    t.type("summarise @docs/arch")
    t.settle()
    t.type("\t")
    t.wait_for("› summarise @docs/architecture_notes.md")
    t.type("\r")  # Enter takes the completion; the line is not sent yet
    t.settle()
    assert not replay.received
    t.type(" please\r")
    t.wait_for("Read.")
    assert said(replay, 0) == ["summarise @docs/architecture_notes.md please"]
    t.settle()
    t.type("\x04")
    assert t.exit_status() == 0


def test_pasted_lines_stay_one_message(replay: ReplayServer, tmp_path: Path) -> None:
    replay.queue(Reply(body=wire.anthropic("Reviewed.")))
    t = start(replay, tmp_path)
    t.type("review this:\r")  # not pasted: Enter sends ...
    t.wait_for("Reviewed.")
    t.settle()
    replay.queue(Reply(body=wire.anthropic("Pasted.")))
    # ... but pasted, a terminal sends Enter as \r inside ESC[200~ ... ESC[201~.
    t.type("\x1b[200~def f():\r    return 1\r\rprint(f())\x1b[201~")
    screen = t.wait_for("print(f())")
    assert "    return 1" in screen and len(replay.received) == 1
    t.type("\r")
    t.wait_for("Pasted.")
    assert said(replay, 1)[-1] == "def f():\n    return 1\n\nprint(f())"
    assert len(replay.received) == 2
    t.settle()
    t.type("\x04")
    assert t.exit_status() == 0


def test_a_command_typed_while_an_answer_streams_runs_at_the_next_prompt(
    replay: ReplayServer, tmp_path: Path
) -> None:
    replay.queue(Reply(body=wire.anthropic("slow words " * 60), chunk_size=200, delay=0.05))
    t = start(replay, tmp_path)
    t.type("talk\r")
    t.wait_for("slow words")
    t.type("/usage\r")  # Enter typed ahead is Enter at the prompt, not a new line
    t.wait_for("saved by caching")
    assert len(replay.received) == 1
    t.settle()
    t.type("\x04")
    assert t.exit_status() == 0


def test_reasoning_streams_dimmed_then_folds_and_thinking_toggles_it(
    replay: ReplayServer, tmp_path: Path
) -> None:
    replay.queue(stalled_after_reasoning(steps("step"), "The answer."))
    t = start(replay, tmp_path)
    t.type("decide\r")
    screen = t.wait_for("step 6: weigh")
    t.settle(quiet=0.2, timeout=1)
    screen = t.text
    assert "The answer." not in screen  # still reasoning ...
    assert "step 3:" in screen and "step 1:" not in screen  # ... its last four lines
    assert "reasoning…" in screen
    rows = screen.splitlines()
    row = next(y for y, line in enumerate(rows) if "step 6:" in line)
    assert t.screen.buffer[row][rows[row].index("step 6")].italics
    assert DIM_ITALIC.search(bytes(t.raw))
    screen = t.wait_for("The answer.")
    words = len(steps("step").split())
    screen = t.wait_for(f"✻ thought for {words} words · /thinking shows it")
    assert "step " not in screen  # folded

    t.type("/thinking\r")  # the last reasoning in full, and in full from now on
    screen = t.wait_for("reasoning shown in full from now on")
    assert all(f"step {n}: weigh option {n}" in screen for n in range(1, 7))
    replay.queue(stalled_after_reasoning(steps("stage"), "Second answer."))
    t.type("again\r")
    t.wait_for("stage 6: weigh")
    t.settle(quiet=0.2, timeout=1)
    assert all(f"stage {n}: weigh" in t.text for n in range(1, 7))  # every line as it streams
    t.wait_for("Second answer.")
    screen = t.settle()
    assert all(f"stage {n}: weigh" in screen for n in range(1, 7))  # and left in full
    assert screen.count("thought for") == 1
    t.type("/thinking\r")
    t.wait_for("reasoning folded to one line from now on")
    t.settle()
    t.type("\x04")
    assert t.exit_status() == 0
