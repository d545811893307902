"""The stage judge: guards per interval, the comparison at the stage's end, data and outages."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from commands.canary.judge import StageJudge
from commands.canary.judgement import Judgement, Metric, Verdict
from commands.canary.memory import JudgeMemory
from commands.config.model import RollbackRules
from commands.platform.state import MetricSeries

START = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
# At a 5 % share, a baseline serving 1900 requests in an interval predicts 100 for the canary.
SHARE = 0.05
BASELINE_REQUESTS = 1900.0


def series(
    requests: float = 100.0,
    errors: float = 0.0,
    latency_ms: float | None = 120.0,
    *,
    kind: str = "p95",
    seconds: float = 30.0,
    target: str = "canary",
) -> MetricSeries:
    return MetricSeries(
        source="prometheus",
        target=target,
        start=START,
        end=START + timedelta(seconds=seconds),
        requests=requests,
        errors=errors,
        latency_ms=latency_ms,
        latency_kind=kind,  # type: ignore[arg-type]
    )


def baseline(
    requests: float = BASELINE_REQUESTS,
    errors: float = 2.0,
    latency_ms: float | None = 120.0,
    *,
    seconds: float = 30.0,
) -> MetricSeries:
    return series(requests, errors, latency_ms, seconds=seconds, target="baseline")


def judge(share: float = SHARE, extensions_left: int = 3, **rules: float) -> StageJudge:
    return StageJudge(
        RollbackRules.model_validate(rules), share=share, extensions_left=extensions_left
    )


def feed(j: StageJudge, canary: MetricSeries, base: MetricSeries, times: int) -> Judgement:
    verdicts = [j.observe(canary, base) for _ in range(times)]
    assert {v.verdict for v in verdicts} == {Verdict.CONTINUE}
    return verdicts[-1]


# -- (a) guards ------------------------------------------------------------------------------
def test_a_healthy_interval_continues_with_a_row_per_metric() -> None:
    result = judge().observe(series(errors=0), baseline())
    assert result.verdict == Verdict.CONTINUE
    assert result.rule is None
    assert [r.metric for r in result.rows] == list(Metric)
    assert all(r.ok for r in result.rows)
    error_rate = result.row(Metric.ERROR_RATE)
    assert (error_rate.canary, error_rate.baseline, error_rate.threshold) == (0, 2 / 1900, 0.01)
    latency = result.row(Metric.LATENCY)
    assert (latency.label, latency.canary, latency.threshold) == ("p95 latency", 120, 500)


@pytest.mark.parametrize(
    ("bad", "rule"),
    [
        (series(errors=5.2), "canary error rate 5.2 % > 1 % for 2 intervals"),
        (series(latency_ms=812), "canary p95 latency 812 ms > 500 ms for 2 intervals"),
        (
            series(requests=60),
            "canary throughput 2 rps < 2.67 rps (80 % of baseline 63.3 rps scaled to a 5 % "
            "share) for 2 intervals",
        ),
    ],
)
def test_each_guard_rolls_back_after_two_failures_in_a_row(bad: MetricSeries, rule: str) -> None:
    j = judge()
    first = j.observe(bad, baseline())
    assert first.verdict == Verdict.CONTINUE
    assert [r.note for r in first.rows if r.ok is False] == ["1 of 2 intervals"]
    second = j.observe(bad, baseline())
    assert (second.verdict, second.rule) == (Verdict.ROLLBACK, rule)


def test_a_good_interval_resets_the_count() -> None:
    j = judge()
    for canary in (series(errors=5), series(errors=0), series(errors=5), series(errors=0)):
        assert j.observe(canary, baseline()).verdict == Verdict.CONTINUE
    assert j.observe(series(errors=5), baseline()).verdict == Verdict.CONTINUE
    assert j.observe(series(errors=5), baseline()).verdict == Verdict.ROLLBACK


@pytest.mark.parametrize("needed", [1, 3, 5])
def test_consecutive_failures_is_configurable(needed: int) -> None:
    j = judge(consecutive_failures=needed)
    verdicts = [j.observe(series(latency_ms=900), baseline()).verdict for _ in range(needed)]
    assert verdicts == [Verdict.CONTINUE] * (needed - 1) + [Verdict.ROLLBACK]


def test_an_interval_with_too_little_data_neither_fails_nor_resets_a_guard() -> None:
    j = judge()
    assert j.observe(series(errors=5), baseline()).verdict == Verdict.CONTINUE
    quiet = j.observe(series(requests=8, errors=4), baseline(requests=152))
    assert quiet.verdict == Verdict.CONTINUE
    assert quiet.row(Metric.ERROR_RATE).ok is None
    assert quiet.row(Metric.ERROR_RATE).note == "too little data (8 < 50 requests)"
    assert quiet.row(Metric.THROUGHPUT).note == "too little traffic expected (8 requests)"
    assert j.observe(series(errors=5), baseline()).verdict == Verdict.ROLLBACK


def test_the_first_guard_in_order_names_the_rule() -> None:
    j = judge(consecutive_failures=1)
    result = j.observe(series(errors=50, latency_ms=900), baseline())
    assert result.rule is not None
    assert result.rule.startswith("canary error rate 50 % > 1 %")
    assert result.row(Metric.LATENCY).ok is False


@pytest.mark.parametrize(
    ("share", "baseline_requests", "canary_requests", "ok"),
    [
        (0.05, 19000, 799, False),  # expects 1000, needs 800
        (0.05, 19000, 801, True),
        (0.25, 15000, 3999, False),  # expects 5000, needs 4000
        (0.25, 15000, 4001, True),
        (0.5, 10000, 7999, False),  # expects 10000, needs 8000
        (0.5, 10000, 8001, True),
        (0.9, 1000, 7199, False),  # expects 9000, needs 7200
        (0.9, 1000, 7201, True),
    ],
)
def test_throughput_is_held_to_the_baseline_scaled_to_the_share(
    share: float, baseline_requests: float, canary_requests: float, ok: bool
) -> None:
    result = judge(share=share).observe(
        series(requests=canary_requests), baseline(requests=baseline_requests)
    )
    row = result.row(Metric.THROUGHPUT)
    assert row.ok is ok
    expected_rps = baseline_requests / 30 * share / (1 - share)
    assert row.threshold == pytest.approx(0.8 * expected_rps)


def test_a_shortfall_random_routing_explains_is_not_a_failure() -> None:
    """11 requests to the baseline and 5 to a 50 % canary: far below the ratio, but one
    interval in twenty looks like that when requests are routed at random."""
    noisy = judge(share=0.5, min_requests=5, min_throughput_ratio=0.8)
    row = noisy.observe(series(requests=5, seconds=1), baseline(requests=11, seconds=1)).row(
        Metric.THROUGHPUT
    )
    assert row.ok is True and "random routing" in row.note, row
    # A canary that gets nothing of 40 requests at 20 % is no accident.
    lost = judge(share=0.2, min_requests=5).observe(
        series(requests=0, seconds=1), baseline(requests=40, seconds=1)
    )
    assert lost.row(Metric.THROUGHPUT).ok is False


def test_throughput_is_not_judged_at_100_percent_or_without_baseline_traffic() -> None:
    full = judge(share=1.0).observe(series(requests=3000), baseline(requests=0, errors=0))
    assert full.verdict == Verdict.CONTINUE
    assert full.row(Metric.THROUGHPUT).note == "no baseline at 100 %"
    idle = judge(share=0.25).observe(series(requests=0), baseline(requests=0, errors=0))
    assert idle.verdict == Verdict.CONTINUE
    assert idle.row(Metric.THROUGHPUT).ok is None


def test_an_average_latency_is_named_so_and_compared_only_with_its_kind() -> None:
    j = judge(consecutive_failures=1)
    result = j.observe(series(latency_ms=620, kind="average"), baseline())
    row = result.row(Metric.LATENCY)
    assert (row.label, row.baseline) == ("average latency", None)
    assert "averages" in row.note
    assert result.rule == (
        "canary average latency 620 ms > 500 ms (a p95 limit; the source reports averages) "
        "for 1 interval"
    )


# -- (b) the comparison -------------------------------------------------------------------------
def noisy_stage(
    j: StageJudge, *, canary_errors: float, canary_latency: float, intervals: int = 20
) -> None:
    rng = random.Random(7)
    for _ in range(intervals):
        canary = series(
            requests=100,
            errors=max(0.0, canary_errors + rng.gauss(0, 0.3)),
            latency_ms=canary_latency + rng.gauss(0, 10),
        )
        base = baseline(
            errors=max(0.0, 4 + rng.gauss(0, 2)),  # ~0.2 %
            latency_ms=200 + rng.gauss(0, 10),
        )
        assert j.observe(canary, base).verdict == Verdict.CONTINUE


def test_a_canary_like_its_baseline_is_promoted() -> None:
    j = judge()
    noisy_stage(j, canary_errors=0.2, canary_latency=200)
    result = j.at_stage_end()
    assert (result.verdict, result.rule) == (Verdict.PROMOTE, None)
    compared = result.row(Metric.ERROR_RATE), result.row(Metric.LATENCY)
    assert all(r.ok and r.p_value is not None and r.p_value >= 0.02 for r in compared)
    assert "over 20 intervals" in compared[1].note


def test_a_canary_significantly_worse_than_its_baseline_is_rolled_back() -> None:
    j = judge()
    noisy_stage(j, canary_errors=0.8, canary_latency=200)  # 0.8 %, under the 1 % guard
    result = j.at_stage_end()
    assert result.verdict == Verdict.ROLLBACK
    assert result.rule is not None
    assert result.rule.startswith("comparison: canary error rate above baseline, median 0.")
    assert "< 0.02 over 20 intervals" in result.rule
    assert result.row(Metric.ERROR_RATE).ok is False


def test_latency_above_the_baseline_but_under_the_guard_is_rolled_back_at_the_end() -> None:
    j = judge()
    noisy_stage(j, canary_errors=0.2, canary_latency=300)
    result = j.at_stage_end()
    assert result.verdict == Verdict.ROLLBACK
    assert result.rule is not None
    assert result.rule.startswith("comparison: canary p95 latency above baseline")


def test_a_little_slower_within_allowed_increase_is_promoted() -> None:
    j = judge()
    noisy_stage(j, canary_errors=0.2, canary_latency=212)  # +6 %, consistently
    assert j.at_stage_end().verdict == Verdict.PROMOTE
    strict = judge(allowed_increase=0)
    noisy_stage(strict, canary_errors=0.2, canary_latency=212)
    assert strict.at_stage_end().verdict == Verdict.ROLLBACK


def test_at_100_percent_the_stage_is_promoted_on_the_guards_alone() -> None:
    j = judge(share=1.0)
    feed(j, series(requests=2000, errors=1), baseline(requests=0, errors=0), times=4)
    result = j.at_stage_end()
    assert result.verdict == Verdict.PROMOTE
    assert result.row(Metric.ERROR_RATE).note == "no baseline at 100 %"


# -- (c) too little data ------------------------------------------------------------------------
def test_too_little_data_extends_up_to_max_extensions_then_pauses_with_a_question() -> None:
    j = judge(extensions_left=2)
    quiet = series(requests=20), baseline(requests=380)
    feed(j, *quiet, times=20)
    first = j.at_stage_end()
    assert first.verdict == Verdict.EXTEND
    assert first.rule == (
        "too little data: 0 of the 4 intervals needed had at least 50 requests on canary and "
        "baseline"
    )
    assert j.extensions_left == 1
    feed(j, *quiet, times=20)
    assert j.at_stage_end().verdict == Verdict.EXTEND
    feed(j, *quiet, times=20)
    paused = j.at_stage_end()
    assert paused.verdict == Verdict.PAUSE
    assert paused.rule is not None
    assert paused.rule.endswith("after 2 extensions")
    assert paused.question is not None
    assert paused.question.startswith("There is too little traffic to judge the canary at 5 %")
    assert "Resume" in paused.question
    assert "Abort" in paused.question


def test_an_extension_that_brings_enough_data_promotes() -> None:
    j = judge()
    feed(j, series(), baseline(), times=2)
    assert j.at_stage_end().verdict == Verdict.EXTEND
    feed(j, series(), baseline(), times=2)
    assert j.at_stage_end().verdict == Verdict.PROMOTE


def test_no_extensions_and_no_observations_pause_at_once() -> None:
    result = judge(extensions_left=0).at_stage_end()
    assert result.verdict == Verdict.PAUSE
    assert result.rule is not None
    assert "after" not in result.rule
    assert len(result.rows) == 4


def test_a_guard_one_failure_short_at_the_stage_end_extends_the_stage() -> None:
    j = judge()
    feed(j, series(), baseline(), times=10)
    j.observe(series(errors=3), baseline())
    result = j.at_stage_end()
    assert result.verdict == Verdict.EXTEND
    assert result.rule == "a guard is failing at the stage's end: error rate (1 of 2 intervals)"


# -- (d) shared dependencies --------------------------------------------------------------------
def test_a_dependency_failing_on_both_sides_pauses_and_counts_nothing() -> None:
    j = judge()
    down = frozenset({"database"})
    for _ in range(5):
        result = j.observe(
            series(errors=60), baseline(errors=1100), canary_failing=down, baseline_failing=down
        )
        assert result.verdict == Verdict.PAUSE
        assert result.rule == "shared dependency failing on canary and baseline: database"
        assert result.question is not None
        assert "Resume once it has recovered" in result.question
    assert j.judged_intervals == 0
    assert j.observe(series(errors=60), baseline()).verdict == Verdict.CONTINUE


def test_a_check_failing_on_the_canary_alone_counts_against_it() -> None:
    j = judge()
    canary_down = {"canary_failing": frozenset({"database", "redis"})}
    first = j.observe(series(), baseline(), **canary_down)
    assert first.verdict == Verdict.CONTINUE
    assert first.row(Metric.HEALTH).note == "canary: database, redis; 1 of 2 intervals"
    second = j.observe(series(), baseline(), **canary_down)
    assert second.verdict == Verdict.ROLLBACK
    assert second.rule == "canary health check failing: database, redis for 2 intervals"


def test_only_the_canary_only_failures_count_when_some_are_shared() -> None:
    j = judge(consecutive_failures=1)
    result = j.observe(
        series(),
        baseline(),
        canary_failing=frozenset({"redis"}),
        baseline_failing=frozenset({"database"}),
    )
    assert result.verdict == Verdict.ROLLBACK
    assert result.rule == "canary health check failing: redis for 1 interval"


def test_a_check_failing_on_the_baseline_alone_does_not_count_against_the_canary() -> None:
    j = judge(consecutive_failures=1)
    result = j.observe(series(), baseline(), baseline_failing=frozenset({"database"}))
    assert result.verdict == Verdict.CONTINUE
    assert result.row(Metric.HEALTH).ok


# -- inputs that must never raise ---------------------------------------------------------------
def test_share_must_be_a_traffic_share() -> None:
    for share in (0.0, -0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match="share"):
            judge(share=share)


odd_numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0.0, -1.0, 1e308])
)


@settings(max_examples=150, deadline=None)
@given(
    share=st.sampled_from([0.01, 0.05, 0.5, 0.99, 1.0]),
    requests=odd_numbers,
    errors=odd_numbers,
    latency=st.one_of(st.none(), odd_numbers),
    seconds=st.sampled_from([0.0, 30.0]),
    base_requests=odd_numbers,
    kind=st.sampled_from(["p95", "average"]),
)
def test_nan_none_negative_and_zero_traffic_never_raise(
    share: float,
    requests: float,
    errors: float,
    latency: float | None,
    seconds: float,
    base_requests: float,
    kind: str,
) -> None:
    j = judge(share=share, extensions_left=1)
    canary = series(requests, errors, latency, kind=kind, seconds=seconds)
    base = baseline(requests=base_requests, errors=errors, latency_ms=latency, seconds=seconds)
    for _ in range(5):
        assert j.observe(canary, base).verdict in Verdict
    assert j.at_stage_end().verdict in Verdict


# -- how often the comparison is wrong ----------------------------------------------------------
def stage_verdict(seed: int, canary_latency: float) -> Verdict:
    """A 50 % stage of 20 intervals; both sides ~0.3 % errors, the baseline at 200 ms."""
    rng = random.Random(seed)
    j = judge(share=0.5)
    for _ in range(20):
        canary = series(1000, rng.choice([2, 3, 4]), canary_latency + rng.gauss(0, 15))
        base = baseline(1000, rng.choice([2, 3, 4]), 200 + rng.gauss(0, 15))
        j.observe(canary, base)
    return j.at_stage_end().verdict


def test_identical_versions_are_almost_never_rolled_back() -> None:
    verdicts = [stage_verdict(seed, canary_latency=200) for seed in range(200)]
    assert verdicts.count(Verdict.ROLLBACK) <= 2


def test_a_canary_30_percent_slower_is_almost_always_rolled_back() -> None:
    verdicts = [stage_verdict(seed, canary_latency=260) for seed in range(100)]
    assert verdicts.count(Verdict.ROLLBACK) >= 98


def test_a_judge_rebuilt_from_its_memory_carries_on_where_it_was() -> None:
    """A restart mid-stage: the failing streak and the comparison's samples survive the JSON."""
    before = judge()
    feed(before, series(), baseline(), 3)
    assert before.observe(series(errors=5), baseline()).verdict == Verdict.CONTINUE  # 1 of 2
    stored = json.loads(json.dumps(before.memory().to_json()))
    after = StageJudge(
        RollbackRules(), share=SHARE, extensions_left=3, memory=JudgeMemory.from_json(stored)
    )
    assert after.judged_intervals == 4
    rolled = after.observe(series(errors=5), baseline())  # the second failure in a row
    assert rolled.verdict == Verdict.ROLLBACK, rolled
    assert rolled.rule is not None and "for 2 intervals" in rolled.rule


def test_a_restored_judge_decides_the_stage_on_the_intervals_from_before_the_restart() -> None:
    before = judge()
    feed(before, series(), baseline(), 5)
    after = StageJudge(
        RollbackRules(), share=SHARE, extensions_left=3, memory=before.memory()
    )  # no interval observed since
    end = after.at_stage_end()
    assert end.verdict == Verdict.PROMOTE, end
    assert len(end.rows) == 4


@pytest.mark.parametrize("stored", [None, [], {"judged_intervals": "4"}, {"streaks": {}}])
def test_a_memory_this_version_did_not_write_is_not_one(stored: object) -> None:
    assert JudgeMemory.from_json(stored) is None
