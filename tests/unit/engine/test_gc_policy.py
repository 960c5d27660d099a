import gc
import weakref

from quantgate.engine.gc_policy import BATCH_THRESHOLDS, batch_collection


def test_batch_collection_freezes_the_heap_and_restores_the_collector() -> None:
    before = gc.get_threshold()
    held = [object() for _ in range(10)]
    with batch_collection():
        assert gc.get_threshold() == BATCH_THRESHOLDS
        assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
    assert held


def test_cycles_made_inside_the_block_are_still_collected() -> None:
    class Node:
        def __init__(self) -> None:
            self.other: Node | None = None

    with batch_collection():
        first, second = Node(), Node()
        first.other, second.other = second, first
        del first, second
        assert gc.collect() >= 2


def test_cycles_left_before_the_block_are_collected_after_it() -> None:
    class Node:
        def __init__(self) -> None:
            self.other: Node | None = None

    first, second = Node(), Node()
    first.other, second.other = second, first
    left_over = weakref.ref(first)
    del first, second
    with batch_collection():
        gc.collect()
        # Frozen with the heap: no collection inside the block reaches them.
        assert left_over() is not None
    gc.collect()
    assert left_over() is None
