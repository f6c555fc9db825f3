"""Replication: the leader's long-poll feed of changes, and the follower that pulls it.

Protocol (`GET /api/changes?after=N&wait=S&history=H` on the leader):
- The answer holds the changes after N in order (at most `limit`), the leader's sequence and floor.
  When there is nothing after N the leader holds the request until it commits something newer or
  `wait` seconds pass, so a follower's lag is the time to ship one small page, not a poll period.
- 410 Gone means the log cannot continue from N: it was compacted past N, the follower claims more
  than the leader has, or `history` is not the leader's (its database was replaced, e.g. restored).
  The follower then downloads `GET /api/snapshot` and replaces its content with it.

The follower applies each page together with its new position in one transaction (see
`operations.ApplyChanges`), so after any crash it resumes exactly after the last change it holds,
and it never depends on being told about a write: it always asks for what follows what it has. A
notification (`/api/onleaderupdated`) only cuts short a wait or a back-off.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from pathlib import Path

import httpx

from database_service.errors import DatabaseError, ReplicationError, SnapshotRequired
from database_service.metrics import Metrics
from database_service.models import ChangePage
from database_service.operations import ApplyChanges, ReplaceFromSnapshot
from database_service.settings import Settings
from database_service.writer import Writer

__all__ = ["HISTORY_HEADER", "SEQUENCE_HEADER", "Follower", "FollowerTracker", "SequenceWatch"]

log = logging.getLogger(__name__)

SEQUENCE_HEADER = "X-Snapshot-Sequence"
# Not part of the snapshot format: lets a follower that resyncs adopt the leader's history.
HISTORY_HEADER = "X-Snapshot-History"
_RESYNC_PREFIX = ".resync-"


class SequenceWatch:
    """Leader: lets long polls sleep until a commit passes the sequence they have.

    `publish` runs on the event loop (the writer thread hands it over with call_soon_threadsafe).
    """

    def __init__(self, sequence: int) -> None:
        self.sequence = sequence
        self._changed = asyncio.Event()
        self._closed = False

    def publish(self, sequence: int) -> None:
        if sequence > self.sequence:
            self.sequence = sequence
            # A fresh event per commit: waiters of this round wake, the next round starts clean.
            self._changed.set()
            self._changed = asyncio.Event()

    def close(self) -> None:
        """Release every waiter now (shutdown must not wait for long polls to time out)."""
        self._closed = True
        self._changed.set()

    async def wait_beyond(self, after: int, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.sequence <= after and not self._closed:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)


class FollowerTracker:
    """Leader: where each follower said it was on its last poll, for `/api/replication`."""

    def __init__(self) -> None:
        self._positions: dict[str, tuple[int, float]] = {}

    def saw(self, replica: str, sequence: int) -> None:
        # Bounded: a misbehaving client inventing names cannot grow this without limit.
        if replica in self._positions or len(self._positions) < 64:
            self._positions[replica] = (sequence, time.monotonic())

    def positions(self) -> dict[str, tuple[int, float]]:
        now = time.monotonic()
        return {name: (seq, now - seen) for name, (seq, seen) in sorted(self._positions.items())}


class Follower:
    """Pulls the leader's changes forever; resyncs from a snapshot when the log cannot continue."""

    def __init__(self, settings: Settings, writer: Writer, metrics: Metrics) -> None:
        assert settings.leader_url is not None
        self._settings = settings
        self._leader = settings.leader_url
        self._writer = writer
        self._metrics = metrics
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._client = httpx.AsyncClient(timeout=httpx.Timeout(10.0))
        self.state = "starting"
        self.leader_sequence: int | None = None
        self.resyncs = 0
        self._caught_up_at: float | None = None
        self._polling_since: float | None = None
        self._caught_up = False
        metrics.follow_lag(self._lag_seconds_or_nan, self._lag_changes_or_nan)

    # -- state for /readyz, /api/replication and /metrics ------------------------------------

    @property
    def lag_changes(self) -> int | None:
        if self.leader_sequence is None:
            return None
        return max(0, self.leader_sequence - self._writer.meta.sequence)

    @property
    def lag_seconds(self) -> float | None:
        """How stale this replica may be: 0 while it is caught up and a poll is open."""
        if self._caught_up_at is None:
            return None
        now = time.monotonic()
        # While a long poll is open after a caught-up answer, the leader would already have
        # answered if it had anything newer; allow the poll's own duration plus a margin.
        if (
            self._caught_up
            and self._polling_since is not None
            and now - self._polling_since <= self._settings.poll_wait_seconds + 2.0
        ):
            return 0.0
        return now - self._caught_up_at

    def _lag_seconds_or_nan(self) -> float:
        lag = self.lag_seconds
        return float("nan") if lag is None else lag

    def _lag_changes_or_nan(self) -> float:
        lag = self.lag_changes
        return float("nan") if lag is None else float(lag)

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        for leftover in self._settings.data_directory.glob(_RESYNC_PREFIX + "*"):
            leftover.unlink(missing_ok=True)
        self._task = asyncio.create_task(self._run(), name="replication")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._client.aclose()

    def trigger(self) -> None:
        """Pull now (`/api/onleaderupdated`): cuts short a long poll or a back-off."""
        self._wake.set()

    # -- the loop -----------------------------------------------------------------------------

    async def _run(self) -> None:
        delay = 0.05
        while True:
            try:
                try:
                    await self._pull()
                except SnapshotRequired as reason:
                    log.info("resynchronising from a snapshot of the leader: %s", reason)
                    await self._resync()
                delay = 0.05
            except Exception as error:
                # Never give up: whatever went wrong, the next round asks again for what follows
                # our position, so a missed change cannot leave this replica stale for good.
                self._failed(error)
                self.state = "disconnected"
                self._polling_since = None
                self._caught_up = False
                await self._pause(delay)
                delay = min(delay * 2, self._settings.retry_max_seconds)

    def _failed(self, error: Exception) -> None:
        kind = type(error).__name__
        self._metrics.replication_errors.labels(kind).inc()
        if not isinstance(error, httpx.HTTPError | DatabaseError | ValueError | OSError):
            log.exception("replication from %s failed", self._leader)
        elif self.state != "disconnected":
            log.warning("replication from %s interrupted: %s: %s", self._leader, kind, error)

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)

    async def _pull(self) -> None:
        meta = self._writer.meta
        # Hold the poll open only once caught up: after a start, an error or a resync, the first
        # answer must come at once to establish where we stand (and so readiness).
        waiting = self._caught_up and not self._wake.is_set()
        wait = self._settings.poll_wait_seconds if waiting else 0.0
        self._wake.clear()
        params: dict[str, str | int | float] = {
            "after": meta.sequence,
            "wait": wait,
            "limit": self._settings.page_limit,
            "replica": self._settings.pod_name,
        }
        if meta.history:
            params["history"] = meta.history
        self._polling_since = time.monotonic()
        request = asyncio.ensure_future(
            self._client.get(f"{self._leader}/api/changes", params=params, timeout=wait + 10.0)
        )
        woken = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({request, woken}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            woken.cancel()
            if not request.done():
                request.cancel()
        if not request.done() or request.cancelled():
            return  # woken: the next round asks again at once, without waiting
        response = request.result()
        received = time.monotonic()
        if response.status_code == 410:
            raise SnapshotRequired(_detail(response))
        response.raise_for_status()
        page = ChangePage.model_validate_json(response.content)
        if page.changes or page.history != meta.history:
            await asyncio.wrap_future(self._writer.submit(ApplyChanges(page)))
            now = time.time()
            for change in page.changes:
                self._metrics.replication_delay_seconds.observe(max(0.0, now - change.committedAt))
        self.leader_sequence = page.sequence
        self._caught_up = self._writer.meta.sequence >= page.sequence
        if self._caught_up:
            self._caught_up_at = received
        if self.state != "streaming":
            log.info("replicating from %s at sequence %d", self._leader, self._writer.meta.sequence)
        self.state = "streaming"

    async def _resync(self) -> None:
        self.state = "resyncing"
        self._polling_since = None
        self._caught_up = False
        path: Path = self._settings.data_directory / f"{_RESYNC_PREFIX}{uuid.uuid4().hex}"
        try:
            # Download first, apply second: a cut stream is refused before the database is touched,
            # and the writer's transaction stays short of network waits.
            timeout = httpx.Timeout(30.0, read=120.0)
            async with self._client.stream(
                "GET", f"{self._leader}/api/snapshot", timeout=timeout
            ) as response:
                response.raise_for_status()
                history = response.headers.get(HISTORY_HEADER)
                if not history:
                    raise ReplicationError(f"the leader's snapshot has no {HISTORY_HEADER} header")
                with path.open("wb") as file:
                    async for chunk in response.aiter_bytes():
                        file.write(chunk)
            records = await asyncio.wrap_future(
                self._writer.submit(ReplaceFromSnapshot(path, history))
            )
        finally:
            path.unlink(missing_ok=True)
        self.resyncs += 1
        self._metrics.snapshot_resyncs.inc()
        log.info("resynchronised: %d records at sequence %d", records, self._writer.meta.sequence)


def _detail(response: httpx.Response) -> str:
    try:
        return str(response.json().get("detail", response.text))
    except ValueError:
        return response.text
