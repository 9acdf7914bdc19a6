"""Telemetry: real ``chit`` processes against the replay server, exporting over OTLP/HTTP to
a loopback collector that decodes the protobuf (tests/collector.py). Expected attributes are
read from the session file chit wrote, the record every figure comes from."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import wire
from collector import Collector, Span
from helpers import CHIT, KEY, env_for
from replay import ReplayServer, Reply
from terminal import Terminal

from chit.checkpoint import sessions_dir
from chit.telemetry.settings import DEADLINE, Settings, settings

TOOL_CALL = ("call_1", "read_file", {"path": "notes.txt"})


def chit(
    replay: ReplayServer, home: Path, *args: str, start: list[str] = CHIT, **env: str
) -> subprocess.CompletedProcess[str]:
    """``chit -p go`` on the replay server (Anthropic's wire), ``env`` added."""
    return subprocess.run(
        [*start, "--provider", "anthropic", "--base-url", replay.url, *args],
        env=env_for(home, ANTHROPIC_API_KEY=KEY, **env),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=home.parent,
    )


def usage_lines(home: Path) -> tuple[str, list[dict[str, Any]]]:
    """The session's id and its usage lines (the only session under ``home``)."""
    [path] = sorted(sessions_dir(home).glob("*.jsonl"))
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    return lines[0]["session_id"], [d for d in lines if d["type"] == "usage"]


def expected(line: dict[str, Any], session_id: str) -> dict[str, Any]:
    """A request span's attributes, straight from its usage line."""
    out: dict[str, Any] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "anthropic",
        "gen_ai.request.model": line["model_requested"],
        "gen_ai.conversation.id": session_id,
        "chit.ended": line["ended"],
        "chit.turn": line["turn"],
    }
    if line["model"]:
        out["gen_ai.response.model"] = line["model"]
    if line["stop_reason"]:
        out["gen_ai.response.finish_reasons"] = (line["stop_reason"],)
    names = {
        "input_tokens": "gen_ai.usage.input_tokens",
        "output_tokens": "gen_ai.usage.output_tokens",
        "cache_read_tokens": "gen_ai.usage.cache_read.input_tokens",
        "cache_write_tokens": "gen_ai.usage.cache_creation.input_tokens",
        "reasoning_tokens": "chit.usage.reasoning_tokens",
    }
    out.update({names[k]: n for k, n in line["usage"].items() if n is not None})
    if line["cost"]["usd"] is not None:
        out["chit.cost.usd"] = float(Decimal(line["cost"]["usd"]))
        if line["cost"]["partial"]:
            out["chit.cost.partial"] = True
    if line["error"] is not None:
        out["error.type"] = line["error"]["type"]
        out["chit.error.message"] = line["error"]["message"]
        if line["error"]["status"] is not None:
            out["http.response.status_code"] = line["error"]["status"]
    return out


def one_turn(collector: Collector) -> tuple[Span, list[Span], list[Span]]:
    """The turn's span, its request spans and its tool spans, checking the tree."""
    [turn] = collector.named("invoke_agent")
    requests, tools = collector.named("chat "), collector.named("execute_tool ")
    assert turn.parent_id == b""
    for span in [*requests, *tools]:
        assert span.parent_id == turn.span_id
        assert span.trace_id == turn.trace_id
        assert turn.start_ns <= span.start_ns <= span.end_ns <= turn.end_ns
    assert len(collector.spans) == 1 + len(requests) + len(tools)
    return turn, requests, tools


def tool_turn(replay: ReplayServer, tmp_path: Path) -> Path:
    """Queue a turn of two requests with a tool call between them; the home to run it in."""
    (tmp_path / "notes.txt").write_text("hello")
    replay.queue(
        Reply(body=wire.anthropic("", [TOOL_CALL], input_tokens=10, cache_read=3, cache_write=2)),
        Reply(body=wire.anthropic("it says hello", input_tokens=30, output_tokens=7)),
    )
    return tmp_path / "home"


def test_a_complete_turn_with_a_tool_call(replay: ReplayServer, tmp_path: Path) -> None:
    home = tool_turn(replay, tmp_path)
    with Collector() as collector:
        before = time.time_ns()
        r = chit(replay, home, "-p", "go", **collector.env())
        after = time.time_ns()
    assert r.returncode == 0, r.stderr
    assert "telemetry" not in r.stderr
    session_id, lines = usage_lines(home)
    turn, requests, [tool] = one_turn(collector)
    assert before < turn.start_ns and turn.end_ns < after
    assert [s.attributes for s in requests] == [expected(line, session_id) for line in lines]
    first, second = (s.attributes for s in requests)
    # The figures themselves, as the wire said them: input inclusive of cache.
    assert first["gen_ai.usage.input_tokens"] == 15
    assert first["gen_ai.usage.cache_read.input_tokens"] == 3
    assert first["gen_ai.usage.cache_creation.input_tokens"] == 2
    assert first["gen_ai.usage.output_tokens"] == 5
    assert first["gen_ai.response.finish_reasons"] == ("tool_use",)
    assert second["gen_ai.usage.input_tokens"] == 30
    assert second["gen_ai.usage.output_tokens"] == 7
    assert second["gen_ai.response.model"] == "claude-sonnet-4-5-20250929"
    assert [s.name for s in requests] == ["chat claude-sonnet-4-5"] * 2
    # The exact price survives the double: the decimal it reads back as is the record's.
    for span, line in zip(requests, lines, strict=True):
        assert Decimal(repr(span.attributes["chit.cost.usd"])) == Decimal(line["cost"]["usd"])
        assert span.kind == 3  # CLIENT
        assert span.status_code == 0
    assert requests[0].end_ns <= tool.start_ns <= tool.end_ns <= requests[1].start_ns
    assert tool.name == "execute_tool read_file"
    assert tool.attributes == {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "read_file",
        "gen_ai.tool.call.id": "call_1",
        "gen_ai.tool.type": "function",
        "gen_ai.conversation.id": session_id,
    }
    assert turn.attributes == {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": "chit",
        "gen_ai.conversation.id": session_id,
        "chit.turn": 1,
        "chit.ended": "complete",
        "chit.requests": 2,
        "gen_ai.usage.input_tokens": 45,
        "gen_ai.usage.output_tokens": 12,
        "chit.cost.usd": float(sum(Decimal(line["cost"]["usd"]) for line in lines)),
    }
    assert turn.resource["service.name"] == "chit"


def test_the_metrics(replay: ReplayServer, tmp_path: Path) -> None:
    home = tool_turn(replay, tmp_path)
    with Collector() as collector:
        r = chit(replay, home, "-p", "go", **collector.env())
    assert r.returncode == 0, r.stderr
    _, lines = usage_lines(home)
    shared = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "anthropic",
        "gen_ai.request.model": "claude-sonnet-4-5",
        "gen_ai.response.model": "claude-sonnet-4-5-20250929",
    }
    tokens = {
        p.attributes["gen_ai.token.type"]: p for p in collector.metric("gen_ai.client.token.usage")
    }
    assert set(tokens) == {"input", "output"}
    for kind, counted in (("input", 45), ("output", 12)):
        point = tokens[kind]
        assert point.attributes == {**shared, "gen_ai.token.type": kind}
        assert (point.value, point.count, point.unit) == (counted, 2, "{token}")
        assert point.bounds[:3] == (1, 4, 16)
    [duration] = collector.metric("gen_ai.client.operation.duration")
    assert duration.attributes == shared
    assert duration.count == 2 and duration.unit == "s"
    spans = collector.named("chat ")
    assert duration.value == pytest.approx(sum((s.end_ns - s.start_ns) / 1e9 for s in spans))
    [cost] = collector.metric("chit.client.cost")
    assert cost.unit == "USD" and cost.attributes == shared
    assert Decimal(repr(cost.value)) == sum(Decimal(line["cost"]["usd"]) for line in lines)


def test_an_interrupted_request(replay: ReplayServer, tmp_path: Path) -> None:
    home = tmp_path / "home"
    answer = wire.anthropic("a long answer that never finishes " * 8, input_tokens=12)
    replay.queue(Reply(body=answer, cut_after=len(answer) // 2))
    with Collector() as collector:
        r = chit(replay, home, "-p", "go", **collector.env())
    assert r.returncode == 1
    session_id, [line] = usage_lines(home)
    assert line["ended"] == "interrupted"
    missing = [k for k, n in line["usage"].items() if n is None]
    assert missing, "a cut stream leaves a count unreported"
    _, [request], _ = one_turn(collector)
    assert request.attributes == expected(line, session_id)
    assert request.attributes["chit.ended"] == "interrupted"
    assert request.attributes["gen_ai.usage.input_tokens"] == 12
    # A count that never arrived is not there at all, never 0.
    assert "gen_ai.usage.output_tokens" not in request.attributes
    assert request.status_code == 2 and request.status_message
    tokens = collector.metric("gen_ai.client.token.usage")
    assert [p.attributes["gen_ai.token.type"] for p in tokens] == ["input"]


@pytest.mark.parametrize("status", [400, 500])
def test_a_failed_request(replay: ReplayServer, tmp_path: Path, status: int) -> None:
    home = tmp_path / "home"
    error = {"type": "error", "error": {"type": "api_error", "message": "it broke"}}
    # 500 is retried twice first: every try answers the same.
    replay.queue(*[Reply.error(status, error, headers={"retry-after-ms": "10"})] * 3)
    with Collector() as collector:
        r = chit(replay, home, "-p", "go", **collector.env())
    assert r.returncode == 1
    session_id, [line] = usage_lines(home)
    assert line["ended"] == "error"
    turn, [request], _ = one_turn(collector)
    assert request.attributes == expected(line, session_id)
    assert request.attributes["http.response.status_code"] == status
    assert request.attributes["error.type"] == line["error"]["type"]
    # Refused before anything streamed: nothing billed, a known 0 (spec/usage.md).
    assert line["usage"]["input_tokens"] == 0
    assert request.attributes["gen_ai.usage.input_tokens"] == 0
    assert request.status_code == 2 and "it broke" in request.status_message
    assert turn.status_code == 2 and turn.attributes["chit.ended"] == "error"
    tokens = collector.metric("gen_ai.client.token.usage")
    assert sorted((p.attributes["gen_ai.token.type"], p.value, p.count) for p in tokens) == [
        ("input", 0, 1),
        ("output", 0, 1),
    ]
    [duration] = collector.metric("gen_ai.client.operation.duration")
    assert duration.attributes["error.type"] == line["error"]["type"]


def test_the_chat_exports_each_turn(replay: ReplayServer, tmp_path: Path) -> None:
    replay.queue(Reply(body=wire.anthropic("one")), Reply(body=wire.anthropic("two")))
    home = tmp_path / "home"
    home.mkdir()
    with Collector() as collector:
        t = Terminal(replay, home, **collector.env())
        t.wait_for("/help for commands")
        for n, said in ((1, "first"), (2, "second")):
            t.type(f"{said}\r")
            t.wait_for(f"{n * 15} tokens")
        t.type("\x04")
        assert t.exit_status() == 0
    session_id, lines = usage_lines(home)
    turns, requests = collector.named("invoke_agent"), collector.named("chat ")
    assert [s.attributes["chit.turn"] for s in turns] == [1, 2]
    assert [s.parent_id for s in requests] == [s.span_id for s in turns]
    assert [s.attributes for s in requests] == [expected(line, session_id) for line in lines]
    assert "telemetry" not in t.text


def test_a_collector_that_is_down_costs_one_warning(replay: ReplayServer, tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    replay.queue(Reply(body=wire.anthropic("fine")))
    started = time.monotonic()
    r = chit(
        replay,
        tmp_path / "home",
        "-p",
        "go",
        OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{port}",
    )
    took = time.monotonic() - started
    assert r.returncode == 0
    assert r.stdout == "fine\n"
    warnings = [line for line in r.stderr.splitlines() if "telemetry" in line]
    assert len(warnings) == 1, r.stderr
    assert warnings[0].startswith("chit: warning: telemetry: the collector at http://127.0.0.1:")
    assert "Traceback" not in r.stderr and "Transient error" not in r.stderr
    assert took < DEADLINE + 8  # the start-up of a Python process, the deadline, no hang
    assert len(r.stderr.splitlines()) == 2  # the footer and the warning


def test_a_refusing_collector_is_the_same_one_warning(replay: ReplayServer, tmp_path: Path) -> None:
    replay.queue(Reply(body=wire.anthropic("fine")))
    with Collector(status=400) as collector:
        r = chit(replay, tmp_path / "home", "-p", "go", **collector.env())
    assert r.returncode == 0 and r.stdout == "fine\n"
    assert collector.requests >= 1
    assert len([line for line in r.stderr.splitlines() if "telemetry" in line]) == 1


#: chit with a line first that says whether anything of OpenTelemetry was imported by exit.
PROBE = [
    sys.executable,
    "-c",
    "import atexit, sys\n"
    "atexit.register(lambda: print('otel loaded:', any(m.split('.')[0] == 'opentelemetry' "
    "for m in sys.modules), file=sys.stderr))\n" + CHIT[2],
]


@pytest.mark.parametrize(
    "env",
    [{}, {"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9"}],
    ids=["no variables", "sdk disabled"],
)
def test_without_the_variables_nothing_is_imported(
    replay: ReplayServer, tmp_path: Path, env: dict[str, str]
) -> None:
    replay.queue(Reply(body=wire.anthropic("fine")))
    r = chit(replay, tmp_path / "home", "-p", "go", start=PROBE, **env)
    assert r.returncode == 0, r.stderr
    assert "otel loaded: False" in r.stderr


def test_with_them_it_is(replay: ReplayServer, tmp_path: Path) -> None:
    # The probe itself can fail: the same run with a collector named loads the SDK.
    replay.queue(Reply(body=wire.anthropic("fine")))
    with Collector() as collector:
        r = chit(replay, tmp_path / "home", "-p", "go", start=PROBE, **collector.env())
    assert "otel loaded: True" in r.stderr
    assert collector.spans


def test_the_extra_missing_is_one_warning(replay: ReplayServer, tmp_path: Path) -> None:
    # The SDK made unimportable, as in an install without chit[otel].
    start = [
        sys.executable,
        "-c",
        "import sys\nsys.modules['opentelemetry.sdk'] = None\n" + CHIT[2],
    ]
    replay.queue(Reply(body=wire.anthropic("fine")))
    with Collector() as collector:
        r = chit(replay, tmp_path / "home", "-p", "go", start=start, **collector.env())
    assert r.returncode == 0 and r.stdout == "fine\n"
    [warning] = [line for line in r.stderr.splitlines() if "telemetry" in line]
    assert "pip install 'chit[otel]'" in warning
    assert collector.requests == 0


def test_service_name_and_protocol(replay: ReplayServer, tmp_path: Path) -> None:
    replay.queue(Reply(body=wire.anthropic("fine")), Reply(body=wire.anthropic("fine")))
    with Collector() as collector:
        named = chit(
            replay, tmp_path / "a", "-p", "go", **collector.env(OTEL_SERVICE_NAME="team-x")
        )
        grpc = chit(
            replay, tmp_path / "b", "-p", "go", **collector.env(OTEL_EXPORTER_OTLP_PROTOCOL="grpc")
        )
    assert named.returncode == 0
    assert {s.resource["service.name"] for s in collector.spans} == {"team-x"}
    assert grpc.returncode == 0 and grpc.stdout == "fine\n"
    [warning] = [line for line in grpc.stderr.splitlines() if "telemetry" in line]
    assert "OTEL_EXPORTER_OTLP_PROTOCOL=grpc" in warning
    assert len(collector.spans) == 2  # the first run's turn and request only


def test_one_signal_by_its_own_endpoint(replay: ReplayServer, tmp_path: Path) -> None:
    replay.queue(Reply(body=wire.anthropic("fine")))
    with Collector() as collector:
        metrics_only = {"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": collector.endpoint + "/v1/metrics"}
        r = chit(replay, tmp_path / "home", "-p", "go", **metrics_only)
    assert r.returncode == 0
    assert "telemetry" not in r.stderr  # no span was lost: none was to be sent
    assert collector.spans == []
    assert collector.metric("gen_ai.client.token.usage")


def test_which_signals_the_variables_ask_for() -> None:
    url = "http://127.0.0.1:4318"
    assert settings({}) is None
    assert settings({"OTEL_EXPORTER_OTLP_ENDPOINT": url}) == Settings(True, True)
    assert settings({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": url}) == Settings(True, False)
    assert settings({"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": url}) == Settings(False, True)
    both = {"OTEL_EXPORTER_OTLP_ENDPOINT": url, "OTEL_METRICS_EXPORTER": "none"}
    assert settings(both) == Settings(True, False)
    assert settings({**both, "OTEL_SDK_DISABLED": "TRUE"}) is None
    assert settings({**both, "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}) == Settings(
        True, False
    )


def iso_ns(at: str) -> int:
    """A usage line's ``at`` (ISO-8601 UTC, milliseconds) in nanoseconds since the epoch."""
    import datetime as dt

    t = dt.datetime.fromisoformat(at.replace("Z", "+00:00"))
    return (t - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(microseconds=1) * 1000


def test_export_of_a_past_session(replay: ReplayServer, tmp_path: Path) -> None:
    home = tmp_path / "home"
    replay.queue(
        Reply(body=wire.anthropic("one", input_tokens=10, cache_read=4)),
        Reply(body=wire.anthropic("two", input_tokens=20, output_tokens=9)),
    )
    assert chit(replay, home, "-p", "first").returncode == 0  # no telemetry then
    assert chit(replay, home, "-c", "-p", "second").returncode == 0
    session_id, lines = usage_lines(home)
    with Collector() as collector:
        r = subprocess.run(
            [*CHIT, "usage", "--export-otlp"],
            env=env_for(home, **collector.env()),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"sent 2 request(s) of 1 session(s) to {collector.endpoint}\n"
    turns, requests = collector.named("invoke_agent"), collector.named("chat ")
    assert [t.attributes["chit.turn"] for t in turns] == [1, 2]
    for turn, request, line in zip(turns, requests, lines, strict=True):
        at = iso_ns(line["at"])
        # The original time: the request's record was written then; its start is not kept.
        assert request.start_ns == request.end_ns == at
        assert (turn.start_ns, turn.end_ns) == (at, at)
        assert request.parent_id == turn.span_id
        assert request.attributes == {**expected(line, session_id), "chit.replayed": True}
        assert turn.attributes["chit.replayed"] is True
        assert turn.attributes["gen_ai.conversation.id"] == session_id
    assert requests[0].attributes["gen_ai.usage.cache_read.input_tokens"] == 4
    assert requests[1].attributes["gen_ai.usage.output_tokens"] == 9
    tokens = collector.metric("gen_ai.client.token.usage")
    assert sorted((p.time_ns, p.attributes["gen_ai.token.type"], p.value) for p in tokens) == [
        (iso_ns(lines[0]["at"]), "input", 14),
        (iso_ns(lines[0]["at"]), "output", 5),
        (iso_ns(lines[1]["at"]), "input", 20),
        (iso_ns(lines[1]["at"]), "output", 9),
    ]
    assert {p.temporality for p in tokens} == {1}  # delta: each a request of its own
    costs = collector.metric("chit.client.cost")
    assert [Decimal(repr(p.value)) for p in sorted(costs, key=lambda p: p.time_ns)] == [
        Decimal(line["cost"]["usd"]) for line in lines
    ]
    assert collector.metric("gen_ai.client.operation.duration") == []  # no start, no duration


def test_export_all_sends_a_forked_request_once(replay: ReplayServer, tmp_path: Path) -> None:
    home = tmp_path / "home"
    replay.queue(Reply(body=wire.anthropic("one")), Reply(body=wire.anthropic("two")))
    assert chit(replay, home, "-p", "first").returncode == 0
    assert chit(replay, home, "-c", "--fork", "-p", "second").returncode == 0
    with Collector() as collector:
        r = subprocess.run(
            [*CHIT, "usage", "--export-otlp", "--all"],
            env=env_for(home, **collector.env()),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("sent 2 request(s) of 2 session(s)")
    assert len(collector.named("chat ")) == 2
    assert len({s.attributes["gen_ai.conversation.id"] for s in collector.named("chat ")}) == 2


def test_export_errors_are_one_line(replay: ReplayServer, tmp_path: Path) -> None:
    home = tmp_path / "home"
    replay.queue(Reply(body=wire.anthropic("one")))
    assert chit(replay, home, "-p", "first").returncode == 0
    export = [*CHIT, "usage", "--export-otlp"]
    unset = subprocess.run(export, env=env_for(home), capture_output=True, text=True, timeout=60)
    assert unset.returncode == 2
    assert unset.stderr.startswith("chit: --export-otlp sends to the collector")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = env_for(
        home, OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{port}", OTEL_EXPORTER_OTLP_TIMEOUT="1"
    )
    down = subprocess.run(export, env=env, capture_output=True, text=True, timeout=60)
    assert down.returncode == 1
    assert down.stdout == ""
    assert down.stderr == f"chit: the collector at http://127.0.0.1:{port} did not take 2 span(s)\n"
