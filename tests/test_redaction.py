"""No credential value reaches a file chit writes, whatever characters it holds: checked by
decoding every line of every file and looking into every string, keys included."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import wire
from helpers import env_for
from hypothesis import given
from hypothesis import strategies as st
from replay import ReplayServer, Reply

from chit.checkpoint import Session, load
from chit.checkpoint.journal import encode
from chit.credentials import MARK, MIN_LENGTH, credential_values, is_credential_name, redact_text
from chit.messages import AssistantTurn, Ended, Message, RequestError, ToolCall, ToolResult
from chit.pricing import Cost
from chit.state import AgentState, RequestRecord
from chit.usage import Usage

CREDENTIALS = {
    "DB_PASSWORD": 'pa"ss\\wd-123456',
    "DEPLOY_SECRET": "first-line-abc\nsecond-line-def",
    "UNICODE_TOKEN": "clé-ünï-ç😀-ключ",
    "CONTROL_API_KEY": "tab\there\x01bell\x07\x1b[0m-x",
    "SHORT_PASSWORD": "hun7",  # exactly MIN_LENGTH characters
    "ANTHROPIC_API_KEY": "sk-ant-api03-RECOGNIZABLE-0123456789",
    "STRIPE_KEY": "rk_live_0123",
}
#: Kept as they are: not credential-named, or shorter than MIN_LENGTH.
KEPT = {"MAX_TOKENS": "40960", "TOKENIZERS_PARALLELISM": "false", "TINY_TOKEN": "a7b"}


def needles() -> set[str]:
    """What must never show: each value, each line of it, and its escaped form in JSON text
    (worked out here, not by the code under test)."""
    out: set[str] = set()
    for value in CREDENTIALS.values():
        for part in (value, *value.splitlines()):
            part = part.strip()
            if len(part) >= MIN_LENGTH:
                out |= {part, json.dumps(part)[1:-1], json.dumps(part, ensure_ascii=False)[1:-1]}
    return out


def strings(value: Any) -> Iterator[str]:
    """Every string in a decoded line: keys and values, at any depth."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)


def check_every_file(folder: Path) -> list[Path]:
    """Decode every line of every file under ``folder``; no string holds a credential."""
    files = [p for p in folder.rglob("*") if p.is_file()]
    assert files
    for path in files:
        data = path.read_bytes()
        for needle in needles():
            assert needle.encode() not in data, (path, needle)
        for number, line in enumerate(data.splitlines(), 1):
            for s in strings(json.loads(line)):
                for needle in needles():
                    assert needle not in s, (path, number, needle, s)
        assert path.stat().st_mode & 0o077 == 0
    return files


def escaped(text: str) -> str:
    """``text`` as JSON string content with every character a ``\\u`` escape."""
    return "".join(f"\\u{ord(c):04x}" if ord(c) < 0x10000 else json.dumps(c)[1:-1] for c in text)


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {**CREDENTIALS, **KEPT}.items():
        monkeypatch.setenv(name, value)


def test_no_line_type_holds_a_credential(tmp_path: Path, credentials: None) -> None:
    home = tmp_path / "home"
    values = list(CREDENTIALS.values())
    every = " | ".join(f"<{v}>" for v in values)
    kept = " ".join(KEPT.values())
    s = Session.create(home, cwd=f"/work/{values[0]}", provider="anthropic", model="m")
    state = AgentState(session_id=s.session_id)
    s.append_message(Message("user", text=f"my credentials: {every}; not secret: {kept}"))
    calls = tuple(
        ToolCall(f"c{i}", "run_command", json.dumps({"command": f"echo '{v}'"}))
        for i, v in enumerate(values)
    )
    answer = Message("assistant", text=f"echo: {every}", reasoning=every, tool_calls=calls)
    response = AssistantTurn(
        "anthropic",
        "m",
        Usage.reported(10, 0, 0, None, None),
        ended=Ended.ERROR,
        error=RequestError("auth", f"invalid key {values[-2]}", 401),
        extras={
            "raw_usage": [{"echo": v} for v in values],
            values[1]: "a credential as a key",
            "bytes": values[2].encode(),
            "set": set(values),
            "money": Decimal("1.25"),
        },
    )
    record = RequestRecord(1, response, Cost())
    state.record(record)
    s.append_usage(record)
    s.append_message(answer)
    results = tuple(ToolResult(c.id, c.name, f"{every}\n[exit status 0]") for c in calls)
    s.append_message(Message("tool", tool_results=results))
    state.turns = 1
    s.append_checkpoint(state)
    s.append_event("note", text=every, nested={"deep": [values, {values[3]: values}]})
    s.rewind(1)
    s.export(tmp_path / "export.jsonl")
    fork = s.fork()
    s.close()

    files = check_every_file(tmp_path)
    assert len(files) == 3
    text = s.path.read_text()
    assert MARK in text and kept in text  # the rule's other side: these stay readable
    loaded = load(fork.path)
    assert loaded.totals.usage.input_tokens == 10
    assert loaded.state.messages[0].text.startswith(f"my credentials: <{MARK}> | <{MARK}>")
    assert loaded.state.records[0].response.extras["money"] == "1.25"


def test_forks_and_exports_redact_fields_they_do_not_know(
    tmp_path: Path, credentials: None
) -> None:
    """A line chit did not write (a later version's fields, any JSON escapes) is decoded and
    redacted too, header included."""
    home = tmp_path / "home"
    s = Session.create(home, cwd="/work", provider="anthropic", model="m")
    s.append_message(Message("user", text="hi"))
    s.close()
    lines = s.path.read_text().splitlines()
    secret = CREDENTIALS["UNICODE_TOKEN"]
    other = CREDENTIALS["DEPLOY_SECRET"]
    lines[0] = lines[0][:-1] + f',"x_later_field":"{escaped(secret)}"}}'
    lines.append(
        f'{{"type":"x_later_event","x_note":"{escaped(other)}",'
        f'"x_map":{{"{escaped(secret)}":["{escaped(other)}",1,null]}},"at":"x"}}'
    )
    foreign = tmp_path / "foreign" / "written-elsewhere.jsonl"
    foreign.parent.mkdir()
    foreign.write_text("\n".join(lines) + "\n")
    opened, _ = Session.open(foreign, home)
    dest = opened.export(tmp_path / "export.jsonl")
    fork = opened.fork()
    foreign.unlink()  # written by this test, not by chit

    check_every_file(tmp_path)
    event = json.loads(dest.read_text().splitlines()[-1])
    assert event == {
        "type": "x_later_event",
        "x_note": MARK,
        "x_map": {MARK: [MARK, 1, None]},
        "at": "x",
    }
    assert json.loads(fork.path.read_text().splitlines()[0])["x_later_field"] == MARK


def test_print_mode_keeps_credentials_out_of_every_file(
    replay: ReplayServer, tmp_path: Path
) -> None:
    """Through a real chit: the prompt, the model's answer and tool call, and a tool result
    all hold credentials; the session file holds none."""
    work = tmp_path / "work"
    work.mkdir()
    every = " | ".join(CREDENTIALS.values())
    (work / "config.env").write_text("\n".join(f"{k}={v}" for k, v in CREDENTIALS.items()))
    calls = [
        ("tu_1", "read_file", {"path": "config.env"}),
        ("tu_2", "write_file", {"path": "copy.env", "content": every}),
    ]
    replay.queue(
        Reply(body=wire.anthropic(f"I see {every}", calls)),
        Reply(body=wire.anthropic(f"Done: {every}")),
    )
    home = tmp_path / "home"
    env = env_for(home, **CREDENTIALS, **KEPT)
    r = subprocess.run(
        [
            *(sys.executable, "-m", "chit", "--provider", "anthropic", "--base-url", replay.url),
            *("-p", f"here are my credentials: {every}", "--output-format", "json"),
        ],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert not (work / "copy.env").exists()  # refused in print mode
    sent = json.dumps(replay.received[1].json)
    assert "second-line-def" in sent  # the tool result did reach the model: it was read
    (work / "config.env").unlink()  # written by this test
    files = check_every_file(home)
    lines = [json.loads(x) for x in files[0].read_text().splitlines()]
    assert [x["type"] for x in lines] == [
        "session",
        "message",
        "usage",
        "message",
        "message",
        "usage",
        "message",
        "checkpoint",
    ]


# --- the rule ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "credential"),
    [
        ("ANTHROPIC_API_KEY", True),
        ("openai_apikey", True),
        ("GITHUB_TOKEN", True),
        ("ANTHROPIC_AUTH_TOKEN", True),
        ("HF_TOKEN_PATH", True),
        ("AWS_SECRET_ACCESS_KEY", True),
        ("DB_PASSWORD", True),
        ("MYSQL_PASSWD", True),
        ("GOOGLE_APPLICATION_CREDENTIALS", True),
        ("STRIPE_KEY", True),
        ("MAX_TOKENS", False),
        ("TOKENIZERS_PARALLELISM", False),
        ("KEYBOARD_LAYOUT", False),
        ("PWD", False),
        ("PATH", False),
    ],
)
def test_credential_names(name: str, credential: bool) -> None:
    assert is_credential_name(name) is credential


def test_short_values_follow_the_minimum_length() -> None:
    values = credential_values({"A_TOKEN": "  abcd  ", "B_TOKEN": "abc", "C_TOKEN": "x\ny\nlong1"})
    assert redact_text("abcd abc x y long1", values) == f"{MARK} abc x y {MARK}"


def test_redact_text_reads_the_environment(credentials: None) -> None:
    """What the REPL calls before a prompt goes to its history file."""
    prompt = f"my key is {CREDENTIALS['ANTHROPIC_API_KEY']}, password {CREDENTIALS['DB_PASSWORD']}"
    assert redact_text(prompt) == f"my key is {MARK}, password {MARK}"


@pytest.mark.parametrize(
    "value", ["redacted", "[redacted]", "edacted]xx", "aaaa", "d][r"], ids=repr
)
def test_a_value_that_replacing_would_form_again_never_shows(value: str) -> None:
    values = credential_values({"ODD_SECRET": value})
    for text in (value, f"a{value}{value}b", f"[re{value}dacted]", "x" + value * 5):
        assert value not in redact_text(text, values)


@given(
    before=st.text(max_size=30),
    secret=st.text(min_size=1, max_size=30),
    after=st.text(max_size=30),
)
def test_no_encoded_string_holds_the_value(before: str, secret: str, after: str) -> None:
    values = credential_values({"ANY_SECRET": secret})
    line = {
        "type": "message",
        "text": before + secret + after,
        "args": json.dumps({"c": before + secret}),
        "map": {secret: [after + secret]},
    }
    decoded = json.loads(encode(line, values))
    hidden = [p.strip() for p in (secret, *secret.splitlines()) if len(p.strip()) >= MIN_LENGTH]
    for s in strings(decoded):
        for part in hidden:
            assert part not in s
            assert json.dumps(part)[1:-1] not in s
