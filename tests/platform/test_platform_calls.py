"""The call runner: which failures are retried, how long it waits, what the observer sees."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from commands.platform.calls import Caller, RetryPolicy, is_retryable
from commands.platform.errors import (
    Conflict,
    NotFound,
    PlatformError,
    PlatformTimeout,
    ServerError,
    Throttled,
    Unreachable,
)


class StepClock:
    """``sleep`` records the delay and moves the clock instead of waiting."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


Calls = list[tuple[str, str, str, float, str | None]]


def make_caller(
    clock: StepClock,
    calls: Calls,
    *,
    retries: int = 3,
    timeout_s: float = 5.0,
    attempt_timeout_s: float | None = None,
) -> Caller:
    return Caller(
        timeout_s=timeout_s,
        retry=RetryPolicy(retries=retries, base_delay_s=0.5, max_delay_s=4.0, max_retry_after_s=10),
        clock=clock,
        attempt_timeout_s=attempt_timeout_s,
        jitter=lambda: 1.0,
        on_call=lambda *args: calls.append(args),
    )


def failing(*errors: Exception, result: str = "done") -> Callable[[], Awaitable[str]]:
    pending = list(errors)

    async def attempt() -> str:
        if pending:
            raise pending.pop(0)
        return result

    return attempt


def server_error() -> ServerError:
    return ServerError("read site", "app", "InternalServerError", "boom", 500)


async def test_success_is_observed_once() -> None:
    clock, calls = StepClock(), []
    assert await make_caller(clock, calls).call("read site", "app", failing()) == "done"
    assert [c[2] for c in calls] == ["ok"]
    assert calls[0][:2] == ("read site", "app")


async def test_throttling_honours_retry_after_with_a_cap() -> None:
    clock, calls = StepClock(), []
    attempt = failing(
        Throttled("read site", "app", "TooManyRequests", "slow down", retry_after_s=3),
        Throttled("read site", "app", "TooManyRequests", "slow down", retry_after_s=60),
    )
    assert (
        await make_caller(clock, calls, timeout_s=120).call("read site", "app", attempt) == "done"
    )
    assert clock.sleeps == [3, 10]
    assert [(c[2], c[4]) for c in calls] == [
        ("retry", "TooManyRequests"),
        ("retry", "TooManyRequests"),
        ("ok", None),
    ]


async def test_throttling_is_retried_even_for_unsafe_operations() -> None:
    clock, calls = StepClock(), []
    attempt = failing(Throttled("swap", "app", "TooManyRequests", "later", retry_after_s=1))
    assert await make_caller(clock, calls).call("swap", "app", attempt, safe=False) == "done"


async def test_server_errors_back_off_exponentially_when_safe() -> None:
    clock, calls = StepClock(), []
    caller = make_caller(clock, calls, retries=3)
    attempt = failing(server_error(), server_error(), server_error())
    assert await caller.call("read site", "app", attempt) == "done"
    assert clock.sleeps == [0.5, 1.0, 2.0]


async def test_server_errors_exhaust_the_retries() -> None:
    clock, calls = StepClock(), []
    attempt = failing(*(server_error() for _ in range(5)))
    with pytest.raises(ServerError, match="hit a server error: InternalServerError"):
        await make_caller(clock, calls, retries=2).call("read site", "app", attempt)
    assert [c[2] for c in calls] == ["retry", "retry", "error"]


async def test_unsafe_operations_are_not_repeated_after_a_server_error() -> None:
    clock, calls = StepClock(), []
    with pytest.raises(ServerError):
        await make_caller(clock, calls).call("swap", "app", failing(server_error()), safe=False)
    assert clock.sleeps == []


@pytest.mark.parametrize(
    ("code", "safe", "retried"),
    [
        ("ConnectionFailed", False, True),  # never reached the server
        ("NoResponse", False, False),  # may have been executed
        ("NoResponse", True, True),
    ],
)
async def test_connection_errors(code: str, safe: bool, retried: bool) -> None:
    clock, calls = StepClock(), []
    attempt = failing(Unreachable("op", "app", code, "refused"))
    caller = make_caller(clock, calls)
    if retried:
        assert await caller.call("op", "app", attempt, safe=safe) == "done"
    else:
        with pytest.raises(Unreachable):
            await caller.call("op", "app", attempt, safe=safe)


@pytest.mark.parametrize(
    "error",
    [
        NotFound("read site", "app", "ResourceNotFound", "no such app", 404),
        Conflict("update", "app", "Conflict", "busy", 409),
    ],
)
async def test_client_errors_are_final(error: PlatformError) -> None:
    clock, calls = StepClock(), []
    with pytest.raises(type(error)):
        await make_caller(clock, calls).call("op", "app", failing(error))
    assert [c[2] for c in calls] == ["error"]


async def test_no_retry_when_the_wait_would_outlast_the_budget() -> None:
    clock, calls = StepClock(), []
    attempt = failing(Throttled("read site", "app", "TooManyRequests", "later", retry_after_s=10))
    with pytest.raises(Throttled):
        await make_caller(clock, calls, timeout_s=2).call("read site", "app", attempt)
    assert clock.sleeps == []


async def test_a_hang_ends_in_a_typed_timeout() -> None:
    clock, calls = StepClock(), []
    never = asyncio.Event()

    async def hang() -> str:
        await never.wait()
        return "unreachable"

    with pytest.raises(PlatformTimeout, match=r"timed out: Timeout: no answer within 0\.05 s"):
        await make_caller(clock, calls, timeout_s=0.05).call("read site", "app", hang)
    assert [(c[2], c[4]) for c in calls] == [("error", "Timeout")]


def hanging(*hangs: float, result: str = "done") -> tuple[Callable[[], Awaitable[str]], list[int]]:
    """Attempt n sleeps ``hangs[n]`` seconds (in real time) before answering; counts attempts."""
    started: list[int] = []

    async def attempt() -> str:
        started.append(len(started))
        if len(started) <= len(hangs):
            await asyncio.sleep(hangs[len(started) - 1])
        return result

    return attempt, started


async def test_a_hung_attempt_of_a_read_is_sent_again() -> None:
    clock, calls = StepClock(), []
    caller = make_caller(clock, calls, timeout_s=5, attempt_timeout_s=0.05)
    attempt, started = hanging(30)
    assert await caller.call("read site", "app", attempt, retry_hung=True) == "done"
    assert len(started) == 2
    assert [(c[2], c[4]) for c in calls] == [("retry", "Timeout"), ("ok", None)]
    assert clock.sleeps == [0.5]  # the usual backoff between the attempts


async def test_hung_attempts_exhaust_the_retries_with_a_typed_timeout() -> None:
    clock, calls = StepClock(), []
    caller = make_caller(clock, calls, retries=2, timeout_s=5, attempt_timeout_s=0.02)
    attempt, started = hanging(30, 30, 30, 30)
    with pytest.raises(PlatformTimeout, match=r"timed out: Timeout: no answer within 0\.02 s"):
        await caller.call("read site", "app", attempt, retry_hung=True)
    assert len(started) == 3
    assert [(c[2], c[4]) for c in calls] == [("retry", "Timeout")] * 2 + [("error", "Timeout")]


async def test_the_budget_still_caps_all_the_attempts() -> None:
    clock, calls = StepClock(), []
    caller = make_caller(clock, calls, retries=10, timeout_s=0.25, attempt_timeout_s=0.1)
    clock.sleep = asyncio.sleep  # type: ignore[method-assign]  # backoff that takes real time
    caller.retry = RetryPolicy(retries=10, base_delay_s=0.01, max_delay_s=0.01)
    attempt, started = hanging(*([30] * 10))
    loop = asyncio.get_running_loop()
    began = loop.time()
    with pytest.raises(PlatformTimeout, match=r"no answer within 0\.25 s"):
        await caller.call("read site", "app", attempt, retry_hung=True)
    assert loop.time() - began < 1
    assert 2 <= len(started) <= 3
    assert calls[-1][2:5:2] == ("error", "Timeout")


async def test_an_attempt_never_gets_more_than_the_budget_left() -> None:
    clock, calls = StepClock(), []
    caller = make_caller(clock, calls, timeout_s=0.05, attempt_timeout_s=10)
    attempt, _ = hanging(30)
    with pytest.raises(PlatformTimeout, match=r"no answer within 0\.05 s"):
        await caller.call("read site", "app", attempt, retry_hung=True)
    assert [(c[2], c[4]) for c in calls] == [("error", "Timeout")]


async def test_without_retry_hung_an_attempt_has_the_whole_budget() -> None:
    """A write, or an unsafe operation: a slow answer is waited for, never cut short and sent
    again (the abandoned request could still be carried out after its repeat)."""
    clock, calls = StepClock(), []
    caller = make_caller(clock, calls, timeout_s=5, attempt_timeout_s=0.02)
    attempt, started = hanging(0.1)
    assert await caller.call("swap", "app", attempt, safe=False) == "done"
    assert await caller.call("update app settings", "app", hanging(0.1)[0]) == "done"
    assert len(started) == 1
    assert [c[2] for c in calls] == ["ok", "ok"]


async def test_a_hung_unsafe_operation_is_not_sent_again() -> None:
    clock, calls = StepClock(), []
    caller = make_caller(clock, calls, timeout_s=0.1, attempt_timeout_s=0.02)
    attempt, started = hanging(30)
    with pytest.raises(PlatformTimeout, match=r"no answer within 0\.1 s"):
        await caller.call("swap", "app", attempt, safe=False)
    assert len(started) == 1
    assert [(c[2], c[4]) for c in calls] == [("error", "Timeout")]
    with pytest.raises(ValueError, match="only a safe operation"):
        await caller.call("swap", "app", attempt, safe=False, retry_hung=True)


def test_a_timeout_is_retryable_only_when_safe() -> None:
    timeout = PlatformTimeout("read site", "app", "Timeout", "no answer within 10 s")
    assert is_retryable(timeout, safe=True)
    assert not is_retryable(timeout, safe=False)


async def test_unexpected_exceptions_become_platform_errors() -> None:
    clock, calls = StepClock(), []
    with pytest.raises(PlatformError, match="Unexpected") as caught:
        await make_caller(clock, calls).call("read site", "app", failing(KeyError("x")))
    assert type(caught.value) is PlatformError
    assert isinstance(caught.value.__cause__, KeyError)


def test_backoff_is_bounded_and_jittered() -> None:
    policy = RetryPolicy(base_delay_s=1, max_delay_s=8)
    assert [policy.delay(n, None, 1.0) for n in range(6)] == [1, 2, 4, 8, 8, 8]
    assert policy.delay(2, None, 0.0) == 2  # jitter keeps at least half the backoff
    assert policy.delay(0, 0.0, 0.5) == 0.0  # Retry-After: 0 means now


async def test_a_failing_observer_does_not_abort_the_call(caplog: pytest.LogCaptureFixture) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("audit database is locked")

    caller = Caller(timeout_s=1, retry=RetryPolicy(), clock=StepClock(), on_call=broken)
    assert await caller.call("read site", "app", failing()) == "done"
    assert "the call observer failed for read site on app" in caplog.text
