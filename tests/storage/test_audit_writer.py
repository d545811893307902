"""GroupCommit on its own: batching, order, failures and cancellation, step by step.

The batch function here keeps rows in a list and can be held open with a gate, so each test
decides exactly which callers are queued while a batch is in flight.
"""

from __future__ import annotations

import asyncio

import pytest

from storage.audit_writer import GroupCommit


class BatchFailedError(Exception):
    pass


class Ledger:
    """Writes batches to a list; ``gate`` holds a batch open; a batch holding an item in
    ``poison`` fails as a whole."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.started = asyncio.Event()
        self.gate = asyncio.Event()
        self.gate.set()
        self.poison: set[int] = set()

    async def write(self, items: list[int]) -> list[str]:
        self.started.set()
        await self.gate.wait()
        if self.poison.intersection(items):
            raise BatchFailedError(f"batch {items} failed")
        self.batches.append(items)
        return [f"row-{item}" for item in items]

    @property
    def written(self) -> list[int]:
        return [item for batch in self.batches for item in batch]

    async def hold_next_batch(self, writer: GroupCommit[int, str], item: int) -> asyncio.Task[str]:
        """Submit ``item`` and return once its batch is in flight and held at the gate."""
        self.gate.clear()
        self.started.clear()
        task = asyncio.create_task(writer.submit(item))
        await self.started.wait()
        return task


async def queued(*items: int, writer: GroupCommit[int, str]) -> list[asyncio.Task[str]]:
    tasks = [asyncio.create_task(writer.submit(item)) for item in items]
    await asyncio.sleep(0)  # one loop pass: every task has queued its item and is waiting
    return tasks


async def test_a_burst_is_one_batch_in_call_order() -> None:
    ledger = Ledger()
    writer = GroupCommit(ledger.write)
    results = await asyncio.gather(*(writer.submit(n) for n in range(100)))
    assert results == [f"row-{n}" for n in range(100)]
    assert ledger.batches == [list(range(100))]


async def test_batches_are_bounded_and_stay_in_order() -> None:
    ledger = Ledger()
    writer = GroupCommit(ledger.write, max_batch=10)
    results = await asyncio.gather(*(writer.submit(n) for n in range(35)))
    assert results == [f"row-{n}" for n in range(35)]
    assert [len(batch) for batch in ledger.batches] == [10, 10, 10, 5]
    assert ledger.written == list(range(35))


async def test_callers_arriving_during_a_batch_share_the_next_one() -> None:
    ledger = Ledger()
    writer = GroupCommit(ledger.write)
    first = await ledger.hold_next_batch(writer, 0)
    later = await queued(1, 2, 3, writer=writer)
    ledger.gate.set()
    assert await asyncio.gather(first, *later) == ["row-0", "row-1", "row-2", "row-3"]
    assert ledger.batches == [[0], [1, 2, 3]]


async def test_a_sequential_caller_gets_one_batch_per_item() -> None:
    ledger = Ledger()
    writer = GroupCommit(ledger.write)
    for n in range(3):
        assert await writer.submit(n) == f"row-{n}"
    assert ledger.batches == [[0], [1], [2]]


async def test_a_failed_batch_fails_every_caller_in_it_and_the_next_batch_works() -> None:
    ledger = Ledger()
    writer = GroupCommit(ledger.write)
    first = await ledger.hold_next_batch(writer, 0)
    doomed = await queued(1, 2, 3, writer=writer)
    ledger.poison = {2}
    ledger.gate.set()
    assert await first == "row-0"
    outcomes = await asyncio.gather(*doomed, return_exceptions=True)
    assert all(isinstance(outcome, BatchFailedError) for outcome in outcomes)
    assert {str(outcome) for outcome in outcomes} == {"batch [1, 2, 3] failed"}
    assert list(await asyncio.gather(writer.submit(4), writer.submit(5))) == ["row-4", "row-5"]
    assert ledger.batches == [[0], [4, 5]]


async def test_a_wrong_result_count_fails_the_batch() -> None:
    async def short(items: list[int]) -> list[str]:
        return ["only one"]

    writer = GroupCommit(short)
    outcomes = await asyncio.gather(writer.submit(1), writer.submit(2), return_exceptions=True)
    assert [str(outcome) for outcome in outcomes] == [
        "write_batch returned 1 results for 2 items"
    ] * 2


def test_max_batch_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_batch must be at least 1"):
        GroupCommit(Ledger().write, max_batch=0)


async def test_a_caller_cancelled_while_queued_is_never_written() -> None:
    ledger = Ledger()
    writer = GroupCommit(ledger.write)
    first = await ledger.hold_next_batch(writer, 0)
    front, middle, last = await queued(1, 2, 3, writer=writer)
    front.cancel()
    middle.cancel()
    ledger.gate.set()
    assert list(await asyncio.gather(first, last)) == ["row-0", "row-3"]
    for cancelled in (front, middle):
        with pytest.raises(asyncio.CancelledError):
            await cancelled
    assert ledger.batches == [[0], [3]]


async def test_a_caller_cancelled_before_the_writer_takes_the_batch_is_left_out() -> None:
    ledger = Ledger()
    writer = GroupCommit(ledger.write)
    first, second, third = await queued(0, 1, 2, writer=writer)
    # The writer (0) has yielded once before taking the batch; cancel 1 in that gap.
    second.cancel()
    assert list(await asyncio.gather(first, third)) == ["row-0", "row-2"]
    with pytest.raises(asyncio.CancelledError):
        await second
    assert ledger.batches == [[0, 2]]


async def test_a_cancelled_writer_still_finishes_its_batch_for_everyone() -> None:
    ledger = Ledger()
    writer = GroupCommit(ledger.write)
    ledger.gate.clear()
    held, alongside = await queued(0, 1, writer=writer)
    await ledger.started.wait()  # 0 is writing the batch [0, 1]
    (behind,) = await queued(2, writer=writer)
    held.cancel()
    await asyncio.sleep(0)
    assert not held.done()  # the cancellation waits for the batch in flight
    ledger.gate.set()
    with pytest.raises(asyncio.CancelledError):
        await held
    assert list(await asyncio.gather(alongside, behind)) == ["row-1", "row-2"]
    assert ledger.batches == [[0, 1], [2]]


async def test_a_caller_cancelled_after_its_batch_started_is_still_written() -> None:
    ledger = Ledger()
    writer = GroupCommit(ledger.write)
    ledger.gate.clear()
    first, second = await queued(0, 1, writer=writer)
    await ledger.started.wait()
    second.cancel()
    ledger.gate.set()
    assert await first == "row-0"
    with pytest.raises(asyncio.CancelledError):
        await second
    assert ledger.batches == [[0, 1]]
    assert await writer.submit(2) == "row-2"


async def test_a_caller_cancelled_just_after_being_woken_to_write_hands_over() -> None:
    ledger = Ledger()
    writer = GroupCommit(ledger.write)
    victims: list[asyncio.Task[str]] = []

    async def submit_then_cancel_the_next_writer(item: int) -> str:
        result = await writer.submit(item)
        # Settled just before the next writer is woken, so this runs before it does.
        victims[0].cancel()
        return result

    ledger.gate.clear()
    first = asyncio.create_task(writer.submit(0))
    canceller = asyncio.create_task(submit_then_cancel_the_next_writer(1))
    await ledger.started.wait()  # the batch [0, 1] is in flight
    woken, last = await queued(2, 3, writer=writer)
    victims.append(woken)
    ledger.gate.set()
    assert list(await asyncio.gather(first, canceller, last)) == ["row-0", "row-1", "row-3"]
    with pytest.raises(asyncio.CancelledError):
        await woken
    assert ledger.batches == [[0, 1], [3]]


async def test_a_woken_writer_cancelled_with_the_next_caller_hands_over_past_both() -> None:
    ledger = Ledger()
    writer = GroupCommit(ledger.write)
    victims: list[asyncio.Task[str]] = []

    async def submit_then_cancel_the_next_two(item: int) -> str:
        result = await writer.submit(item)
        for victim in victims:  # neither has run since: the next writer is woken after this
            victim.cancel()
        return result

    ledger.gate.clear()
    first = asyncio.create_task(writer.submit(0))
    canceller = asyncio.create_task(submit_then_cancel_the_next_two(1))
    await ledger.started.wait()
    woken, behind, last = await queued(2, 3, 4, writer=writer)
    victims.extend((woken, behind))
    ledger.gate.set()
    assert list(await asyncio.gather(first, canceller, last)) == ["row-0", "row-1", "row-4"]
    for victim in victims:
        with pytest.raises(asyncio.CancelledError):
            await victim
    assert ledger.batches == [[0, 1], [4]]
