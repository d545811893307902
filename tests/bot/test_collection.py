"""bot.collection: the collector held through start-up, then one pass and a freeze."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from bot import collection


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


@pytest.fixture
def restored_collector() -> Iterator[None]:
    was_enabled = gc.isenabled()
    try:
        yield
    finally:
        gc.unfreeze()  # this test process keeps collecting everything it allocates
        if was_enabled:
            gc.enable()
        else:
            gc.disable()


@pytest.mark.usefixtures("restored_collector")
def test_release_frees_start_up_cycles_freezes_the_survivors_and_collects_again() -> None:
    collection.hold()
    assert not gc.isenabled()
    garbage, survivor = Node(), Node()
    garbage.other, garbage.other.other = Node(), garbage  # a cycle nobody refers to
    survivor.other = survivor
    gone, kept = weakref.ref(garbage), weakref.ref(survivor)
    del garbage
    for _ in range(10 * gc.get_threshold()[0]):  # allocations that would start passes
        Node().other = Node()
    assert gone() is not None  # held: no pass ran
    frozen = gc.get_freeze_count()

    collection.release()

    assert gc.isenabled()
    assert gone() is None
    assert kept() is survivor
    assert gc.get_freeze_count() > frozen
