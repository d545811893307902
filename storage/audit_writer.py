"""Group commit: concurrent submissions in one process share one write transaction.

Callers queue their items in call order. The caller whose item is at the front of the queue
while no batch is in flight is the *writer*: it takes up to ``max_batch`` queued items,
writes them with one call to ``write_batch`` (one transaction, one fsync), settles every
caller in the batch with its own result (or the batch's error), and then wakes the caller
now at the front of the queue to write the next batch. Items that arrive while a batch is
being written wait and go into the next batch together.

There is no background task: every batch is written by one of the callers it holds, and
that caller returns only after the batch has finished, so nothing outlives its callers or
the database they write to.

Cancellation: a caller cancelled while its item is still queued takes the item out of the
queue, so it is never written. Once the item's batch has started, the batch runs to the end
regardless (a half-finished commit would leave the outcome in doubt for everyone in it): the
item is written, and a cancelled writer re-raises its cancellation only after the batch is
settled.
"""

from __future__ import annotations

import asyncio
import enum
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

__all__ = ["DEFAULT_MAX_BATCH", "GroupCommit"]

DEFAULT_MAX_BATCH = 500

ItemT = TypeVar("ItemT")
ResultT = TypeVar("ResultT")


class _YourTurn:
    """What a waiting caller receives instead of a result when it becomes the writer."""


_YOUR_TURN = _YourTurn()


class _State(enum.Enum):
    QUEUED = "queued"
    IN_BATCH = "in batch"
    WITHDRAWN = "withdrawn"


@dataclass(eq=False, slots=True)
class _Pending(Generic[ItemT, ResultT]):
    item: ItemT
    outcome: asyncio.Future[ResultT | _YourTurn]
    state: _State = field(default=_State.QUEUED)


class GroupCommit(Generic[ItemT, ResultT]):
    """Write items submitted concurrently in batches, in submission order.

    ``write_batch(items)`` must write every item in one transaction (all or nothing) and
    return one result per item, in order.
    """

    def __init__(
        self,
        write_batch: Callable[[list[ItemT]], Awaitable[list[ResultT]]],
        *,
        max_batch: int = DEFAULT_MAX_BATCH,
    ) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, got {max_batch}")
        self._write_batch = write_batch
        self._max_batch = max_batch
        self._queue: deque[_Pending[ItemT, ResultT]] = deque()
        # The caller that writes next (or is writing now); None when the queue is idle.
        self._writer: _Pending[ItemT, ResultT] | None = None

    async def submit(self, item: ItemT) -> ResultT:
        """Queue ``item``; return its result once its batch is committed, or raise its error."""
        pending: _Pending[ItemT, ResultT] = _Pending(
            item, asyncio.get_running_loop().create_future()
        )
        self._queue.append(pending)
        try:
            if self._writer is None:
                self._writer = pending
            else:
                outcome = await pending.outcome
                if not isinstance(outcome, _YourTurn):
                    return outcome
            # Callers already scheduled in this loop pass (a burst) join this batch.
            await asyncio.sleep(0)
        except asyncio.CancelledError:
            self._withdraw(pending)
            raise
        return await self._write_next_batch(pending)

    def _withdraw(self, pending: _Pending[ItemT, ResultT]) -> None:
        if pending.outcome.done() and not pending.outcome.cancelled():
            pending.outcome.exception()  # mark a batch error as seen: nobody awaits it now
        if pending.state is _State.QUEUED:
            pending.state = _State.WITHDRAWN
            self._queue.remove(pending)
        if self._writer is pending:
            self._hand_over()
        # An item already in a batch stays there: that batch writes it.

    def _hand_over(self) -> None:
        """Make the caller at the front of the queue the next writer, and wake it."""
        while self._queue:
            front = self._queue[0]
            if not front.outcome.cancelled():
                self._writer = front
                front.outcome.set_result(_YOUR_TURN)
                return
            # Cancelled, but its task has not run yet to withdraw itself: drop it here.
            front.state = _State.WITHDRAWN
            self._queue.popleft()
        self._writer = None

    def _take_batch(self) -> list[_Pending[ItemT, ResultT]]:
        batch: list[_Pending[ItemT, ResultT]] = []
        while self._queue and len(batch) < self._max_batch:
            pending = self._queue.popleft()
            if pending.outcome.cancelled():  # its caller gave up before the batch started
                pending.state = _State.WITHDRAWN
                continue
            pending.state = _State.IN_BATCH
            batch.append(pending)
        return batch

    async def _write_next_batch(self, own: _Pending[ItemT, ResultT]) -> ResultT:
        batch = self._take_batch()
        items = [pending.item for pending in batch]
        task: asyncio.Task[list[ResultT]] | None = None
        cancelled = False
        try:
            task = asyncio.ensure_future(self._write_batch(items))
            while not task.done():
                try:
                    # wait() leaves the task running when this caller is cancelled.
                    await asyncio.wait((task,))
                except asyncio.CancelledError:
                    cancelled = True
        finally:
            results = _settle(batch, own, task)
            self._hand_over()
        if cancelled:
            raise asyncio.CancelledError
        if isinstance(results, BaseException):
            raise results
        return results


def _settle(
    batch: Sequence[_Pending[ItemT, ResultT]],
    own: _Pending[ItemT, ResultT],
    task: asyncio.Task[list[ResultT]] | None,
) -> ResultT | BaseException:
    """Give every other caller in ``batch`` its result or the error; return ``own``'s."""
    outcome: list[ResultT] | BaseException
    if task is None or not task.done():
        outcome = RuntimeError("the audit batch was abandoned before it finished")
    elif task.cancelled():
        outcome = asyncio.CancelledError()
    elif (error := task.exception()) is not None:
        outcome = error
    else:
        outcome = task.result()
        if len(outcome) != len(batch):
            outcome = RuntimeError(
                f"write_batch returned {len(outcome)} results for {len(batch)} items"
            )
    own_result: ResultT | BaseException = RuntimeError("the writer's item was not in its batch")
    for index, pending in enumerate(batch):
        result = outcome if isinstance(outcome, BaseException) else outcome[index]
        if pending is own:
            own_result = result
        elif pending.outcome.done():
            continue  # its caller was cancelled while the batch ran
        elif isinstance(result, asyncio.CancelledError):
            pending.outcome.cancel()
        elif isinstance(result, BaseException):
            pending.outcome.set_exception(result)
        else:
            pending.outcome.set_result(result)
    return own_result
