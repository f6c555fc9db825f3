"""The single writer thread: group commit of concurrent writes, each acknowledged only once durable.

Every write (an HTTP request on the leader, a page of replicated changes on a follower) becomes an
operation put on a queue. One thread takes everything queued at that moment (up to `max_batch`),
applies it inside one transaction and commits once. With `synchronous=FULL` that commit is one
fsync of the WAL, shared by the whole batch: durability does not get weaker under load, it gets
cheaper per write. Only after COMMIT returns is any future in the batch resolved, so an
acknowledged write is on disk.

An operation that refuses (unknown id, taken id) raises before it writes anything and fails alone;
the rest of the batch commits. One that fails after writing (a snapshot found cut half-way through
loading it) makes the writer roll the batch back and run it again without that operation. If the
COMMIT itself fails, every operation of the batch fails and none was acknowledged.

Batching needs no timer: while one batch is being fsynced, the event loop keeps accepting requests,
and those form the next batch.

Few statements per batch, on purpose: each SQLite call releases the GIL and must win it back from
the busy event loop thread, so the log entries of a batch go in with one statement, and each write
is a single statement that also tells whether it applied (no check-then-write, no savepoints).
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar

from database_service import changelog, store
from database_service.errors import DatabaseError
from database_service.models import Change
from database_service.store import Meta

__all__ = ["CommitInfo", "Operation", "Ping", "Transaction", "Writer"]

log = logging.getLogger(__name__)

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class Transaction:
    """What an operation sees: the open transaction and the replica's position in it."""

    def __init__(self, conn: sqlite3.Connection, meta: Meta, now: float) -> None:
        self.conn = conn
        self.meta = meta
        self.now = now
        self.operations: Counter[str] = Counter()
        self.changes: list[Change] = []

    def record(
        self,
        operation: Literal["put", "delete"],
        person_id: str,
        first_name: str | None,
        last_name: str | None,
    ) -> int:
        """Log a change under the next sequence number (written with the batch); return it."""
        sequence = self.meta.sequence + 1
        self.changes.append(
            Change.model_construct(
                sequence=sequence,
                operation=operation,
                id=person_id,
                firstName=first_name,
                lastName=last_name,
                committedAt=self.now,
            )
        )
        self.meta = replace(self.meta, sequence=sequence)
        return sequence


class Operation(Protocol[T_co]):
    """A unit of work for the writer thread; raising `DatabaseError` refuses it."""

    @property
    def name(self) -> str: ...

    def apply(self, tx: Transaction) -> T_co: ...


@dataclass(frozen=True)
class Ping:
    """No change; proves the writer thread runs and can take the write lock (readiness)."""

    name: str = "ping"

    def apply(self, tx: Transaction) -> int:
        return tx.meta.sequence


@dataclass(frozen=True)
class CommitInfo:
    """What one commit did, for metrics and for waking followers' long polls."""

    meta: Meta
    batch_size: int
    seconds: float
    operations: dict[str, int] = field(default_factory=dict)


_STOP = object()


class _FailedAfterWriting(Exception):
    """An operation raised after it had written: the batch must run again without it."""

    def __init__(self, future: Future[Any], error: DatabaseError) -> None:
        super().__init__(str(error))
        self.future = future
        self.error = error


class Writer:
    """Owns the only read-write connection and the thread that uses it."""

    def __init__(
        self,
        path: Path,
        *,
        max_batch: int = 512,
        retain: int | None = None,
        on_commit: Callable[[CommitInfo], None] | None = None,
    ) -> None:
        self._path = path
        self._max_batch = max_batch
        self._retain = retain  # None: keep no log (followers serve no changes)
        self._on_commit = on_commit
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._stopped = False
        self._conn = store.connect(path)
        store.enable_wal(self._conn)
        self._meta = store.read_meta(self._conn)

    @property
    def meta(self) -> Meta:
        """The position as of the last commit."""
        return self._meta

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="database-writer", daemon=True)
        self._thread.start()

    def submit(self, operation: Operation[T]) -> Future[T]:
        if self._stopped:
            raise RuntimeError("the database is shutting down")
        if self._thread is not None and not self._thread.is_alive():
            raise RuntimeError("the writer thread has stopped; the database takes no writes")
        future: Future[T] = Future()
        self._queue.put((operation, future))
        return future

    def stop(self, timeout: float = 10.0) -> None:
        """Finish what is queued, then close the connection."""
        if self._stopped:
            return
        self._stopped = True
        self._queue.put(_STOP)
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("writer thread did not finish within %.0fs", timeout)
                return
        self._conn.close()

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is _STOP:
                break
            batch = [first]
            while len(batch) < self._max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stopping = True
                    break
                batch.append(item)
            try:
                self._commit(batch)
            except Exception:
                # The batch's futures are already settled; the thread must live on for the next.
                log.exception("after a commit")

    def _commit(self, batch: list[tuple[Operation[Any], Future[Any]]]) -> None:
        started = time.perf_counter()
        # A future cancelled before we got to it was never acknowledged; skip it.
        batch = [(op, future) for op, future in batch if future.set_running_or_notify_cancel()]
        while batch:
            try:
                tx, outcomes = self._apply(batch)
            except _FailedAfterWriting as failed:
                failed.future.set_exception(failed.error)
                batch = [(op, future) for op, future in batch if future is not failed.future]
                continue
            except BaseException as error:
                # Nothing of this batch is durable: fail every operation, none was acknowledged.
                log.exception("commit of %d operations failed", len(batch))
                for _, future in batch:
                    future.set_exception(error)
                if not isinstance(error, Exception):
                    raise
                return
            self._meta = tx.meta
            for future, result, failure in outcomes:
                if failure is None:
                    future.set_result(result)
                else:
                    future.set_exception(failure)
            if self._on_commit is not None:
                self._on_commit(
                    CommitInfo(
                        meta=tx.meta,
                        batch_size=len(batch),
                        seconds=time.perf_counter() - started,
                        operations=dict(tx.operations),
                    )
                )
            return

    def _apply(
        self, batch: list[tuple[Operation[Any], Future[Any]]]
    ) -> tuple[Transaction, list[tuple[Future[Any], Any, DatabaseError | None]]]:
        """One transaction for the batch, committed; raises with it rolled back."""
        conn = self._conn
        tx = Transaction(conn, self._meta, time.time())
        outcomes: list[tuple[Future[Any], Any, DatabaseError | None]] = []
        conn.execute("BEGIN IMMEDIATE")
        try:
            for op, future in batch:
                meta, logged, written = tx.meta, len(tx.changes), conn.total_changes
                try:
                    result = op.apply(tx)
                except DatabaseError as error:
                    if conn.total_changes != written:
                        raise _FailedAfterWriting(future, error) from error
                    tx.meta = meta
                    del tx.changes[logged:]
                    outcomes.append((future, None, error))
                    continue
                tx.operations[op.name] += 1
                outcomes.append((future, result, None))
            self._finish(tx)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return tx, outcomes

    def _finish(self, tx: Transaction) -> None:
        """Store the log entries and the new position (and compact) in the batch's transaction."""
        changelog.append(tx.conn, tx.changes)
        meta = tx.meta
        if self._retain is not None and meta.sequence > self._meta.sequence:
            meta = replace(
                meta,
                floor=changelog.compact(
                    tx.conn, sequence=meta.sequence, floor=meta.floor, retain=self._retain
                ),
            )
            tx.meta = meta
        if meta != self._meta:
            store.write_meta(
                tx.conn,
                sequence=meta.sequence,
                floor=meta.floor,
                history=meta.history,
                seed_pending=int(meta.seed_pending),
            )
