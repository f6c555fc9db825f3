"""The backup operation: snapshot -> gzip -> SHA-256 -> streaming upload -> manifest -> retention.

The order is the guarantee. A `started.json` marks the folder first (so retention can clean up
after a run that dies). The data object is uploaded while the snapshot is read, in flat memory;
the snapshot's trailer is checked as the stream ends, and a failed check aborts the upload (see
`snapshot.py`). Only then is the manifest written, LAST, after the stored size has been read back:
a backup without a manifest does not count, and nothing but a complete, verified snapshot ever gets
one. Retention runs after that, so it can never delete the backup just made.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import urllib3

from backup_runner import retention
from backup_runner.compression import gzip_chunks
from backup_runner.errors import Reason, RunnerError
from backup_runner.layout import BackupId
from backup_runner.manifest import Manifest
from backup_runner.prefetch import prefetch
from backup_runner.retry import with_retries
from backup_runner.settings import Settings
from backup_runner.snapshot import SnapshotSummary, Source, open_snapshot
from backup_runner.storage import Storage

__all__ = ["iso_time", "run_backup"]

log = logging.getLogger(__name__)


def iso_time(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class _Digest:
    """Counts and hashes the bytes that pass through `wrap`, i.e. exactly what is stored."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self.size = 0

    def wrap(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        for chunk in chunks:
            self._hash.update(chunk)
            self.size += len(chunk)
            yield chunk

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()


@dataclass(frozen=True)
class _Uploaded:
    source: Source
    summary: SnapshotSummary
    size: int
    sha256: str


def _upload(
    settings: Settings, storage: Storage, http: urllib3.PoolManager, backup: BackupId
) -> _Uploaded:
    with open_snapshot(settings.database_urls, http) as snapshot:
        digest = _Digest()
        # Reading in a thread of its own overlaps HTTP parsing and compression (prefetch.py).
        chunks = prefetch(snapshot.chunks())
        try:
            storage.put_stream(backup.data_key, digest.wrap(gzip_chunks(chunks)))
        finally:
            chunks.close()  # stops the reading thread now, not when garbage collected
        summary = snapshot.summary
    stored = storage.size_of(backup.data_key)
    if stored != digest.size:
        raise RunnerError(
            Reason.STORAGE_ERROR,
            f"{backup.data_key} holds {stored} bytes after an upload of {digest.size}: the "
            "storage lost data; run the backup again",
        )
    return _Uploaded(snapshot.source, summary, digest.size, digest.sha256)


def run_backup(
    settings: Settings,
    storage: Storage,
    *,
    http: urllib3.PoolManager,
    now: Callable[[], datetime],
) -> dict[str, object]:
    started = now()
    storage.ensure_bucket(create=True)
    backup = BackupId.at(started)
    # Visible from the start: should this run die mid-upload, retention finds the folder and
    # aborts its unfinished upload (which a listing of objects does not show).
    storage.put_bytes(
        backup.started_key,
        json.dumps(
            {
                "cluster": settings.cluster,
                "namespace": settings.namespace,
                "time": iso_time(started),
                "runnerPod": settings.pod_name,
            }
        ).encode(),
    )
    log.info(
        "backing up %s/%s into %s/%s",
        settings.namespace,
        settings.cluster,
        storage.bucket,
        backup.prefix,
    )
    clock = time.monotonic()
    uploaded = with_retries(
        lambda: _upload(settings, storage, http, backup),
        what="reading and uploading the snapshot",
        attempts=settings.retry_attempts,
        delay=settings.retry_delay,
    )
    log.info("uploaded %d bytes in %.2fs", uploaded.size, time.monotonic() - clock)
    manifest = Manifest(
        cluster=settings.cluster,
        namespace=settings.namespace,
        time=iso_time(backup.time),
        sequence=uploaded.summary.sequence,
        records=uploaded.summary.records,
        size=uploaded.size,
        sha256=uploaded.sha256,
        data_key=backup.data_key,
        source_pod=uploaded.source.pod,
        source_url=uploaded.source.url,
    )
    storage.put_bytes(backup.manifest_key, manifest.to_json())
    log.info(
        "backup %s complete: %d records at sequence %d, %d bytes, from %s",
        backup.prefix,
        manifest.records,
        manifest.sequence,
        manifest.size,
        manifest.source_pod,
    )
    policy = retention.Policy(
        keep_last=settings.retention_keep_last,
        max_age=settings.retention_max_age,
        incomplete_after=settings.incomplete_after,
    )
    outcome = retention.apply(storage, policy, now())
    return {
        "result": "Succeeded",
        "operation": "backup",
        "repo": settings.repo_name,
        "bucket": storage.bucket,
        **manifest.report(backup.manifest_key),
        "startTime": iso_time(started),
        "completionTime": iso_time(now()),
        "retention": outcome.report(),
    }
