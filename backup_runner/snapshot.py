"""Reading the database's snapshot stream (`GET /api/snapshot`, `docs/contracts.md`).

`open_snapshot` tries `BACKUP_DATABASE_URLS` in order (followers first, to spare the leader) and
takes the first member that is ready, asking `/api/replication` for its pod name so the manifest
records who served the backup. `Snapshot.chunks()` yields the raw bytes unchanged and feeds them to
a `SnapshotCheck`, which raises `SnapshotIncomplete` at the end unless the header and trailer are
right and the record count matches. Raising from inside the generator is the point: the upload
reading it fails, so an incomplete stream never becomes an object with a manifest.

The check never parses the person lines (that would cost more than the whole upload): a JSON string
cannot hold a raw newline, so counting newlines counts records.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from http import HTTPStatus
from types import TracebackType
from typing import Any

import urllib3

from backup_runner.errors import Reason, RunnerError

__all__ = [
    "Snapshot",
    "SnapshotCheck",
    "SnapshotSummary",
    "Source",
    "database_pool",
    "open_snapshot",
]

FORMAT = "database-service/snapshot"
VERSION = 1
_TAIL = 4096  # more than any trailer line; enough to find the last line at the end
_MAX_HEADER = 64 * 1024
_READ_PIECE = 256 * 1024
_PROBE_TIMEOUT = urllib3.Timeout(connect=5.0, read=10.0)
# Between two pieces of the stream, not for all of it: a snapshot of any size may take its time.
_SNAPSHOT_TIMEOUT = urllib3.Timeout(connect=5.0, read=60.0)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Source:
    url: str
    pod: str


@dataclass(frozen=True)
class SnapshotSummary:
    sequence: int
    records: int


def _incomplete(message: str) -> RunnerError:
    return RunnerError(Reason.SNAPSHOT_INCOMPLETE, message, transient=True)


class SnapshotCheck:
    """Fed a snapshot's bytes in any chunking; `finish()` says whether it was complete."""

    def __init__(self) -> None:
        self._head = bytearray()
        self._sequence: int | None = None
        self._newlines = 0
        self._tail = b""
        self._bytes = 0

    @property
    def sequence(self) -> int | None:
        """The header's sequence, once the header line has been read."""
        return self._sequence

    def feed(self, chunk: bytes) -> None:
        if not chunk:
            return
        self._bytes += len(chunk)
        if self._sequence is None:
            self._read_header(chunk)
        self._newlines += chunk.count(b"\n")
        self._tail = chunk[-_TAIL:] if len(chunk) >= _TAIL else (self._tail + chunk)[-_TAIL:]

    def _read_header(self, chunk: bytes) -> None:
        end = chunk.find(b"\n")
        self._head += chunk if end < 0 else chunk[:end]
        if end < 0:
            if len(self._head) > _MAX_HEADER:
                raise _incomplete("the snapshot does not start with a header line")
            return
        try:
            header = json.loads(self._head)
        except ValueError:
            header = None
        if (
            not isinstance(header, dict)
            or header.get("format") != FORMAT
            or header.get("version") != VERSION
            or not isinstance(header.get("sequence"), int)
        ):
            raise _incomplete(f"the stream does not start with a {FORMAT} version {VERSION} header")
        self._sequence = header["sequence"]

    def finish(self) -> SnapshotSummary:
        if self._sequence is None:
            raise _incomplete(f"the snapshot ended after {self._bytes} bytes, before its header")
        lines = self._tail.rstrip(b"\n").rsplit(b"\n", 1)
        # Lines = newlines, plus one if the last line has no newline of its own.
        total_lines = self._newlines + (0 if self._tail.endswith(b"\n") else 1)
        try:
            trailer: Any = json.loads(lines[-1])
        except ValueError:
            trailer = None
        if not isinstance(trailer, dict) or trailer.get("end") is not True:
            raise _incomplete(
                f"the snapshot ended after {self._bytes} bytes without its trailer line: the "
                "stream was cut off"
            )
        records = total_lines - 2
        if trailer.get("records") != records:
            raise _incomplete(
                f"the snapshot's trailer announces {trailer.get('records')} records but "
                f"{records} arrived"
            )
        return SnapshotSummary(sequence=self._sequence, records=records)


class Snapshot:
    """An open snapshot response; iterate `chunks()` once, then read `summary`."""

    def __init__(self, source: Source, response: urllib3.BaseHTTPResponse) -> None:
        self.source = source
        self._response = response
        self._check = SnapshotCheck()
        self._summary: SnapshotSummary | None = None
        header = response.headers.get("X-Snapshot-Sequence")
        self._header_sequence = int(header) if header and header.isdigit() else None

    @property
    def summary(self) -> SnapshotSummary:
        if self._summary is None:
            raise RuntimeError("the snapshot has not been read to its end")
        return self._summary

    def chunks(self) -> Iterator[bytes]:
        try:
            for chunk in self._response.stream(_READ_PIECE):
                self._check.feed(chunk)
                yield chunk
        except (urllib3.exceptions.HTTPError, OSError) as error:
            raise _incomplete(
                f"the snapshot stream from {self.source.pod} ({self.source.url}) broke: "
                f"{type(error).__name__}: {error}"
            ) from None
        summary = self._check.finish()
        if self._header_sequence is not None and self._header_sequence != summary.sequence:
            raise _incomplete(
                f"X-Snapshot-Sequence {self._header_sequence} disagrees with the header's "
                f"sequence {summary.sequence}"
            )
        self._summary = summary

    def close(self) -> None:
        self._response.release_conn()
        self._response.close()

    def __enter__(self) -> Snapshot:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def database_pool() -> urllib3.PoolManager:
    """The HTTP client for the database: no automatic retries (the runner moves on to the next
    member instead), and a read timeout that bounds a silent member, not a long snapshot."""
    return urllib3.PoolManager(retries=False, timeout=_SNAPSHOT_TIMEOUT, maxsize=2)


def open_snapshot(urls: tuple[str, ...], http: urllib3.PoolManager) -> Snapshot:
    """The snapshot of the first ready member in `urls`; DatabaseUnreachable if none is."""
    problems: list[str] = []
    for url in urls:
        try:
            pod = _ready_pod(http, url)
            response = http.request(
                "GET",
                f"{url}/api/snapshot",
                headers={"Accept-Encoding": "identity"},
                preload_content=False,
                decode_content=False,
            )
        except (urllib3.exceptions.HTTPError, OSError, ValueError) as error:
            problems.append(f"{url}: {_describe(error)}")
            continue
        if response.status != HTTPStatus.OK:
            response.drain_conn()
            response.release_conn()
            problems.append(f"{url}: /api/snapshot answered HTTP {response.status}")
            continue
        log.info("reading the snapshot from %s (%s)", pod, url)
        return Snapshot(Source(url=url, pod=pod), response)
    raise RunnerError(
        Reason.DATABASE_UNREACHABLE,
        "no database member could serve a snapshot; check that the cluster's pods are running "
        "and ready and that BACKUP_DATABASE_URLS points at them. Tried: " + "; ".join(problems),
        transient=True,
    )


def _get_json(http: urllib3.PoolManager, url: str) -> tuple[int, Any]:
    response = http.request("GET", url, timeout=_PROBE_TIMEOUT)
    try:
        body = json.loads(response.data) if response.data else None
    except ValueError:
        body = None
    return response.status, body


def _ready_pod(http: urllib3.PoolManager, url: str) -> str:
    # A follower that is not ready (still catching up) would give an old snapshot: next URL.
    status, _ = _get_json(http, f"{url}/readyz")
    if status != HTTPStatus.OK:
        raise ValueError(f"not ready (/readyz answered HTTP {status})")
    status, body = _get_json(http, f"{url}/api/replication")
    if status != HTTPStatus.OK:
        raise ValueError(f"/api/replication answered HTTP {status}")
    pod = body.get("pod") if isinstance(body, dict) else None
    if not isinstance(pod, str) or not pod:
        raise ValueError("/api/replication does not name the pod")
    return pod


def _describe(error: Exception) -> str:
    if isinstance(error, urllib3.exceptions.NewConnectionError | ConnectionError):
        return "cannot connect (connection refused or no route)"
    if isinstance(error, urllib3.exceptions.TimeoutError):
        return f"timed out ({error})"
    if isinstance(error, ValueError):
        return str(error)
    return f"{type(error).__name__}: {error}"
