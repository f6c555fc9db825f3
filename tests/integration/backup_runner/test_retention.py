"""Retention against MinIO: a bucket with many backups (good, incomplete, foreign keys), a real
backup run with each policy, and what is left afterwards."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from minio import Minio

from backup_runner.layout import BackupId
from tests.integration.backup_runner.conftest import database_urls, identity, run_runner
from tests.support.database import Cluster, free_port
from tests.support.minio import MinioServer

NOW = datetime.now(UTC)
GOOD_AGES_DAYS = (1, 2, 3, 5, 8, 13, 21, 34, 55, 89)  # ten good backups before the run
INCOMPLETE_AGES = (timedelta(hours=1), timedelta(days=3, hours=1))  # data, no manifest
FOREIGN_KEY = "backups/README.txt"


def put(client: Minio, bucket: str, key: str, data: bytes) -> None:
    client.put_object(bucket, key, io.BytesIO(data), len(data))


def seed_bucket(client: Minio, bucket: str) -> None:
    client.make_bucket(bucket)
    for age in GOOD_AGES_DAYS:
        backup = BackupId.at(NOW - timedelta(days=age))
        put(client, bucket, backup.data_key, b"old data")
        put(client, bucket, backup.manifest_key, json.dumps({"formatVersion": 1}).encode())
    for incomplete in INCOMPLETE_AGES:
        put(client, bucket, BackupId.at(NOW - incomplete).data_key, b"cut off")
    put(client, bucket, FOREIGN_KEY, b"not ours: never deleted")


def remaining(client: Minio, bucket: str) -> tuple[list[int], list[int], bool]:
    """(days of age of the old good backups left, hours of the incomplete ones, foreign kept)."""
    keys = {item.object_name for item in client.list_objects(bucket, recursive=True)}
    good, incomplete = [], []
    for key in keys:
        backup = BackupId.parse(key)
        if backup is None or not key.endswith("data.ndjson.gz"):
            continue
        age = NOW - backup.time
        if age < timedelta(minutes=1):
            continue  # the backup this run made
        if backup.manifest_key in keys:
            good.append(round(age / timedelta(days=1)))
        else:
            incomplete.append(round(age / timedelta(hours=1)))
    return sorted(good), sorted(incomplete), FOREIGN_KEY in keys


@pytest.mark.parametrize(
    ("policy", "expected_good"),
    [
        ({}, list(GOOD_AGES_DAYS)),
        ({"BACKUP_RETENTION_KEEP_LAST": "4"}, [1, 2, 3]),
        ({"BACKUP_RETENTION_MAX_AGE": "10d"}, [1, 2, 3, 5, 8]),
        ({"BACKUP_RETENTION_KEEP_LAST": "7", "BACKUP_RETENTION_MAX_AGE": "4d"}, [1, 2, 3]),
        ({"BACKUP_RETENTION_KEEP_LAST": "1", "BACKUP_RETENTION_MAX_AGE": "1m"}, []),
    ],
    ids=["none", "keep-last", "max-age", "both", "only-newest"],
)
def test_policies(
    policy: dict[str, str],
    expected_good: list[int],
    source: Cluster,
    minio_server: MinioServer,
    tmp_path: Path,
) -> None:
    cluster = f"retention-{len(policy)}-{len(expected_good)}"
    client = minio_server.client()
    seed_bucket(client, f"shop-{cluster}")
    env = {
        **identity(cluster=cluster),
        **minio_server.runner_env(),
        "BACKUP_DATABASE_URLS": database_urls(source),
        **policy,
    }
    run = run_runner("backup", env, tmp_path)
    assert run.result["result"] == "Succeeded", run.stderr
    good, incomplete, foreign = remaining(client, f"shop-{cluster}")
    assert good == expected_good
    assert run.result["retention"]["deleted"] == len(GOOD_AGES_DAYS) - len(expected_good)
    # The incomplete backup from an hour ago may be a run in progress; the 3-day one is cleaned up.
    assert incomplete == [1]
    assert run.result["retention"]["incompleteDeleted"] == 1
    assert foreign
    # The newest good backup, the one just made, survives every policy.
    assert client.stat_object(f"shop-{cluster}", run.result["manifestKey"]).size


def test_failed_run_deletes_nothing(minio_server: MinioServer, tmp_path: Path) -> None:
    cluster = "retention-failed"
    client = minio_server.client()
    seed_bucket(client, f"shop-{cluster}")
    before = sorted(
        item.object_name for item in client.list_objects(f"shop-{cluster}", recursive=True)
    )
    env = {
        **identity(cluster=cluster),
        **minio_server.runner_env(),
        "BACKUP_DATABASE_URLS": f"http://127.0.0.1:{free_port()}",
        "BACKUP_RETENTION_KEEP_LAST": "1",
        "BACKUP_INCOMPLETE_AFTER": "0s",
        "BACKUP_RETRY_ATTEMPTS": "1",
    }
    run = run_runner("backup", env, tmp_path)
    assert run.reason == "DatabaseUnreachable"
    after = sorted(
        item.object_name for item in client.list_objects(f"shop-{cluster}", recursive=True)
    )
    assert set(before) <= set(after)  # the run only added its started.json
