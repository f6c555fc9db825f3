"""Bounded retries with exponential backoff for whole operations.

Single storage requests are retried inside urllib3 (see `s3.py`); this retries what a request retry
cannot repeat: reading the snapshot again after the database dropped the stream, or downloading a
backup again after the connection broke mid-body. Only `RunnerError`s marked `transient` are
retried, `attempts` times in all, waiting `delay`, `2 * delay`, ... (at most `_MAX_WAIT`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

from backup_runner.errors import RunnerError

__all__ = ["with_retries"]

T = TypeVar("T")
_MAX_WAIT = 30.0

log = logging.getLogger(__name__)


def with_retries(
    operation: Callable[[], T],
    *,
    what: str,
    attempts: int,
    delay: timedelta,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    for attempt in range(1, attempts + 1):
        try:
            return operation()
        except RunnerError as error:
            if not error.transient or attempt == attempts:
                raise
            wait = min(delay.total_seconds() * 2 ** (attempt - 1), _MAX_WAIT)
            log.warning(
                "%s failed (%s: %s); attempt %d of %d in %.1fs",
                what,
                error.reason.value,
                error.message,
                attempt + 1,
                attempts,
                wait,
            )
            sleep(wait)
    raise AssertionError("unreachable: the last attempt returns or raises")
