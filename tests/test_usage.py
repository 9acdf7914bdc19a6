"""The usage record: the sum is a commutative monoid that never turns unknown into 0."""

from __future__ import annotations

import orjson
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


@given(usages())
def test_json_round_trip(a: Usage) -> None:
    assert Usage.from_json(orjson.loads(orjson.dumps(a.to_json()))) == a


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
    assert total.to_json()["unknown"] == {"input_tokens": 1, "output_tokens": 2}


def test_a_request_that_reported_nothing_stays_unknown() -> None:
    silent = Usage.reported()
    assert silent.input_tokens is None and silent.output_tokens is None
    assert (silent + silent).input_tokens is None
    assert (silent + silent).input_unknown == 2
    assert silent.to_json()["input_tokens"] is None


def test_derived_figures() -> None:
    u = Usage.reported(1220, 1217, 0, 4, 1)
    assert u.uncached_input_tokens == 3
    assert u.total_tokens == 1224
    assert Usage.reported(None, None, None, 4, 0).uncached_input_tokens is None


def test_missing_fields_load_as_not_recorded() -> None:
    u = Usage.from_json({"input_tokens": 10})
    assert u.input_tokens == 10
    assert u.output_tokens is None
    assert u.input_unknown == 0


@given(st.lists(st.tuples(*(counts for _ in FIELDS)), max_size=6))
def test_total_of_columns_is_the_sum_of_the_reported_rows(
    rows: list[tuple[int | None, ...]],
) -> None:
    columns = [list(column) for column in zip(*rows, strict=True)] or [[] for _ in FIELDS]
    assert Usage.total(columns) == sum((Usage.reported(*row) for row in rows), Usage())
