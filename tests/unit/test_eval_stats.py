"""The one percentile definition the evaluation suites and the benchmarks report."""

from __future__ import annotations

import pytest

from evals.stats import percentile

TEN = [10.0, 1.0, 9.0, 2.0, 8.0, 3.0, 7.0, 4.0, 6.0, 5.0]  # 1..10, unsorted on purpose


def test_empty_is_zero():
    assert percentile([], 50) == 0.0
    assert percentile([], 99) == 0.0


def test_single_value_is_every_percentile():
    assert [percentile([4.2], q) for q in (0, 1, 50, 95, 99, 100)] == [4.2] * 6


@pytest.mark.parametrize(("q", "expected"), [
    (0, 1.0),     # rank clamped to 1
    (10, 1.0),    # ceil(1.0) = 1
    (11, 2.0),    # ceil(1.1) = 2
    (50, 5.0),    # ceil(5.0) = 5: the lower middle value, not the mean of 5 and 6
    (51, 6.0),
    (95, 10.0),   # ceil(9.5) = 10
    (90, 9.0),    # ceil(9.0) = 9
    (99, 10.0),
    (100, 10.0),
])
def test_nearest_rank_of_ten(q, expected):
    assert percentile(TEN, q) == expected


def test_ranks_are_ceilings_not_rounded():
    # n = 20, p95: rank ceil(19.0) = 19. Rounding 19 + 0.5 half-to-even gave rank 20.
    twenty = [float(i) for i in range(1, 21)]
    assert percentile(twenty, 95) == 19.0
    # n = 3: p50 is rank ceil(1.5) = 2; p95 and p99 are the largest.
    assert [percentile([3.0, 1.0, 2.0], q) for q in (50, 95, 99)] == [2.0, 3.0, 3.0]
    # n = 4: p50 is rank 2 (no interpolation between 2 and 3).
    assert percentile([4.0, 3.0, 2.0, 1.0], 50) == 2.0


def test_whole_percentages_are_exact():
    # 0.07 * 100 is 7.000000000000001 in floating point; the rank must still be 7.
    hundred = [float(i) for i in range(1, 101)]
    assert [percentile(hundred, q) for q in range(1, 101)] == hundred


def test_result_is_always_one_of_the_values():
    values = [0.3, 12.5, 7.25, 7.25, 1.0]
    assert all(percentile(values, q) in values for q in range(101))


def test_q_outside_0_to_100_is_refused():
    with pytest.raises(ValueError, match="0..100"):
        percentile([1.0], 101)
    with pytest.raises(ValueError, match="0..100"):
        percentile([1.0], -1)
