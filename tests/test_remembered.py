"""Endpoints remembered: a server that refused ``stream_options`` is sent none the next run
(real chit processes against the replay server), for a week, or until it answers otherwise."""

from __future__ import annotations

import datetime as dt
import json
import stat
import subprocess
from pathlib import Path
from typing import Any

import wire
from helpers import CHIT, KEY, env_for
from replay import ReplayServer, Reply

from chit.providers.remembered import FILE, Remembered

REFUSAL = {
    "error": {
        "message": "Extra inputs are not permitted: stream_options",
        "type": "invalid_request_error",
    }
}


def chit_p(replay: ReplayServer, home: Path) -> dict[str, Any]:
    """One ``chit -p`` on the Chat Completions wire format at the replay server."""
    r = subprocess.run(
        [
            *CHIT,
            *("--provider", "openai", "--base-url", replay.url + "/v1", "--no-tools"),
            *("--model", "mistral-small-latest", "-p", "hi", "--output-format", "json"),
        ],
        env=env_for(home, OPENAI_API_KEY=KEY),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    out: dict[str, Any] = json.loads(r.stdout)
    return out


def sent_options(replay: ReplayServer) -> list[bool]:
    """Whether each request received carried ``stream_options``."""
    return ["stream_options" in r.json for r in replay.received]


def remembered(home: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((home / FILE).read_text())
    return data


def test_a_refusal_costs_one_400_once_not_every_run(replay: ReplayServer, tmp_path: Path) -> None:
    replay.queue(Reply.error(400, REFUSAL), Reply(wire.openai_chat("ok")))
    assert chit_p(replay, tmp_path)["result"] == "ok"
    assert sent_options(replay) == [True, False]
    path = tmp_path / FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    today = dt.datetime.now(dt.UTC).date().isoformat()
    assert remembered(tmp_path) == {replay.url + "/v1": {"refuses": {"stream_options": today}}}

    replay.queue(Reply(wire.openai_chat("again")))
    out = chit_p(replay, tmp_path)
    assert out["result"] == "again"
    assert sent_options(replay) == [True, False, False]  # one request, without it
    assert out["turn"]["usage"]["input_tokens"] == 10  # the server sends usage anyway
    assert remembered(tmp_path) == {replay.url + "/v1": {"refuses": {"stream_options": today}}}


def test_after_a_week_it_is_asked_again_and_forgotten_when_accepted(
    replay: ReplayServer, tmp_path: Path
) -> None:
    old = (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=8)).isoformat()
    other = {"http://elsewhere/v1": {"refuses": {"stream_options": old}}}
    mine = {replay.url + "/v1": {"refuses": {"stream_options": old}}}
    (tmp_path / FILE).write_text(json.dumps({**other, **mine}))
    replay.queue(Reply(wire.openai_chat("ok")))
    chit_p(replay, tmp_path)
    assert sent_options(replay) == [True]
    assert remembered(tmp_path) == other  # only this endpoint's memory changed


def test_a_remembered_refusal_that_brings_no_usage_is_asked_again_next_run(
    replay: ReplayServer, tmp_path: Path
) -> None:
    today = dt.datetime.now(dt.UTC).date().isoformat()
    (tmp_path / FILE).write_text(
        json.dumps({replay.url + "/v1": {"refuses": {"stream_options": today}}})
    )
    # A server that now sends usage only when asked: this answer has none.
    body = wire.openai_chat("ok").replace(b'"usage": {"prompt_tokens"', b'"x": {"prompt_tokens"')
    replay.queue(Reply(body))
    out = chit_p(replay, tmp_path)
    assert sent_options(replay) == [False]
    assert out["turn"]["unknown"] == {"input_tokens": 1, "output_tokens": 1}
    assert remembered(tmp_path) == {}
    replay.queue(Reply(wire.openai_chat("ok")))
    assert chit_p(replay, tmp_path)["turn"]["usage"]["input_tokens"] == 10
    assert sent_options(replay) == [False, True]


def test_a_file_that_is_no_memory_is_ignored_and_replaced(
    replay: ReplayServer, tmp_path: Path
) -> None:
    (tmp_path / FILE).write_text("[not json")
    replay.queue(Reply.error(400, REFUSAL), Reply(wire.openai_chat("ok")))
    chit_p(replay, tmp_path)
    assert sent_options(replay) == [True, False]
    assert list(remembered(tmp_path)) == [replay.url + "/v1"]


def test_odd_dates_are_not_trusted(tmp_path: Path) -> None:
    memory = Remembered(tmp_path, "http://host/v1/")
    assert not memory.refuses("stream_options")
    memory.refused("stream_options")
    assert Remembered(tmp_path, "http://host/v1").refuses("stream_options")  # same URL
    assert not Remembered(tmp_path, "http://other/v1").refuses("stream_options")
    for when in ("2999-01-01", "yesterday", 20260101):
        (tmp_path / FILE).write_text(json.dumps({"http://host/v1": {"refuses": {"x": when}}}))
        assert not memory.refuses("x")
    assert not Remembered(None, "http://host/v1").refuses("x")
