"""Storage in a directory (`BACKUP_REPO_TYPE=filesystem`): the same layout as a bucket, on a volume.

The bucket is a directory under `BACKUP_REPO_PATH`; a key is a path below it. Writes are atomic: the
data goes to a hidden temporary file beside its destination (`.<name>.<random>.partial`), is
fsynced, renamed into place, and the directory is fsynced, so a key either holds a whole object or
nothing, even across a crash. A temporary file left by a killed run is a "leftover" that retention
removes once it is older than `BACKUP_INCOMPLETE_AFTER`.
"""

from __future__ import annotations

import errno
import os
import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from backup_runner import layout
from backup_runner.errors import Reason, RunnerError
from backup_runner.settings import Settings
from backup_runner.storage import Leftover, StoredObject

__all__ = ["FilesystemStorage", "fsync_directory"]

_PARTIAL = ".partial"
_READ_PIECE = 1024 * 1024

T = TypeVar("T")


def fsync_directory(path: Path) -> None:
    """Make a rename or an unlink in `path` durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FilesystemStorage:
    def __init__(self, root: Path, bucket: str) -> None:
        self._root = root
        self._bucket = bucket
        self._dir = root / bucket

    @classmethod
    def from_settings(cls, settings: Settings) -> FilesystemStorage:
        assert settings.repo_path is not None
        bucket = layout.bucket_name(
            settings.repo_bucket_prefix, settings.namespace, settings.cluster
        )
        return cls(settings.repo_path, bucket)

    @property
    def bucket(self) -> str:
        return self._bucket

    def ensure_bucket(self, *, create: bool) -> None:
        if self._dir.is_dir():
            if not os.access(self._dir, os.R_OK | os.W_OK | os.X_OK):
                raise RunnerError(
                    Reason.PERMISSION_DENIED,
                    f"cannot read and write {self._dir}: fix the repo volume's permissions",
                )
            return
        if not create:
            raise RunnerError(
                Reason.BACKUP_NOT_FOUND,
                f"{self._dir} does not exist: no backup was ever written for this cluster to "
                "this repo",
            )
        self._call(f"creating {self._dir}", lambda: self._dir.mkdir(parents=True, exist_ok=True))

    def _path(self, key: str) -> Path:
        parts = key.split("/")
        if any(part in ("", ".", "..") for part in parts):
            raise RunnerError(Reason.INVALID_CONFIGURATION, f"not a valid object key: {key!r}")
        return self._dir.joinpath(*parts)

    def put_stream(self, key: str, chunks: Iterable[bytes]) -> None:
        path = self._path(key)
        self._call(
            f"creating {path.parent}", lambda: path.parent.mkdir(parents=True, exist_ok=True)
        )
        temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}{_PARTIAL}")
        try:
            with self._call(f"writing {temporary}", lambda: temporary.open("wb")) as file:
                for chunk in chunks:
                    self._call(f"writing {temporary}", lambda chunk=chunk: file.write(chunk))  # type: ignore[misc]
                file.flush()
                self._call(f"syncing {temporary}", lambda: os.fsync(file.fileno()))
            self._call(f"renaming to {path}", lambda: temporary.replace(path))
            self._call(f"syncing {path.parent}", lambda: fsync_directory(path.parent))
        finally:
            temporary.unlink(missing_ok=True)

    def put_bytes(self, key: str, data: bytes) -> None:
        self.put_stream(key, [data])

    def get_bytes(self, key: str) -> bytes:
        return b"".join(self.get_chunks(key))

    def get_chunks(self, key: str) -> Iterator[bytes]:
        path = self._path(key)
        try:
            file = path.open("rb")
        except FileNotFoundError:
            raise RunnerError(Reason.BACKUP_NOT_FOUND, f"{path} does not exist") from None
        except OSError as error:
            raise self._translate(error, f"reading {path}") from None
        with file:
            while piece := self._call(f"reading {path}", lambda: file.read(_READ_PIECE)):
                yield piece

    def size_of(self, key: str) -> int | None:
        try:
            return self._path(key).stat().st_size
        except FileNotFoundError:
            return None
        except OSError as error:
            raise self._translate(error, f"checking {key}") from None

    def _walk(self, prefix: str) -> Iterator[tuple[str, Path]]:
        """`(key, path)` of every file under the bucket whose key starts with `prefix`."""
        found: list[tuple[str, Path]] = []
        try:
            for directory, _dirs, files in os.walk(self._dir, onerror=_raise):
                base = Path(directory).relative_to(self._dir)
                for name in files:
                    key = (base / name).as_posix()
                    if key.startswith(prefix):
                        found.append((key, Path(directory) / name))
        except OSError as error:
            raise self._translate(error, f"listing {self._dir}") from None
        yield from sorted(found)

    def list(self, prefix: str) -> Iterator[StoredObject]:
        for key, path in self._walk(prefix):
            if path.name.startswith(".") and path.name.endswith(_PARTIAL):
                continue
            try:
                size = path.stat().st_size
            except FileNotFoundError:  # deleted by a concurrent run since the walk
                continue
            yield StoredObject(key=key, size=size)

    def delete(self, keys: Iterable[str]) -> None:
        for key in keys:
            path = self._path(key)
            self._call(f"deleting {path}", lambda path=path: path.unlink(missing_ok=True))  # type: ignore[misc]
            self._remove_empty_parents(path.parent)

    def _remove_empty_parents(self, directory: Path) -> None:
        while directory != self._dir and self._dir in directory.parents:
            try:
                directory.rmdir()
            except OSError:  # not empty (or already gone): stop climbing
                return
            directory = directory.parent

    def leftovers(self, prefix: str) -> Iterator[Leftover]:
        folder = prefix.rsplit("/", 1)[0] + "/" if "/" in prefix else ""
        for key, path in self._walk(folder):
            if not (path.name.startswith(".") and path.name.endswith(_PARTIAL)):
                continue
            # `.<name>.<random>.partial` stands for the key `<folder>/<name>`.
            final_name = path.name[1:].removesuffix(_PARTIAL).rsplit(".", 1)[0]
            final_key = key.rsplit("/", 1)[0] + "/" + final_name if "/" in key else final_name
            if not final_key.startswith(prefix):
                continue
            try:
                started = datetime.fromtimestamp(path.stat().st_mtime, UTC)
            except FileNotFoundError:
                continue
            yield Leftover(key=final_key, started=started, handle=str(path))

    def discard(self, leftover: Leftover) -> None:
        path = Path(leftover.handle)
        if self._dir not in path.parents:
            raise RunnerError(Reason.STORAGE_ERROR, f"refusing to delete {path} outside the repo")
        self._call(f"deleting {path}", lambda: path.unlink(missing_ok=True))
        self._remove_empty_parents(path.parent)

    def _call(self, action: str, operation: Callable[[], T]) -> T:
        try:
            return operation()
        except OSError as error:
            raise self._translate(error, action) from None

    def _translate(self, error: OSError, action: str) -> RunnerError:
        if isinstance(error, PermissionError) or error.errno in (errno.EACCES, errno.EROFS):
            return RunnerError(
                Reason.PERMISSION_DENIED,
                f"permission denied while {action}: make the repo volume writable for the "
                "runner's user",
            )
        if error.errno in (errno.ENOSPC, errno.EDQUOT):
            return RunnerError(
                Reason.STORAGE_ERROR,
                f"the repo volume is full while {action}: enlarge it or keep fewer backups",
            )
        return RunnerError(Reason.STORAGE_ERROR, f"{action} failed: {error.strerror or error}")


def _raise(error: OSError) -> None:
    raise error
