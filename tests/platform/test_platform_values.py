"""Pure parts of the platform: names, URLs, deployables, state views, split planning."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from commands.config import config_from_mapping, reference_mapping
from commands.config.model import Artifact, Environment
from commands.platform.base import (
    Deployable,
    EnvironmentState,
    MetricSeries,
    TargetRef,
    TargetState,
    public_url,
    target_url,
    targets_of,
)
from commands.platform.errors import PlatformError, SwapFailed, Throttled
from commands.platform.monitor import iso_duration, timespan
from commands.platform.swap import swap_outcome
from commands.platform.traffic import (
    Endpoint,
    SplitError,
    normalise_split,
    plan_split,
    split_of,
    weight_for,
)

SUB = "8f2c1a3e-5b7d-4c9e-a1f0-3d6b2e4c8a17"


@pytest.fixture(scope="module")
def envs() -> dict[str, Environment]:
    return dict(config_from_mapping(reference_mapping()).environments)


def test_targets_of_slots(envs: dict[str, Environment]) -> None:
    targets = targets_of(envs["staging"])
    assert list(targets) == ["production", "green"]
    assert targets["green"] == TargetRef(
        SUB, "rg-virtualqueue-staging", "virtualqueue-staging", "green"
    )
    assert targets["green"].resource_id == (
        f"/subscriptions/{SUB}/resourceGroups/rg-virtualqueue-staging"
        "/providers/Microsoft.Web/sites/virtualqueue-staging/slots/green"
    )
    assert targets["green"].label == "virtualqueue-staging/green"
    assert targets["production"].label == "virtualqueue-staging"
    assert targets["green"].site == targets["production"]


def test_targets_of_traffic_manager(envs: dict[str, Environment]) -> None:
    targets = targets_of(envs["prod"])
    assert {name: ref.app for name, ref in targets.items()} == {
        "blue": "virtualqueue-production-blue",
        "green": "virtualqueue-production-green",
        "canary": "virtualqueue-production-canary",
    }
    assert all(ref.slot is None for ref in targets.values())


def test_default_urls(envs: dict[str, Environment]) -> None:
    assert (
        target_url(envs["staging"], "green")
        == "https://virtualqueue-staging-green.azurewebsites.net"
    )
    assert (
        target_url(envs["staging"], "production")
        == "https://virtualqueue-staging.azurewebsites.net"
    )
    assert public_url(envs["staging"]) == "https://virtualqueue-staging.azurewebsites.net"
    assert (
        target_url(envs["prod"], "canary")
        == "https://virtualqueue-production-canary.azurewebsites.net"
    )
    assert public_url(envs["prod"]) == "https://virtualqueue-production-tm.trafficmanager.net"


def test_url_overrides_win(envs: dict[str, Environment]) -> None:
    env = envs["prod"].model_copy(
        update={
            "urls": envs["prod"].urls.model_copy(
                update={"public": "http://127.0.0.1:9/", "targets": {"blue": "http://127.0.0.1:8"}}
            )
        }
    )
    assert public_url(env) == "http://127.0.0.1:9"
    assert target_url(env, "blue") == "http://127.0.0.1:8"
    assert target_url(env, "green").endswith("virtualqueue-production-green.azurewebsites.net")


def test_unknown_target_is_a_clear_error(envs: dict[str, Environment]) -> None:
    with pytest.raises(ValueError, match="has no target 'purple'"):
        target_url(envs["prod"], "purple")


def test_deployable_from_artifact() -> None:
    package = Deployable.of(Artifact(package_url="https://a.example/app/{version}.zip"), "v1.2.0")
    assert package == Deployable("v1.2.0", "https://a.example/app/v1.2.0.zip", None, "APP_VERSION")
    image = Deployable.of(Artifact(image="acr.example/app:{version}", version_setting="V"), "v2")
    assert (image.image, image.package_url, image.version_setting) == (
        "acr.example/app:v2",
        None,
        "V",
    )


@pytest.mark.parametrize("bad", ["", "v1 2", "../etc", "<!channel>", "v1/2", "x" * 65])
def test_deployable_refuses_odd_versions(bad: str) -> None:
    with pytest.raises(ValueError, match="is not a version"):
        Deployable.of(Artifact(package_url="https://a.example/{version}.zip"), bad)


def _target(name: str, percent: float, version: str = "v1") -> TargetState:
    ref = TargetRef(SUB, "rg", f"app-{name}")
    return TargetState(name, ref, version, "Running", f"{name}.host", percent, percent > 0)


def test_state_views() -> None:
    state = EnvironmentState(
        "prod",
        "traffic-manager",
        (_target("blue", 95, "v1"), _target("green", 0, "v0"), _target("canary", 5, "v2")),
        live="blue",
    )
    assert state.live_version == "v1"
    assert state.idle == "green"
    assert state.split == {"blue": 95, "green": 0, "canary": 5}
    slots = EnvironmentState(
        "stg", "slots", (_target("production", 100), _target("green", 0)), live="production"
    )
    assert slots.idle == "green"
    nothing = EnvironmentState("prod", "traffic-manager", (_target("blue", 0),), live=None)
    assert (nothing.live_version, nothing.idle) == (None, None)


def test_metric_series_rates() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    series = MetricSeries(
        "scrape", "canary", start, start + timedelta(seconds=10), 200, 3, 12.0, "p95"
    )
    assert series.error_rate == pytest.approx(0.015)
    assert series.rps == pytest.approx(20)
    empty = MetricSeries("scrape", "canary", start, start, 0, 0, None, "p95")
    assert (empty.error_rate, empty.rps) == (None, None)


def test_weights_keep_the_ratio() -> None:
    assert (weight_for(5), weight_for(95)) == (50, 950)
    assert (weight_for(25), weight_for(75)) == (250, 750)
    assert weight_for(100) == 1000
    assert weight_for(0.01) == 1  # never 0: a weight of 0 is invalid


@pytest.mark.parametrize(
    ("percents", "message"),
    [
        ({"blue": 50}, "add up to 50"),
        ({"blue": 120, "green": -20}, "not between 0 and 100"),
        ({"purple": 100}, "unknown target 'purple'"),
        ({"blue": float("nan"), "green": 100}, "not between"),
    ],
)
def test_bad_splits_are_refused(percents: dict[str, float], message: str) -> None:
    with pytest.raises(SplitError, match=message):
        normalise_split(["blue", "green", "canary"], percents)


def test_flip_enables_before_disabling() -> None:
    current = {
        "blue": Endpoint("blue", 100, True),
        "green": Endpoint("green", 1, False),
        "canary": Endpoint("canary", 1, False),
    }
    plan = plan_split(current, normalise_split(current, {"green": 100}))
    assert [(c.name, c.weight, c.enabled) for c in plan] == [
        ("green", 1000, True),
        ("blue", None, False),
    ]


def test_canary_step_reweights_then_enables() -> None:
    current = {"blue": Endpoint("blue", 100, True), "canary": Endpoint("canary", 1, False)}
    plan = plan_split(current, {"blue": 95, "canary": 5})
    assert [(c.name, c.weight, c.enabled) for c in plan] == [
        ("blue", 950, None),
        ("canary", 50, True),
    ]
    assert (
        plan_split(
            {"blue": Endpoint("blue", 950, True), "canary": Endpoint("canary", 50, True)},
            {"blue": 95, "canary": 5},
        )
        == []
    )


def test_split_of_weights() -> None:
    split = split_of(
        [Endpoint("blue", 950, True), Endpoint("canary", 50, True), Endpoint("g", 1, False)]
    )
    assert split == {"blue": 95.0, "canary": 5.0, "g": 0.0}


endpoints = st.fixed_dictionaries(
    {n: st.tuples(st.integers(1, 1000), st.booleans()) for n in ("blue", "green", "canary")}
).filter(lambda d: any(enabled for _, enabled in d.values()))
splits = st.tuples(st.integers(0, 100), st.integers(0, 100)).map(
    lambda ab: [min(ab), max(ab) - min(ab), 100 - max(ab)]
)


@given(endpoints, splits)
def test_every_plan_keeps_an_endpoint_enabled_and_lands_on_the_split(
    start: dict[str, tuple[int, bool]], percents: list[int]
) -> None:
    current = {n: Endpoint(n, w, e) for n, (w, e) in start.items()}
    split = dict(zip(("blue", "green", "canary"), map(float, percents), strict=True))
    state = dict(current)
    for change in plan_split(current, split):
        old = state[change.name]
        state[change.name] = Endpoint(
            old.name,
            change.weight if change.weight is not None else old.weight,
            change.enabled if change.enabled is not None else old.enabled,
        )
        assert any(e.enabled for e in state.values())
        assert all(1 <= e.weight <= 1000 for e in state.values())
    assert split_of(state.values()) == pytest.approx(split, abs=0.1)


def test_swap_outcome() -> None:
    before = ({"APP_VERSION": "v2", "S": "green"}, {"APP_VERSION": "v1", "S": "prod"})
    # a sticky setting (S) stays; the version moved across
    swapped = ({"APP_VERSION": "v1", "S": "green"}, {"APP_VERSION": "v2", "S": "prod"})
    assert swap_outcome(before, swapped) == "swapped"
    assert swap_outcome(before, before) == "not swapped"
    same = ({"APP_VERSION": "v1"}, {"APP_VERSION": "v1"})
    assert swap_outcome(same, same) == "unknown"


def test_metric_query_strings() -> None:
    start = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
    assert (
        timespan(start, start + timedelta(minutes=5)) == "2026-11-21T10:00:00Z/2026-11-21T10:05:00Z"
    )
    assert [iso_duration(timedelta(seconds=s)) for s in (60, 300, 3600, 86400, 30)] == [
        "PT1M",
        "PT5M",
        "PT1H",
        "P1D",
        "PT30S",
    ]
    with pytest.raises(ValueError, match="before it starts"):
        timespan(start, start)
    with pytest.raises(ValueError, match="timezone-aware"):
        timespan(start.replace(tzinfo=None), start.replace(tzinfo=None) + timedelta(minutes=1))


def test_errors_read_well() -> None:
    error = SwapFailed(
        "swap",
        "virtualqueue-staging/green → production",
        "SwapFailed",
        "Cannot swap: the warm-up of the slot failed.",
        409,
    )
    assert str(error) == (
        "swap on virtualqueue-staging/green → production failed: SwapFailed (HTTP 409): "
        "Cannot swap: the warm-up of the slot failed"
    )
    throttled = Throttled("read site", "app", "TooManyRequests", "Slow down", retry_after_s=2)
    assert isinstance(throttled, PlatformError)
    assert "was throttled: TooManyRequests (HTTP 429)" in str(throttled)
    assert throttled.retry_after_s == 2
