"""The U test against published values and against brute-force permutation."""

from __future__ import annotations

import itertools
import math
import random

import pytest

from commands.canary.mannwhitney import EXACT_BELOW, greater, min_sample_size

# NAG Library g08amc example (16 against 23 values, many ties): U of group 1 = 86, normal
# tail 0.0025, exact tail 0.0020. Group 1 tends to be smaller, so group 2 "greater" is the tail.
NAG_GROUP_1 = [13, 6, 12, 7, 12, 7, 10, 7, 10, 7, 16, 7, 10, 8, 9, 8]
NAG_GROUP_2 = [17, 6, 10, 8, 15, 8, 15, 10, 15, 10, 14, 10, 14, 11, 14, 11, 13, 12, 13, 12, 13]
NAG_GROUP_2 += [12, 12]


def brute_force_p(xs: list[float], ys: list[float]) -> float:
    """P(U ≥ observed) over every relabelling of the pooled values (the exact permutation test)."""

    def u(first: list[float], second: list[float]) -> float:
        return sum((a > b) + 0.5 * (a == b) for a in first for b in second)

    observed = u(xs, ys)
    pooled = xs + ys
    hits = total = 0
    for chosen in itertools.combinations(range(len(pooled)), len(xs)):
        first = [pooled[i] for i in chosen]
        second = [pooled[i] for i in range(len(pooled)) if i not in chosen]
        hits += u(first, second) >= observed - 1e-9
        total += 1
    return hits / total


def test_normal_approximation_matches_clickhouse_reference() -> None:
    # ClickHouse docs: mannWhitneyUTest('greater') of [10, 11, 12] vs [1, 2, 3] = (9, 0.0404…)
    result = greater([10, 11, 12], [1, 2, 3], method="normal")
    assert result.u == 9
    assert result.p_value == pytest.approx(0.04042779918503192, rel=1e-9)


def test_normal_approximation_with_ties_matches_dolphindb_reference() -> None:
    # DolphinDB docs: X = 5 1 4 3 5, Y = 2 4 7 -1 0 4, "less than 0" (X above Y) p = 0.259011
    result = greater([5, 1, 4, 3, 5], [2, 4, 7, -1, 0, 4], method="normal")
    assert result.u == 19
    assert result.p_value == pytest.approx(0.259011, abs=1e-6)


def test_both_methods_match_nag_reference_with_many_ties() -> None:
    normal = greater(NAG_GROUP_2, NAG_GROUP_1, method="normal")
    exact = greater(NAG_GROUP_2, NAG_GROUP_1, method="exact")
    assert normal.u == exact.u == 16 * 23 - 86
    assert round(normal.p_value, 4) == 0.0025
    assert round(exact.p_value, 4) == 0.0020
    assert greater(NAG_GROUP_2, NAG_GROUP_1).method == "normal"


def test_exact_matches_textbook_case() -> None:
    # scipy docs: males [19, 22, 16, 29, 24] vs females [20, 11, 17, 12], U = 17,
    # two-sided exact p = 0.1111, so one-sided 7 of the C(9, 4) = 126 orderings.
    result = greater([19, 22, 16, 29, 24], [20, 11, 17, 12])
    assert (result.u, result.method) == (17, "exact")
    assert result.p_value == pytest.approx(7 / 126)


@pytest.mark.parametrize("seed", range(40))
def test_exact_equals_brute_force_permutation_with_and_without_ties(seed: int) -> None:
    rng = random.Random(seed)
    n1, n2 = rng.randint(1, 6), rng.randint(1, 6)
    spread = rng.choice([3, 1000])  # few distinct values → many ties
    xs = [float(rng.randint(0, spread)) for _ in range(n1)]
    ys = [float(rng.randint(0, spread)) for _ in range(n2)]
    result = greater(xs, ys, method="exact")
    assert result.p_value == pytest.approx(brute_force_p(xs, ys), abs=1e-12)
    assert result.u == sum((a > b) + 0.5 * (a == b) for a in xs for b in ys)


def test_method_is_exact_below_the_limit_and_normal_from_it() -> None:
    small = [float(v) for v in range(EXACT_BELOW - 1)]
    large = [float(v) for v in range(EXACT_BELOW)]
    assert greater(small, large).method == "exact"
    assert greater(large, large).method == "normal"


def test_normal_is_close_to_exact_at_the_switch_over() -> None:
    xs = [float(v) for v in range(3, 3 + EXACT_BELOW)]
    ys = [float(v) for v in range(EXACT_BELOW)]
    exact = greater(xs, ys, method="exact").p_value
    assert greater(xs, ys, method="normal").p_value == pytest.approx(exact, abs=0.01)


def test_all_values_tied_is_no_evidence() -> None:
    zeros = [0.0] * 10
    assert greater(zeros, zeros).p_value == 1.0
    assert greater(zeros[:3], zeros[:3]).p_value == 1.0


def test_obvious_shift_is_significant_and_its_reverse_is_not() -> None:
    low = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0]
    high = [v + 20 for v in low]
    assert greater(high, low).p_value < 0.001
    assert greater(low, high).p_value > 0.999


def test_unequal_sizes_count_the_smaller_side() -> None:
    xs = [5.0, 9.0, 1.0, 7.0, 7.0, 3.0, 8.0, 2.0, 6.0, 4.0]
    ys = [6.0, 8.0]
    assert greater(xs, ys, method="exact").p_value == pytest.approx(brute_force_p(xs, ys))
    assert greater(ys, xs, method="exact").p_value == pytest.approx(brute_force_p(ys, xs))


@pytest.mark.parametrize("bad", [[], [math.nan], [1.0, math.inf]])
def test_empty_or_non_finite_samples_are_refused(bad: list[float]) -> None:
    with pytest.raises(ValueError, match="sample"):
        greater(bad, [1.0])


def test_min_sample_size_is_where_significance_becomes_possible() -> None:
    assert min_sample_size(0.02) == 4  # 1/C(8,4) = 0.014; 1/C(6,3) = 0.05
    assert min_sample_size(0.06) == 3
    assert greater([4.0, 5.0, 6.0, 7.0], [0.0, 1.0, 2.0, 3.0]).p_value < 0.02
    assert greater([3.0, 4.0, 5.0], [0.0, 1.0, 2.0]).p_value >= 0.02
