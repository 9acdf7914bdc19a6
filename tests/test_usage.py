"""The usage record: the sum is a commutative monoid that never turns unknown into 0."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from chit.usage import FIELDS, Usage

counts = st.one_of(st.none(), st.integers(min_value=0, max_value=10**9))


@st.composite
def usages(draw: st.DrawFn) -> Usage:
    if draw(st.booleans()):
        return Usage.reported(*(draw(counts) for _ in FIELDS))
    return Usage(
        *(draw(counts) for _ in FIELDS),
        input_unknown=draw(st.integers(0, 5)),
        output_unknown=draw(st.integers(0, 5)),
    )


@given(usages(), usages(), usages())
def test_sum_is_associative(a: Usage, b: Usage, c: Usage) -> None:
    assert (a + b) + c == a + (b + c)


@given(usages(), usages())
def test_sum_is_commutative(a: Usage, b: Usage) -> None:
    assert a + b == b + a


@given(usages())
def test_empty_usage_is_the_identity(a: Usage) -> None:
    assert a + Usage() == a == Usage() + a
    assert sum([a], Usage()) == a


def test_unknown_is_counted_not_zeroed() -> None:
    known = Usage.reported(100, 10, 0, 20, 0)
    cut = Usage.reported(50, 0, 5, None, None)
    silent = Usage.reported()
    total = sum([known, cut, silent], Usage())
    assert total.input_tokens == 150
    assert total.output_tokens == 20
    assert total.input_unknown == 1
    assert total.output_unknown == 2
    assert not total.complete


def test_a_request_that_reported_nothing_stays_unknown() -> None:
    silent = Usage.reported()
    assert silent.input_tokens is None and silent.output_tokens is None
    assert (silent + silent).input_tokens is None
    assert (silent + silent).input_unknown == 2
    assert silent.counts()["input_tokens"] is None


def test_derived_figures() -> None:
    u = Usage.reported(1220, 1217, 0, 4, 1)
    assert u.total_tokens == 1224
    assert u.complete
    assert Usage.reported(None, None, None, 4, 0).total_tokens == 4  # a lower bound
    assert not Usage.reported(None, None, None, 4, 0).complete


@given(st.lists(usages(), max_size=6))
def test_totals_are_the_sum_of_the_records(items: list[Usage]) -> None:
    from chit.messages import AssistantTurn
    from chit.pricing import Cost
    from chit.state import RequestRecord, Totals

    records = [RequestRecord(1, AssistantTurn("p", "m", u), Cost()) for u in items]
    assert Totals.of(records).usage == sum(items, Usage())
    assert Totals.of(records).requests == len(items)
