"""One running replica: the database, its writer, and (on followers) replication, wired together.

`api.py` is the HTTP edge; this is what it calls. The role decides what is allowed: the leader
accepts writes, logs them and serves its log; a follower refuses writes (naming the leader) and
pulls the leader's log. Both serve reads, snapshots and checksums from their own database.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import TypeVar

from starlette.concurrency import run_in_threadpool

from database_service import changelog, snapshot, store
from database_service.errors import DatabaseError, NotFound, ReadOnlyReplica, SnapshotRequired
from database_service.metrics import Metrics
from database_service.models import (
    ChangePage,
    Checksum,
    FollowerPosition,
    NewPerson,
    Person,
    ReplicationStatus,
)
from database_service.operations import CreatePerson, DeletePerson, Seed, UpdatePerson, Written
from database_service.replication import Follower, FollowerTracker, SequenceWatch
from database_service.settings import Role, Settings
from database_service.snapshot import ConsistentRead
from database_service.writer import CommitInfo, Operation, Ping, Writer

__all__ = ["Replica", "open_database"]

log = logging.getLogger(__name__)

T = TypeVar("T")

# A long poll never holds a request longer than this, whatever the follower asks for.
_MAX_WAIT_SECONDS = 30.0


def open_database(settings: Settings) -> None:
    """Create the database on first start; a leader's starts with the seed people pending."""
    settings.data_directory.mkdir(parents=True, exist_ok=True)
    conn = store.connect(settings.database_path)
    try:
        store.enable_wal(conn)
        conn.execute("BEGIN IMMEDIATE")
        if not store.is_initialized(conn):
            leader = settings.role is Role.LEADER
            # A follower starts with no history: it adopts the leader's with the first page.
            store.create_schema(
                conn,
                sequence=0,
                history=store.new_history() if leader else "",
                seed_pending=leader,
            )
            log.info("created a new database at %s", settings.database_path)
        conn.execute("COMMIT")
    finally:
        conn.close()


class Replica:
    def __init__(self, settings: Settings, metrics: Metrics | None = None) -> None:
        self.settings = settings
        self.metrics = metrics or Metrics()
        self.leader = settings.role is Role.LEADER
        open_database(settings)
        self.writer = Writer(
            settings.database_path,
            max_batch=settings.max_batch,
            retain=settings.changelog_retain if self.leader else None,
            on_commit=self._committed,
        )
        self.watch = SequenceWatch(self.writer.meta.sequence)
        self.tracker = FollowerTracker()
        self._readers = store.ThreadReaders(settings.database_path)
        self._loop: asyncio.AbstractEventLoop | None = None
        self.follower = None if self.leader else Follower(settings, self.writer, self.metrics)
        self.metrics.is_leader.set(1 if self.leader else 0)
        self.metrics.sequence.set(self.writer.meta.sequence)

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.writer.start()
        meta = self.writer.meta
        log.info(
            "%s %s: sequence %d, history %s",
            self.settings.role.value,
            self.settings.pod_name,
            meta.sequence,
            meta.history or "(none yet)",
        )
        if self.leader and meta.seed_pending:
            seeded = await self._submit(Seed())
            log.info("first start: seeded %d people", seeded)
        if self.follower is not None:
            self.follower.start()

    def begin_shutdown(self) -> None:
        """Release long polls at once, so the server's graceful shutdown does not wait on them."""
        self.watch.close()

    async def stop(self) -> None:
        self.watch.close()
        if self.follower is not None:
            await self.follower.stop()
        await run_in_threadpool(self.writer.stop)
        self._readers.close()

    def _committed(self, info: CommitInfo) -> None:
        # Runs on the writer thread, right after a durable commit.
        m = self.metrics
        m.commit_batch_size.observe(info.batch_size)
        m.commit_seconds.observe(info.seconds)
        for operation, count in info.operations.items():
            if operation != "ping":
                m.writes.labels(operation).inc(count)
        m.sequence.set(info.meta.sequence)
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self.watch.publish, info.meta.sequence)

    async def _submit(self, operation: Operation[T]) -> T:
        try:
            return await asyncio.wrap_future(self.writer.submit(operation))
        except DatabaseError as error:
            self.metrics.write_failures.labels(operation.name, type(error).__name__).inc()
            raise

    def require_leader(self) -> None:
        if not self.leader:
            assert self.settings.leader_url is not None
            raise ReadOnlyReplica(self.settings.pod_name, self.settings.leader_url)

    # -- writes (leader) ------------------------------------------------------------------------

    async def create(self, body: NewPerson) -> Written:
        self.require_leader()
        person = Person.model_construct(
            id=body.id or str(uuid.uuid4()), firstName=body.firstName, lastName=body.lastName
        )
        return await self._submit(CreatePerson(person))

    async def update(self, person: Person) -> Written:
        self.require_leader()
        return await self._submit(UpdatePerson(person))

    async def delete(self, person_id: str) -> Written:
        self.require_leader()
        return await self._submit(DeletePerson(person_id))

    # -- reads (any replica) --------------------------------------------------------------------

    def get(self, person_id: str) -> Person:
        """Blocking; call from a worker thread."""
        row = store.get_person(self._readers.get(), person_id)
        if row is None:
            raise NotFound(person_id)
        return Person.model_construct(id=row[0], firstName=row[1], lastName=row[2])

    def consistent_read(self) -> ConsistentRead:
        """Blocking; call from a worker thread. The caller streams it and so closes it."""
        return ConsistentRead(
            self.settings.database_path, chunk_rows=self.settings.stream_chunk_rows
        )

    def checksum(self) -> Checksum:
        """Blocking; call from a worker thread."""
        return snapshot.checksum(self.settings.database_path)

    # -- replication feed (leader) ----------------------------------------------------------------

    async def changes(
        self, *, after: int, wait: float, limit: int, history: str | None, replica: str | None
    ) -> ChangePage:
        self.require_leader()
        meta = self.writer.meta
        if replica:
            self.tracker.saw(replica, after)
        if history and history != meta.history:
            raise SnapshotRequired(
                f"history {history} is not the leader's ({meta.history}): its database was replaced"
            )
        if after > meta.sequence:
            raise SnapshotRequired(
                f"position {after} is ahead of the leader's sequence {meta.sequence}"
            )
        if after < meta.floor:
            raise SnapshotRequired(
                f"changes after {after} were compacted (the log starts after {meta.floor})"
            )
        if wait > 0 and after >= meta.sequence:
            await self.watch.wait_beyond(after, min(wait, _MAX_WAIT_SECONDS))
        page = await run_in_threadpool(self._read_page, after, limit)
        if after < page.floor:
            raise SnapshotRequired(f"changes after {after} were compacted meanwhile")
        return page

    def _read_page(self, after: int, limit: int) -> ChangePage:
        conn = self._readers.get()
        conn.execute("BEGIN")
        try:
            meta = store.read_meta(conn)
            changes = changelog.read_after(conn, after, limit)
        finally:
            conn.execute("COMMIT")
        return ChangePage.model_construct(
            history=meta.history, sequence=meta.sequence, floor=meta.floor, changes=changes
        )

    def trigger_pull(self) -> bool:
        if self.follower is None:
            return False
        self.follower.trigger()
        return True

    # -- health -----------------------------------------------------------------------------------

    async def ready(self) -> tuple[bool, str]:
        if self.leader:
            # Writable means the writer thread runs and gets the write lock: a no-op batch.
            try:
                await asyncio.wait_for(asyncio.wrap_future(self.writer.submit(Ping())), 5.0)
            except (TimeoutError, RuntimeError, DatabaseError) as error:
                return False, f"the writer is not accepting writes: {error!r}"
            return True, "leader: accepting writes"
        assert self.follower is not None
        lag = self.follower.lag_seconds
        bound = self.settings.ready_max_lag_seconds
        if lag is None:
            return False, f"follower: not caught up with the leader yet ({self.follower.state})"
        if lag > bound:
            return False, f"follower: {lag:.1f}s behind the leader (bound {bound:.0f}s)"
        return True, f"follower: caught up (lag {lag:.3f}s)"

    def status(self) -> ReplicationStatus:
        meta = self.writer.meta
        common = {
            "pod": self.settings.pod_name,
            "namespace": self.settings.namespace,
            "history": meta.history,
            "sequence": meta.sequence,
        }
        if self.leader:
            return ReplicationStatus(
                role="leader",
                floor=meta.floor,
                state="leading",
                followers={
                    name: FollowerPosition(sequence=seq, lastPollSecondsAgo=round(ago, 3))
                    for name, (seq, ago) in self.tracker.positions().items()
                },
                **common,
            )
        follower = self.follower
        assert follower is not None
        lag = follower.lag_seconds
        return ReplicationStatus(
            role="follower",
            leaderUrl=self.settings.leader_url,
            leaderSequence=follower.leader_sequence,
            lagSequences=follower.lag_changes,
            lagSeconds=None if lag is None else round(lag, 3),
            state=follower.state,
            snapshotResyncs=follower.resyncs,
            **common,
        )
