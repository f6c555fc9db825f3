"""The prefetching thread: order kept, errors passed on, an early stop ends the thread."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from backup_runner.prefetch import prefetch


def test_items_arrive_in_order() -> None:
    assert list(prefetch(range(1000), depth=3)) == list(range(1000))


def test_source_error_reaches_the_consumer_after_the_items_before_it() -> None:
    def source() -> Iterator[int]:
        yield 1
        yield 2
        raise ValueError("stream broke")

    seen: list[int] = []
    with pytest.raises(ValueError, match="stream broke"):
        seen.extend(prefetch(source()))
    assert seen == [1, 2]


def test_consumer_stopping_early_stops_the_thread() -> None:
    finished = threading.Event()

    def endless() -> Iterator[int]:
        try:
            number = 0
            while True:
                number += 1
                yield number
        finally:
            finished.set()

    items = prefetch(endless(), depth=2)
    assert next(items) == 1
    items.close()
    assert finished.wait(timeout=5)
