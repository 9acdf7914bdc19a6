"""``chit -p`` against the replay server, as scripts and bots use it: a real chit process,
and (for the JSON of every recording) chit's own entry point in this process."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import wire
from helpers import API_PROVIDER, CHIT, KEY, env_for
from replay import ReplayServer, Reply, manifest

from chit.cli.main import main


def chit(
    replay: ReplayServer,
    home: Path,
    *args: str,
    provider: str = "anthropic",
    stdin: str | None = None,
    key: bool = True,
) -> subprocess.CompletedProcess[str]:
    base = replay.url if provider in ("anthropic", "ollama") else replay.url + "/v1"
    keys = {}
    if key:
        keys = {"ANTHROPIC_API_KEY": KEY} if provider == "anthropic" else {"OPENAI_API_KEY": KEY}
    return subprocess.run(
        [*CHIT, "--provider", provider, "--base-url", base, *args],
        env=env_for(home, **keys),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def as_json(r: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(r.stdout)
    return out


@pytest.mark.parametrize("entry", manifest(), ids=lambda e: e["id"])
def test_json_output_for_every_recording(
    entry: dict[str, Any],
    replay: ReplayServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # chit's entry point in this process: the SDKs are imported once, not 43 times.
    replay.queue(Reply.recorded(entry["id"]))
    provider = API_PROVIDER[entry["api"]]
    base = replay.url if provider in ("anthropic", "ollama") else replay.url + "/v1"
    monkeypatch.setenv("ANTHROPIC_API_KEY" if provider == "anthropic" else "OPENAI_API_KEY", KEY)
    model = entry.get("model") or "test-model"
    argv = ["--provider", provider, "--base-url", base, "--home", str(tmp_path)]
    argv += ["-p", "hi", "--output-format", "json", "--no-tools", "--model", model]
    with pytest.raises(SystemExit) as exit_status:
        main(argv)
    out = json.loads(capsys.readouterr().out)
    expected = entry["expected"]
    assert out["turn"]["usage"] == expected["usage"]
    assert out["model"] == expected["model"]
    assert out["ended"] == expected["ended"]
    assert out["provider"] == provider
    assert out["session"]["usage"] == expected["usage"]
    assert out["turn"]["requests"] == 1
    assert exit_status.value.code == (0 if expected["ended"] == "complete" else 1)
    if expected["ended"] == "error":
        assert out["error"]["message"]
    assert Path(out["session_file"]).is_file()


def test_text_mode_prints_the_answer_and_a_footer(replay: ReplayServer, tmp_path: Path) -> None:
    replay.queue(Reply.recorded("anthropic/crew_anthropic_cached_prompt_tokens_0"))
    r = chit(replay, tmp_path, "-p", "hi", "--no-tools")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip()
    footer = r.stderr.strip().splitlines()[-1]
    # 1220 input + 4 output; 1217 cached; priced by genai-prices.
    assert footer.startswith("claude-sonnet-4-5-20250929 · 1,224 tokens (1,217 cached) · $0.")


def test_prompt_from_stdin(replay: ReplayServer, tmp_path: Path) -> None:
    replay.queue(Reply(body=wire.anthropic("pong")))
    r = chit(replay, tmp_path, "-p", "-", "--output-format", "json", stdin="ping from stdin")
    assert as_json(r)["result"] == "pong"
    (sent,) = replay.received[0].json["messages"]
    content = sent["content"]
    texts = [content] if isinstance(content, str) else [block["text"] for block in content]
    assert texts == ["ping from stdin"]


def test_continue_and_resume_add_to_the_session(replay: ReplayServer, tmp_path: Path) -> None:
    replay.queue(
        *(
            Reply(body=wire.anthropic(f"answer {i}", input_tokens=10 * i, output_tokens=i))
            for i in (1, 2, 3)
        )
    )
    first = as_json(chit(replay, tmp_path, "-p", "one", "--output-format", "json"))
    second = as_json(chit(replay, tmp_path, "-c", "-p", "two", "--output-format", "json"))
    prefix = first["session_id"][:8]
    third = as_json(chit(replay, tmp_path, "-r", prefix, "-p", "three", "--output-format", "json"))
    assert first["session_id"] == second["session_id"] == third["session_id"]
    assert third["session"]["turns"] == 3
    assert third["session"]["requests"] == 3
    assert third["session"]["usage"]["input_tokens"] == 60
    assert third["session"]["usage"]["output_tokens"] == 6
    assert third["turn"]["usage"]["input_tokens"] == 30
    # The resumed conversation was sent back to the provider.
    roles = [m["role"] for m in replay.received[2].json["messages"]]
    assert roles == ["user", "assistant", "user", "assistant", "user"]


def test_budget_spent_exits_3_and_resuming_keeps_the_budget(
    replay: ReplayServer, tmp_path: Path
) -> None:
    replay.queue(Reply(body=wire.anthropic("big", input_tokens=90, output_tokens=20)))
    r1 = chit(replay, tmp_path, "-p", "one", "--max-tokens", "100")
    assert r1.returncode == 0
    assert "of the budget" in r1.stderr
    r2 = chit(replay, tmp_path, "-c", "-p", "two", "--output-format", "json")
    assert r2.returncode == 3
    out = as_json(r2)
    assert out["error"]["type"] == "budget"
    assert len(replay.received) == 1


def test_a_budget_line_that_is_no_budget_is_named_and_ignored_on_resume(
    replay: ReplayServer, tmp_path: Path
) -> None:
    replay.queue(*(Reply(body=wire.anthropic(f"answer {i}")) for i in (1, 2)))
    first = as_json(
        chit(replay, tmp_path, "-p", "one", "--max-cost", "1", "--output-format", "json")
    )
    path = Path(first["session_file"])
    edited = b'{"type":"budget","max_cost":"abc","max_tokens":null,"at":"2026-11-30T00:00:00Z"}\n'
    with open(path, "ab") as f:  # a hand edit
        f.write(edited)
    before = path.read_bytes()
    r = chit(replay, tmp_path, "-c", "-p", "two", "--output-format", "json")
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    (warning,) = r.stderr.splitlines()
    assert warning.startswith(f"chit: warning: {path}: line ")
    assert warning.endswith('budget max_cost "abc" is not a positive amount of USD: ignored')
    out = as_json(r)
    assert out["result"] == "answer 2"
    assert out["session"]["requests"] == 2
    assert path.read_bytes().startswith(before)  # the line is kept as it was


def test_no_credentials_is_one_line_and_exit_2(replay: ReplayServer, tmp_path: Path) -> None:
    r = subprocess.run(
        [*CHIT, "-p", "hi"],
        env=env_for(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2
    assert "ANTHROPIC_API_KEY" in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    rj = subprocess.run(
        [*CHIT, "-p", "hi", "--output-format", "json"],
        env=env_for(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert rj.returncode == 2
    assert as_json(rj)["error"]["type"] == "no_credentials"


def test_auth_failure_names_the_key_variable(replay: ReplayServer, tmp_path: Path) -> None:
    replay.queue(
        Reply.error(
            401,
            {
                "type": "error",
                "error": {"type": "authentication_error", "message": "invalid x-api-key"},
            },
        )
    )
    r = chit(replay, tmp_path, "-p", "hi", "--output-format", "json")
    assert r.returncode == 1
    out = as_json(r)
    assert out["ended"] == "error"
    assert "ANTHROPIC_API_KEY" in out["error"]["message"]
    assert "Traceback" not in r.stderr


def test_an_unknown_session_is_exit_2(replay: ReplayServer, tmp_path: Path) -> None:
    r = chit(replay, tmp_path, "-r", "nonexistent", "-p", "hi")
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_tools_are_refused_in_print_mode_without_allow_tools(
    replay: ReplayServer, tmp_path: Path
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    call = [("tu_1", "write_file", {"path": "out.txt", "content": "x"})]
    replay.queue(
        Reply(body=wire.anthropic("", call)),
        Reply(body=wire.anthropic("ok")),
        Reply(body=wire.anthropic("", call)),
        Reply(body=wire.anthropic("ok")),
    )
    base = [*CHIT, "--provider", "anthropic", "--base-url", replay.url]
    env = env_for(tmp_path, ANTHROPIC_API_KEY=KEY)
    r = subprocess.run(
        [*base, "-p", "write"], cwd=work, env=env, capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0
    assert "refused write_file" in r.stderr
    assert not (work / "out.txt").exists()
    r = subprocess.run(
        [*base, "-p", "write", "--allow-tools"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0
    assert (work / "out.txt").read_text() == "x"


@pytest.mark.parametrize(
    ("chunk", "delay", "input_tokens"),
    [
        (100_000, 3.0, None),  # before the first byte of the body: nothing was reported
        (40, 0.05, 570),  # mid-body: message_start's input and cache counts are exact
    ],
    ids=["before-body", "mid-body"],
)
def test_sigint_exits_130_with_the_request_recorded(
    replay: ReplayServer, tmp_path: Path, chunk: int, delay: float, input_tokens: int | None
) -> None:
    body = wire.anthropic("word " * 400, input_tokens=70, cache_read=500, output_tokens=400)
    replay.queue(Reply(body=body, chunk_size=chunk, delay=delay))
    proc = subprocess.Popen(
        [
            *CHIT,
            "--provider",
            "anthropic",
            "--base-url",
            replay.url,
            "-p",
            "talk",
            "--output-format",
            "json",
        ],
        env=env_for(tmp_path, ANTHROPIC_API_KEY=KEY),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while not replay.received and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    result = json.loads(out)
    assert result["ended"] == "interrupted"
    assert result["turn"]["usage"]["input_tokens"] == input_tokens
    assert result["turn"]["usage"]["output_tokens"] is None
    assert result["turn"]["unknown"]["output_tokens"] == 1
    lines = [json.loads(x) for x in Path(result["session_file"]).read_text().splitlines()]
    usage_lines = [x for x in lines if x["type"] == "usage"]
    assert len(usage_lines) == 1 and usage_lines[0]["ended"] == "interrupted"
    assert [x["type"] for x in lines][-1] == "checkpoint"


def test_no_file_chit_writes_holds_the_key(replay: ReplayServer, tmp_path: Path) -> None:
    replay.queue(Reply(body=wire.anthropic("fine")))
    r = chit(replay, tmp_path, "-p", "hi")
    assert r.returncode == 0
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert written
    for p in written:
        assert KEY.encode() not in p.read_bytes()
        assert p.stat().st_mode & 0o077 == 0
