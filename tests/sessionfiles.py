"""Session files for the tests: the frozen corpus, and turns appended as the agent appends them."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from chit.checkpoint import FileOps, Loaded, Session, load
from chit.checkpoint.journal import OS_OPS
from chit.checkpoint.store import summary
from chit.messages import AssistantTurn, Message
from chit.pricing import Cost
from chit.state import AgentState, RequestRecord
from chit.usage import Usage

CORPUS = Path(__file__).parent / "corpus" / "v1" / "session.jsonl"
CORPUS_ID = "5d127522-1a98-4710-b75f-b01aca4dada4"


def turn(session: Session, state: AgentState, n: int, *, model: str = "gpt-4o-mini") -> None:
    """Append one finished turn as the agent does: user, request, answer, checkpoint.
    Turn ``n`` reports 100 n input tokens (10 n cached) and n output tokens, and costs
    n / 1000 USD."""
    user = Message("user", text=f"question {n}")
    state.messages.append(user)
    session.append_message(user)
    response = AssistantTurn(
        "openai",
        "gpt-4o-mini",
        Usage.reported(100 * n, 10 * n, 0, n, 0),
        model=model,
        text=f"answer {n}",
        stop_reason="stop",
    )
    record = RequestRecord(n, response, Cost(Decimal(n) / 1000, Decimal(0), 0, False, "test"))
    state.record(record)
    session.append_usage(record)
    state.messages.append(response.message())
    session.append_message(response.message())
    state.turns = n
    session.append_checkpoint(state)


def new_session(home: Path, turns: int = 0, ops: FileOps = OS_OPS) -> tuple[Session, AgentState]:
    """A new session in ``home`` with ``turns`` finished turns, on disk (its header alone
    when ``turns`` is 0)."""
    s = Session.create(home, cwd="/work", provider="openai", model="gpt-4o-mini", ops=ops)
    s.flush()
    state = AgentState(session_id=s.session_id)
    for n in range(1, turns + 1):
        turn(s, state, n)
    return s, state


def read_alike(path: Path) -> Loaded:
    """The file read as resuming reads it, after checking that every other reader agrees:
    a report (no messages) gives the same figures and warnings, and ``chit sessions`` the
    same figures. Returns the full load."""
    full, figures = load(path), load(path, messages=False)
    assert figures.warnings == full.warnings
    assert figures.state.messages == [] and figures.lines == []
    report = full.report()
    assert figures.report() == report == full.state.report()
    info = summary(path)
    assert info.session_id == report.session_id
    assert info.models == list(report.by_model) == full.models
    assert info.turns == report.turns == full.state.turns
    assert info.totals == report.totals
    return full
