"""The one storage interface; its two implementations are `s3.S3Storage` and `filesystem.py`'s.

Everything above this interface (backup, restore, retention) speaks in keys of the layout
(`layout.py`) inside one bucket, and sees only `RunnerError`s: each implementation translates its
own failures into a reason and a message that says what to fix.

"Leftovers" are uploads that started and never finished: S3 multipart uploads that were neither
completed nor aborted (the runner was killed, or the endpoint vanished mid-upload), or a
filesystem repo's temporary files. They are invisible to listings, so retention asks for them
separately and discards them once they are older than `BACKUP_INCOMPLETE_AFTER`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from backup_runner.settings import Settings

__all__ = ["Leftover", "Storage", "StoredObject", "open_storage"]


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int


@dataclass(frozen=True)
class Leftover:
    """An upload that never finished; `handle` is what the implementation needs to discard it."""

    key: str
    started: datetime
    handle: str


class Storage(Protocol):
    @property
    def bucket(self) -> str:
        """The bucket (or directory) name, for reports."""
        ...

    def ensure_bucket(self, *, create: bool) -> None:
        """Check access to the bucket; create it when missing and `create`, else BackupNotFound."""
        ...

    def put_stream(self, key: str, chunks: Iterable[bytes]) -> None:
        """Store `chunks` under `key` in flat memory; nothing appears at `key` if they raise."""
        ...

    def put_bytes(self, key: str, data: bytes) -> None: ...

    def get_bytes(self, key: str) -> bytes: ...

    def get_chunks(self, key: str) -> Iterator[bytes]:
        """The object's bytes in pieces; BackupNotFound when it does not exist."""
        ...

    def size_of(self, key: str) -> int | None:
        """The stored size, or None when the object does not exist."""
        ...

    def list(self, prefix: str) -> Iterator[StoredObject]:
        """Every object whose key starts with `prefix`, at any depth, in key order."""
        ...

    def delete(self, keys: Iterable[str]) -> None: ...

    def leftovers(self, prefix: str) -> Iterator[Leftover]: ...

    def discard(self, leftover: Leftover) -> None: ...


def open_storage(settings: Settings) -> Storage:
    """The storage of the configured repository (no network traffic yet)."""
    # Imported here because both modules import this one for the types above.
    if settings.is_s3:
        from backup_runner.s3 import S3Storage

        return S3Storage.from_settings(settings)
    from backup_runner.filesystem import FilesystemStorage

    return FilesystemStorage.from_settings(settings)
