"""bot.collection: the collector held through start-up, then everything frozen."""

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
def test_release_freezes_start_up_without_a_pass_and_collects_again() -> None:
    collection.hold()
    assert not gc.isenabled()
    start_up = Node()
    start_up.other = start_up  # a cycle of start-up's, in use or not
    kept = weakref.ref(start_up)
    del start_up
    for _ in range(10 * gc.get_threshold()[0]):  # allocations that would start passes
        Node().other = Node()
    assert kept() is not None  # held: no pass ran
    frozen = gc.get_freeze_count()

    collection.release()

    assert gc.isenabled()
    assert gc.get_freeze_count() > frozen
    gc.collect()
    assert kept() is not None  # frozen: no pass looks at it again
    later = Node()
    later.other = later
    gone = weakref.ref(later)
    del later
    gc.collect()
    assert gone() is None  # what is allocated after start-up is collected as ever
