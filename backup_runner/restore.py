"""The restore operation: choose a backup, download and verify it, load it into an empty directory.

Nothing touches the target until the backup has proven itself: the download goes to
`RESTORE_WORK_DIRECTORY` while its size and SHA-256 are computed and it is decompressed and counted;
all four must match the manifest. The load itself is `python -m database_service load` (the
contract in `docs/contracts.md`), fed the decompressed snapshot on stdin; it creates the database
atomically and refuses a directory that already holds one.

The target decides what happens first (a restore runs as an init container, so it runs again on
every pod restart):
- not the pod named by `RESTORE_LEADER_POD`: Skipped/NotLeader (followers copy from the leader);
- empty (ignoring `lost+found`): restore, then write `.restored-from.json`;
- holds data and `.restored-from.json`: Skipped/DataPresent, exit 0 - this restore already happened;
- holds data without the marker: TargetNotEmpty - never load over a database of unknown origin.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from backup_runner import layout
from backup_runner.backup import iso_time
from backup_runner.compression import CompressionError, Gunzip, gunzip_chunks
from backup_runner.errors import Reason, RunnerError
from backup_runner.filesystem import fsync_directory
from backup_runner.manifest import Manifest
from backup_runner.retention import folders
from backup_runner.retry import with_retries
from backup_runner.settings import Settings
from backup_runner.snapshot import SnapshotCheck, SnapshotSummary
from backup_runner.storage import Storage

__all__ = ["MARKER", "run_restore"]

MARKER = ".restored-from.json"
# Written into the (verified empty) target just before the load, removed after the marker: if it is
# still there, a restore was interrupted, and everything in the directory is its own leftover.
PENDING = ".restore-in-progress"
_IGNORED = frozenset({"lost+found", MARKER, PENDING})
_FILE_PIECE = 1024 * 1024

log = logging.getLogger(__name__)


def _skipped(reason: Reason, message: str, **extra: object) -> dict[str, object]:
    return {
        "result": "Skipped",
        "operation": "restore",
        "reason": reason.value,
        "message": message,
        **extra,
    }


def _read_marker(path: Path) -> dict[str, Any]:
    try:
        content = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return content if isinstance(content, dict) else {}


def _inspect_target(target: Path) -> dict[str, object] | None:
    """A Skipped result when the restore must not run; raises TargetNotEmpty; None to go ahead."""
    try:
        target.mkdir(parents=True, exist_ok=True)
        present = sorted(entry.name for entry in target.iterdir() if entry.name not in _IGNORED)
    except OSError as error:
        raise RunnerError(
            Reason.INVALID_CONFIGURATION,
            f"cannot use RESTORE_DATA_DIRECTORY {target}: {error.strerror or error}",
        ) from None
    if (target / PENDING).exists():
        log.warning("an earlier restore into %s was interrupted: starting it over", target)
        _clear(target)
        return None
    if not present:
        return None
    marker = target / MARKER
    if marker.is_file():
        earlier = _read_marker(marker)
        return _skipped(
            Reason.DATA_PRESENT,
            f"{target} already holds the database restored from "
            f"{earlier.get('manifestKey', 'a backup')}; nothing to do",
            dataDirectory=str(target),
            restoredFrom=earlier,
        )
    shown = ", ".join(present[:5]) + (", ..." if len(present) > 5 else "")
    raise RunnerError(
        Reason.TARGET_NOT_EMPTY,
        f"{target} is not empty ({shown}) and was not restored from a backup: a restore only "
        "fills an empty data directory (a new cluster); delete the volume first if its data is "
        "really to be replaced",
    )


def _clear(target: Path) -> None:
    """Empty a directory only an interrupted restore wrote to (the lost+found of a volume stays)."""
    for entry in target.iterdir():
        if entry.name == "lost+found":
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def _choose(storage: Storage, object_key: str | None) -> layout.BackupId:
    if object_key is not None:
        backup = layout.BackupId.parse(object_key)
        if backup is None:
            raise RunnerError(
                Reason.INVALID_CONFIGURATION,
                f"RESTORE_OBJECT_KEY {object_key!r} is not a backup key; expected "
                "backups/<YYYYMMDDTHHMMSS.mmmZ>/manifest.json (or that folder)",
            )
        return backup
    for folder in folders(storage.list(layout.BACKUPS_PREFIX)):
        if folder.good:
            return folder.backup
    raise RunnerError(
        Reason.BACKUP_NOT_FOUND,
        f"bucket {storage.bucket} holds no complete backup (one with a manifest): run a backup "
        "first, or point the restore at another repo",
    )


def _mismatch(message: str) -> RunnerError:
    return RunnerError(
        Reason.CHECKSUM_MISMATCH,
        f"{message}; the backup is damaged and was not restored: choose another one with "
        "RESTORE_OBJECT_KEY",
    )


def _download(storage: Storage, manifest: Manifest, path: Path) -> SnapshotSummary:
    """Download to `path` and check size, SHA-256, gzip and snapshot against the manifest."""
    digest = hashlib.sha256()
    size = 0
    gunzip = Gunzip()
    check = SnapshotCheck()
    problem: str | None = None
    with path.open("wb") as file:
        for chunk in storage.get_chunks(manifest.data_key):
            digest.update(chunk)
            size += len(chunk)
            file.write(chunk)
            if problem is None:
                # Keep hashing after a decompression problem: the checksum is the better message.
                try:
                    for piece in gunzip.feed(chunk):
                        check.feed(piece)
                except (CompressionError, RunnerError) as error:
                    problem = str(error)
    if size != manifest.size or digest.hexdigest() != manifest.sha256:
        raise _mismatch(
            f"{manifest.data_key} has {size} bytes with SHA-256 {digest.hexdigest()}, the manifest "
            f"says {manifest.size} bytes with {manifest.sha256}"
        )
    try:
        if problem is None:
            for piece in gunzip.finish():
                check.feed(piece)
        summary = check.finish()
    except (CompressionError, RunnerError) as error:
        problem = problem or str(error)
    if problem is not None:
        raise _mismatch(
            f"{manifest.data_key} matches its checksum but is not a whole snapshot: {problem}"
        )
    if (summary.records, summary.sequence) != (manifest.records, manifest.sequence):
        raise _mismatch(
            f"{manifest.data_key} holds {summary.records} records at sequence {summary.sequence}, "
            f"the manifest says {manifest.records} at {manifest.sequence}"
        )
    return summary


def _file_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as file:
        while piece := file.read(_FILE_PIECE):
            yield piece


def _load(path: Path, target: Path) -> dict[str, Any]:
    """Run `python -m database_service load`, feeding it the decompressed snapshot."""
    # The loader needs no credentials: give it an environment without the runner's variables.
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("BACKUP_", "RESTORE_"))
    }
    command = [
        sys.executable,
        "-m",
        "database_service",
        "load",
        "--data-directory",
        str(target),
        "-",
    ]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=out, stderr=err, env=env)
        stdin: IO[bytes] = process.stdin  # type: ignore[assignment]
        try:
            for piece in gunzip_chunks(_file_chunks(path)):
                stdin.write(piece)
        except BrokenPipeError:
            pass  # the loader stopped reading; its exit code and stderr say why
        finally:
            with contextlib.suppress(BrokenPipeError):
                stdin.close()
        code = process.wait()
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    said = stderr.strip().splitlines()[-3:]
    if code == 2:
        raise RunnerError(
            Reason.TARGET_NOT_EMPTY,
            f"database_service load refused {target}: {' '.join(said)}",
        )
    if code != 0:
        raise RunnerError(
            Reason.LOAD_FAILED,
            f"database_service load failed with exit code {code}: {' '.join(said)}",
        )
    try:
        loaded: Any = json.loads(stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        loaded = None
    if not isinstance(loaded, dict):
        raise RunnerError(
            Reason.LOAD_FAILED, f"database_service load printed no result line: {stdout[-200:]!r}"
        )
    return loaded


def _write_marker(target: Path, content: dict[str, object]) -> None:
    temporary = target / f"{MARKER}.partial"
    with temporary.open("w") as file:
        json.dump(content, file, indent=2)
        file.write("\n")
        file.flush()
        os.fsync(file.fileno())
    temporary.replace(target / MARKER)
    fsync_directory(target)


def run_restore(
    settings: Settings, storage: Storage, *, now: Callable[[], datetime]
) -> dict[str, object]:
    started = now()
    leader = settings.restore_leader_pod
    if leader and settings.pod_name and settings.pod_name != leader:
        return _skipped(
            Reason.NOT_LEADER,
            f"{settings.pod_name} is not {leader}: only the leader restores, followers copy "
            "its data",
        )
    target = settings.restore_data_directory
    skipped = _inspect_target(target)
    if skipped is not None:
        return skipped
    storage.ensure_bucket(create=False)
    backup = _choose(storage, settings.restore_object_key)
    try:
        raw_manifest = storage.get_bytes(backup.manifest_key)
    except RunnerError as error:
        if error.reason is not Reason.BACKUP_NOT_FOUND:
            raise
        raise RunnerError(
            Reason.BACKUP_NOT_FOUND,
            f"no manifest {backup.manifest_key} in bucket {storage.bucket}: that backup never "
            "completed, was deleted by retention, or the key is wrong; the DatabaseBackup's "
            "status lists the good ones",
        ) from None
    manifest = Manifest.from_json(raw_manifest, backup.manifest_key)
    if manifest.data_key != backup.data_key:
        raise _mismatch(f"{backup.manifest_key} names {manifest.data_key} as its data")
    log.info(
        "restoring %s (%d records at sequence %d, from %s) into %s",
        backup.prefix,
        manifest.records,
        manifest.sequence,
        manifest.source_pod,
        target,
    )
    work = settings.restore_work_directory
    try:
        work.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(prefix="restore-", suffix=".ndjson.gz", dir=work)
    except OSError as error:
        raise RunnerError(
            Reason.INVALID_CONFIGURATION,
            f"cannot write in RESTORE_WORK_DIRECTORY {work}: {error.strerror or error}",
        ) from None
    os.close(handle)
    download = Path(name)
    try:
        clock = time.monotonic()
        with_retries(
            lambda: _download(storage, manifest, download),
            what=f"downloading {manifest.data_key}",
            attempts=settings.retry_attempts,
            delay=settings.retry_delay,
        )
        log.info(
            "downloaded and verified %d bytes in %.2fs", manifest.size, time.monotonic() - clock
        )
        clock = time.monotonic()
        (target / PENDING).touch()
        fsync_directory(target)
        loaded = _load(download, target)
        log.info("loaded %d records in %.2fs", manifest.records, time.monotonic() - clock)
    finally:
        download.unlink(missing_ok=True)
    if (loaded.get("records"), loaded.get("sequence")) != (manifest.records, manifest.sequence):
        raise RunnerError(
            Reason.LOAD_FAILED,
            f"database_service load reports {loaded} but the backup holds {manifest.records} "
            f"records at sequence {manifest.sequence}",
        )
    result: dict[str, object] = {
        "result": "Succeeded",
        "operation": "restore",
        "repo": settings.repo_name,
        "bucket": storage.bucket,
        **manifest.report(backup.manifest_key),
        "backupTime": manifest.time,
        "dataDirectory": str(target),
        "startTime": iso_time(started),
        "completionTime": iso_time(now()),
    }
    _write_marker(
        target,
        {
            key: result[key]
            for key in (
                "repo",
                "bucket",
                "manifestKey",
                "objectKey",
                "sha256",
                "records",
                "sequence",
                "backupTime",
                "completionTime",
            )
        },
    )
    (target / PENDING).unlink()
    fsync_directory(target)
    return result
