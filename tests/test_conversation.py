"""Steering the conversation in a real pseudo-terminal against the replay server: /model,
/rewind (files too), /fork, /export and /clear, checked by what the provider receives and
what lands on disk."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import wire
from helpers import CHIT, env_for
from replay import ReplayServer, Reply
from terminal import Terminal

HAIKU = "claude-haiku-4-5-20251001"


def start(replay: ReplayServer, home: Path, *args: str, **kw: Any) -> Terminal:
    t = Terminal(replay, home, *args, **kw)
    t.wait_for("/help for commands")
    t.wait_for("›")
    return t


def say(t: Terminal, text: str, shown: str) -> str:
    """Send a message, wait for ``shown`` and for the prompt to come back."""
    t.type(text + "\r")
    t.wait_for(shown)
    return t.settle()


def leave(t: Terminal) -> None:
    t.type("\x04")
    assert t.exit_status() == 0


def sessions(home: Path) -> list[dict[str, Any]]:
    out = subprocess.run(
        [*CHIT, "sessions", "--json"], capture_output=True, text=True, env=env_for(home), timeout=60
    )
    assert out.returncode == 0, out.stderr
    listed: list[dict[str, Any]] = json.loads(out.stdout)
    return listed


def lines_of(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def user_texts(body: dict[str, Any]) -> list[str]:
    """The user prompts a request sent, in order (tool results left out)."""
    out = []
    for m in body["messages"]:
        if m["role"] != "user":
            continue
        content = m["content"]
        if isinstance(content, str):
            out.append(content)
        else:
            out += [b["text"] for b in content if b.get("type") == "text"]
    return out


def test_model_switches_mid_session(replay: ReplayServer, tmp_path: Path) -> None:
    listing = {"data": [{"id": HAIKU, "type": "model"}], "has_more": False}
    replay.queue(
        Reply(body=wire.anthropic("from sonnet", input_tokens=100)),
        Reply(body=json.dumps(listing).encode(), content_type="application/json"),
        Reply(body=wire.anthropic("from haiku", model=HAIKU, input_tokens=200)),
    )
    t = start(replay, tmp_path, ANTHROPIC_BASE_URL=replay.url, CHIT_LOCAL_SERVERS="")
    say(t, "first", "from sonnet")
    t.type("/model\r")  # the models known: the endpoint in use lists its own
    screen = t.wait_for("/model NAME switches")
    assert HAIKU in screen
    assert replay.received[1].path == "/v1/models?limit=1000"
    t.type("/model claude-haiku-4-5\r")
    t.wait_for("now using claude-haiku-4-5 (anthropic)")
    assert "claude-haiku-4-5" in t.settle().splitlines()[-1]  # the toolbar follows
    screen = say(t, "second", "from haiku")
    sent = replay.received[2].json
    assert sent["model"] == "claude-haiku-4-5"
    assert user_texts(sent) == ["first", "second"]  # the same conversation goes on
    assert "context 0% of 200k" in screen.splitlines()[-1]  # haiku's window, looked up again
    t.type("/model claude-instant-1.2\r")  # a model whose window genai-prices does not know
    t.wait_for("now using claude-instant-1.2")
    toolbar = t.settle().splitlines()[-1]
    # Its window unknown, the context is shown as a count only, not as a share.
    assert "claude-instant-1.2" in toolbar and "context 205 tokens" in toolbar
    assert "%" not in toolbar
    leave(t)
    [info] = sessions(tmp_path)
    assert info["models"] == ["claude-sonnet-4-5-20250929", HAIKU]  # usage stays per model
    events = [e for e in lines_of(Path(info["session_file"])) if e["type"] == "model"]
    assert [(e["provider"], e["model"], e["base_url"]) for e in events] == [
        ("anthropic", "claude-haiku-4-5", replay.url)
    ]  # the switch to claude-instant-1.2 had no turn after it: it waited, and was not written
    # Resumed, the session goes on with the model it last used.
    replay.queue(Reply(body=wire.anthropic("still haiku", model=HAIKU)))
    t = start(replay, tmp_path, "-c", ANTHROPIC_BASE_URL=replay.url)
    say(t, "third", "still haiku")
    assert replay.received[3].json["model"] == "claude-haiku-4-5"
    leave(t)


def test_model_refuses_an_unpriced_model_under_a_cost_budget(
    replay: ReplayServer, tmp_path: Path
) -> None:
    replay.queue(Reply(body=wire.anthropic("priced")))
    t = start(replay, tmp_path, "--max-cost", "1")
    t.type("/model my-own-model\r")
    t.wait_for("a cost budget cannot be kept for my-own-model")
    say(t, "go", "priced")  # still on the model it had
    assert replay.received[0].json["model"] == "claude-sonnet-4-5"
    leave(t)


def test_rewind_lists_turns_and_sends_turn_one_and_the_new_prompt(
    replay: ReplayServer, tmp_path: Path
) -> None:
    replay.queue(
        Reply(body=wire.anthropic("answer one", input_tokens=1000)),
        Reply(body=wire.anthropic("answer two", input_tokens=2000)),
        Reply(body=wire.anthropic("answer three")),
    )
    t = start(replay, tmp_path)
    say(t, "the first question", "answer one")
    say(t, "the second question", "answer two")
    t.type("/rewind\r")
    screen = t.wait_for("/rewind N goes back")
    assert any(
        line.split()[:4] == ["1", "the", "first", "question"] for line in screen.splitlines()
    )
    assert "1,005 tokens" in screen and "2,005 tokens" in screen
    t.type("/rewind 1\r")
    t.wait_for("back to after turn 1: 1 turn(s)")
    say(t, "a third question", "answer three")
    sent = replay.received[2].json
    assert user_texts(sent) == ["the first question", "a third question"]
    assert "answer two" not in json.dumps(sent)
    t.type("/rewind\r")
    screen = t.settle()
    listing = screen[screen.rindex("› /rewind") :].splitlines()[1:3]
    assert [line.split()[:2] for line in listing] == [["1", "the"], ["3", "a"]]  # never reused
    t.type("/rewind 7\r")
    t.wait_for("there is no turn 7 to go back to")
    t.type("/usage\r")
    screen = t.wait_for("saved by caching")
    assert "3,025 tokens" in t.settle().splitlines()[-1]  # the rewound turn's still count
    assert "requests" in screen and screen.count(" 3 ") >= 1
    leave(t)


def test_rewind_restores_the_files_a_tool_changed(replay: ReplayServer, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "notes.md").write_text("kept line\nas it was\n")
    edit = {"path": "notes.md", "old": "as it was", "new": "changed in turn 2"}
    replay.queue(
        Reply(body=wire.anthropic("turn one")),
        Reply(body=wire.anthropic("", [("tu_1", "edit_file", edit)])),
        Reply(
            body=wire.anthropic("", [("tu_2", "write_file", {"path": "new.txt", "content": "x"})])
        ),
        Reply(body=wire.anthropic("Both done.")),
        Reply(body=wire.anthropic("after the rewind")),
    )
    t = start(replay, work)
    say(t, "hello", "turn one")
    t.type("change them\r")
    t.wait_for("Allow edit_file? [Y/n/a]")
    t.type("y\r")
    t.wait_for("Allow write_file? [Y/n/a]")
    t.type("y\r")
    t.wait_for("Both done.")
    t.settle()
    assert (work / "notes.md").read_text() == "kept line\nchanged in turn 2\n"
    assert (work / "new.txt").read_text() == "x"
    t.type("/rewind 1\r")
    screen = t.wait_for("Restore these files? [y/N]")
    assert "notes.md · changed in turn 2 · restore it" in screen
    assert "new.txt · changed in turn 2 · remove it (it did not exist)" in screen
    t.type("y\r")
    t.wait_for("restored 2 file(s)")
    assert (work / "notes.md").read_text() == "kept line\nas it was\n"
    assert not (work / "new.txt").exists()
    say(t, "and now", "after the rewind")
    assert user_texts(replay.received[4].json) == ["hello", "and now"]
    leave(t)
    # The content is kept beside the session, by its hash, never in the journal.
    [info] = sessions(work)
    path = Path(info["session_file"])
    kept = [e for e in lines_of(path) if e["type"] == "snapshot"]
    assert [(Path(e["path"]).name, e["turn"], e["sha256"] is None) for e in kept] == [
        ("notes.md", 2, False),
        ("new.txt", 2, True),
    ]
    folder = path.with_name(path.stem + ".files")
    assert folder.stat().st_mode & 0o777 == 0o700
    blob = folder / kept[0]["sha256"]
    assert blob.read_bytes() == b"kept line\nas it was\n"
    assert blob.stat().st_mode & 0o777 == 0o600
    assert "kept line" not in path.read_text()


def test_rewind_leaves_the_files_on_no(replay: ReplayServer, tmp_path: Path) -> None:
    new = {"path": "made.txt", "content": "made in turn 1"}
    replay.queue(
        Reply(body=wire.anthropic("", [("tu_1", "write_file", new)])),
        Reply(body=wire.anthropic("Made.")),
    )
    t = start(replay, tmp_path)
    t.type("make it\r")
    t.wait_for("Allow write_file? [Y/n/a]")
    t.type("y\r")
    t.wait_for("Made.")
    t.settle()
    t.type("/rewind 0\r")
    t.wait_for("Restore these files? [y/N]")
    t.type("\r")
    t.wait_for("files left as they are")
    assert (tmp_path / "made.txt").read_text() == "made in turn 1"
    leave(t)


def test_fork_goes_on_in_a_new_session_naming_its_parent(
    replay: ReplayServer, tmp_path: Path
) -> None:
    replay.queue(
        Reply(body=wire.anthropic("before the fork")),
        Reply(body=wire.anthropic("in the fork")),
        Reply(body=wire.anthropic("a fork of the fork")),
    )
    t = start(replay, tmp_path)
    say(t, "one", "before the fork")
    [parent] = sessions(tmp_path)
    before = Path(parent["session_file"]).read_bytes()
    t.type("/fork\r")
    screen = t.wait_for("forked: now in session")
    line = next(line for line in screen.splitlines() if "forked: now in session" in line)
    fork_id = line.split("session ")[1].split()[0]
    say(t, "two", "in the fork")
    assert user_texts(replay.received[1].json) == ["one", "two"]
    leave(t)
    assert Path(parent["session_file"]).read_bytes() == before  # the old one is as it was
    listed = {s["session_id"]: s for s in sessions(tmp_path)}
    assert listed[fork_id]["forked_from"] == parent["session_id"]
    assert listed[fork_id]["turns"] == 2
    # chit -c --fork does the same at start: a third session naming the second.
    t = start(replay, tmp_path, "-c", "--fork")
    say(t, "three", "a fork of the fork")
    assert user_texts(replay.received[2].json) == ["one", "two", "three"]
    leave(t)
    forks = [s["forked_from"] for s in sessions(tmp_path)]
    assert sorted(forks, key=str) == sorted([None, parent["session_id"], fork_id], key=str)


def test_export_writes_markdown_with_usage_per_turn(replay: ReplayServer, tmp_path: Path) -> None:
    replay.queue(
        Reply(body=wire.anthropic("", [("tu_1", "read_file", {"path": "a.txt"})])),
        Reply(body=wire.anthropic("It says **hello**.", input_tokens=1200, cache_read=1000)),
    )
    (tmp_path / "a.txt").write_text("hello\n")
    t = start(replay, tmp_path)
    say(t, "what is in a.txt?", "It says")
    [info] = sessions(tmp_path)
    id8 = info["session_id"][:8]
    t.type("/export\r")
    t.wait_for(f"wrote {tmp_path / f'chit-{id8}.md'}")
    t.type("/export\r")  # never over the first: numbered
    t.wait_for(f"chit-{id8}-2.md")
    t.type("/export notes.md\r")
    t.wait_for("wrote")
    t.type("/export notes.md\r")
    t.wait_for("notes.md exists: name another file")
    leave(t)
    text = (tmp_path / f"chit-{id8}.md").read_text()
    assert text == (tmp_path / f"chit-{id8}-2.md").read_text()
    assert text.startswith(f"# chit session {id8}")
    assert "## Turn 1" in text
    assert "> what is in a.txt?" in text
    assert "It says **hello**." in text
    assert "Tool call `read_file`" in text and "Result of `read_file`" in text
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    assert rows[0] == (
        "| request | model | input (all) | cache read | cache write | output | cost |"
    )
    assert rows[1].startswith("| 1 | claude-sonnet-4-5-20250929 | 10 | 0 | 0 | 5 | $")
    assert rows[2].startswith("| 2 | claude-sonnet-4-5-20250929 | 2,200 | 1,000 | 0 | 5 | $")
    assert rows[3].startswith("| **turn** | 2 request(s) | 2,210 | 1,000 | 0 | 10 | $")
    assert rows[-1].startswith("| **session** | 2 request(s) | 2,210 |")


def test_clear_starts_a_new_session(replay: ReplayServer, tmp_path: Path) -> None:
    replay.queue(
        Reply(body=wire.anthropic("first answer")),
        Reply(body=wire.anthropic("fresh answer")),
    )
    t = start(replay, tmp_path)
    say(t, "before", "first answer")
    [old] = sessions(tmp_path)
    t.type("/clear\r")
    t.wait_for(f"the last one is kept: chit -r {old['session_id'][:8]}")
    screen = say(t, "after", "fresh answer")
    assert user_texts(replay.received[1].json) == ["after"]
    assert "15 tokens" in screen.splitlines()[-1]  # the toolbar counts the new session
    t.type("/usage\r")
    t.wait_for("1 turn(s)")
    leave(t)
    listed = {s["session_id"]: s for s in sessions(tmp_path)}
    assert len(listed) == 2
    assert listed[old["session_id"]]["turns"] == 1
    [new] = [s for s in listed.values() if s["session_id"] != old["session_id"]]
    assert new["turns"] == 1 and new["forked_from"] is None
