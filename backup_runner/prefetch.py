"""Run an iterator in a background thread, a bounded number of items ahead of its consumer.

The backup reads the snapshot over HTTP (Python code holding the GIL) and gzips it (C code that
releases the GIL): with the reading in a thread of its own the two overlap instead of taking turns.
The queue is bounded, so memory stays flat whichever side is slower. An exception in the source is
re-raised in the consumer, in order; a consumer that stops early (the upload failed) makes the
thread stop at its next item.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Generator, Iterable
from typing import TypeVar

__all__ = ["prefetch"]

T = TypeVar("T")

_DONE = object()
_POLL = 0.1


def prefetch(source: Iterable[T], depth: int = 8) -> Generator[T, None, None]:
    items: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(item: object) -> bool:
        while not stop.is_set():
            try:
                items.put(item, timeout=_POLL)
            except queue.Full:
                continue
            return True
        return False

    def produce() -> None:
        try:
            for item in source:
                if not offer(item):
                    return
        except BaseException as error:  # handed to the consumer, which re-raises it
            offer(error)
            return
        offer(_DONE)

    thread = threading.Thread(target=produce, name="prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item = items.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]  # anything else is a T from the source
    finally:
        stop.set()
