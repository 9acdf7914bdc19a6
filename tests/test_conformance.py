"""Every recorded stream in the shared manifest gives exactly its expected usage, model, ending.

One parametrized test reads the manifest, so a new entry is tested with no new code. The
same bodies split at every byte give the same record, and so do small chunks on the wire.
"""

from __future__ import annotations

from typing import Any

import pytest
from helpers import API_PROVIDER, bytewise, final, read_body, run_stream
from replay import ReplayServer, Reply, body, manifest


def model_of(entry: dict[str, Any]) -> str:
    return entry.get("model") or "test-model"


@pytest.mark.parametrize("entry", manifest(), ids=lambda e: e["id"])
def test_recorded_stream_gives_expected_usage(entry: dict[str, Any], replay: ReplayServer) -> None:
    replay.queue(Reply.recorded(entry["id"]))
    turn = final(run_stream(entry["api"], replay, model=model_of(entry)))
    expected = entry["expected"]
    assert turn.usage.counts() == expected["usage"]
    assert turn.model == expected["model"]
    assert turn.ended.value == expected["ended"]
    assert turn.provider == API_PROVIDER[entry["api"]]


@pytest.mark.parametrize("entry", manifest(), ids=lambda e: e["id"])
def test_a_body_split_at_every_byte_gives_the_same_events(
    entry: dict[str, Any], replay: ReplayServer
) -> None:
    replay.queue(Reply.recorded(entry["id"]))
    whole = run_stream(entry["api"], replay, model=model_of(entry))
    pieces = bytewise(body(entry["id"]))
    trickled = read_body(entry["api"], pieces, entry["content_type"], model=model_of(entry))
    assert trickled == whole
    assert final(trickled).usage.counts() == entry["expected"]["usage"]


@pytest.mark.parametrize("api", API_PROVIDER)
def test_small_chunks_on_the_wire_give_the_same_events(api: str, replay: ReplayServer) -> None:
    # The longest recording of each format, in 7-byte chunks through the real socket.
    entry = max((e for e in manifest() if e["api"] == api), key=lambda e: len(body(e["id"])))
    replay.queue(Reply.recorded(entry["id"]), Reply.recorded(entry["id"], chunk_size=7))
    whole = run_stream(api, replay, model=model_of(entry))
    trickled = run_stream(api, replay, model=model_of(entry))
    assert trickled == whole
    assert final(trickled).usage.counts() == entry["expected"]["usage"]
