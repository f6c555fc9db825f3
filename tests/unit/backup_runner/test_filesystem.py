"""The filesystem storage: atomic writes, the bucket layout on disk, leftovers and deletes."""

from __future__ import annotations

import os
import pathlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from backup_runner import retention
from backup_runner.errors import Reason, RunnerError
from backup_runner.filesystem import FilesystemStorage
from backup_runner.layout import BackupId

BACKUP = BackupId("20240420T025943.123Z")


@pytest.fixture
def storage(tmp_path: pathlib.Path) -> FilesystemStorage:
    store = FilesystemStorage(tmp_path, "shop-db")
    store.ensure_bucket(create=True)
    return store


def test_missing_bucket(tmp_path: pathlib.Path) -> None:
    with pytest.raises(RunnerError) as caught:
        FilesystemStorage(tmp_path, "nothing").ensure_bucket(create=False)
    assert caught.value.reason is Reason.BACKUP_NOT_FOUND


def test_write_read_list(storage: FilesystemStorage, tmp_path: pathlib.Path) -> None:
    storage.put_stream(BACKUP.data_key, [b"ab", b"", b"cd"])
    storage.put_bytes(BACKUP.manifest_key, b"{}")
    assert (tmp_path / "shop-db" / "backups" / BACKUP.text / "data.ndjson.gz").read_bytes() == (
        b"abcd"
    )
    assert storage.get_bytes(BACKUP.data_key) == b"abcd"
    assert storage.size_of(BACKUP.data_key) == 4
    assert storage.size_of("backups/none") is None
    assert [o.key for o in storage.list("backups/")] == [BACKUP.data_key, BACKUP.manifest_key]


def test_failed_stream_leaves_nothing(storage: FilesystemStorage) -> None:
    def broken() -> Iterator[bytes]:
        yield b"partial"
        raise RunnerError(Reason.SNAPSHOT_INCOMPLETE, "cut off")

    with pytest.raises(RunnerError, match="cut off"):
        storage.put_stream(BACKUP.data_key, broken())
    assert list(storage.list("")) == []
    assert list(storage.leftovers("")) == []


def test_leftover_of_a_killed_run(storage: FilesystemStorage, tmp_path: pathlib.Path) -> None:
    folder = tmp_path / "shop-db" / "backups" / BACKUP.text
    folder.mkdir(parents=True)
    partial = folder / ".data.ndjson.gz.0123abcd.partial"
    partial.write_bytes(b"half")
    old = (datetime.now(UTC) - timedelta(days=2)).timestamp()
    os.utime(partial, (old, old))
    assert list(storage.list("")) == []  # invisible as an object
    [leftover] = storage.leftovers("backups/")
    assert leftover.key == BACKUP.data_key
    outcome = retention.apply(storage, retention.Policy(), datetime.now(UTC))
    assert outcome.leftovers_discarded == 1
    assert not folder.exists()  # the emptied backup folder goes too


def test_delete_removes_empty_folders(storage: FilesystemStorage, tmp_path: pathlib.Path) -> None:
    storage.put_bytes(BACKUP.data_key, b"x")
    storage.put_bytes(BACKUP.manifest_key, b"{}")
    storage.delete([BACKUP.manifest_key, BACKUP.data_key])
    assert not (tmp_path / "shop-db" / "backups").exists()
    assert (tmp_path / "shop-db").is_dir()


def test_keys_cannot_escape(storage: FilesystemStorage) -> None:
    with pytest.raises(RunnerError):
        storage.put_bytes("backups/../../etc/passwd", b"x")
