"""Faults, each with the real thing broken: MinIO killed mid-upload, a database member killed
mid-snapshot, wrong keys, missing permissions, no database, an unreachable endpoint, a corrupted
backup. A failed run writes no manifest, and every message says what to fix without a secret."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from minio import Minio

from backup_runner.layout import BackupId
from backup_runner.s3 import PART_SIZE
from tests.integration.backup_runner.conftest import (
    database_urls,
    identity,
    loaded_cluster,
    run_runner,
    write_snapshot,
)
from tests.support.database import Cluster, free_port
from tests.support.minio import MinioServer

# Random 400-character names barely compress (about 330 bytes a person): some three upload parts
# of data, so a backup of it is a multipart upload that can be caught in the middle.
BIG_PEOPLE = 3 * PART_SIZE // 330
FAST_FAILURE = {"BACKUP_RETRY_ATTEMPTS": "2", "BACKUP_RETRY_DELAY": "100ms"}


@pytest.fixture(scope="module")
def big(module_dir: Path) -> Iterator[Cluster]:
    snapshot = module_dir / "big.ndjson"
    write_snapshot(snapshot, BIG_PEOPLE, seed=7, name_length=400)
    cluster = loaded_cluster(module_dir / "big", snapshot, name="big")
    yield cluster
    cluster.stop()


def keys(client: Minio, bucket: str) -> list[str]:
    return sorted(item.object_name for item in client.list_objects(bucket, recursive=True))


def unfinished_uploads(client: Minio, bucket: str, key: str | None = None) -> list[Any]:
    """MinIO lists uploads for one whole key, or (until it restarts) all of them."""
    return list(client._list_multipart_uploads(bucket, prefix=key).uploads)


def stored(client: Minio, bucket: str, name: str) -> list[str]:
    """Keys of the objects called `name` (data.ndjson.gz, manifest.json, started.json)."""
    return [key for key in keys(client, bucket) if key.endswith("/" + name)]


def start_runner(
    operation: str, env: dict[str, str], tmp_path: Path
) -> tuple[threading.Thread, dict[str, Any]]:
    """`run_runner` in a thread, for tests that break something while it runs."""
    box: dict[str, Any] = {}
    thread = threading.Thread(
        target=lambda: box.update(run=run_runner(operation, env, tmp_path)), daemon=True
    )
    thread.start()
    return thread, box


def wait_for_multipart(client: Minio, bucket: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if client.bucket_exists(bucket) and unfinished_uploads(client, bucket):
                return
        except Exception:  # the bucket is being created
            pass
        time.sleep(0.02)
    raise AssertionError("the backup never started a multipart upload")


def test_minio_killed_mid_upload(
    source: Cluster, big: Cluster, fresh_minio: MinioServer, tmp_path: Path
) -> None:
    env = {**identity(cluster="faults"), **fresh_minio.runner_env(), **FAST_FAILURE}
    good = run_runner("backup", {**env, "BACKUP_DATABASE_URLS": database_urls(source)}, tmp_path)
    assert good.result["result"] == "Succeeded", good.stderr
    client = fresh_minio.client()

    thread, box = start_runner("backup", {**env, "BACKUP_DATABASE_URLS": big.leader.url}, tmp_path)
    wait_for_multipart(client, "shop-faults")
    fresh_minio.kill()
    thread.join(timeout=120)
    failed = box["run"]
    assert failed.result["result"] == "Failed"
    assert failed.reason == "EndpointUnreachable", failed.result
    assert "BACKUP_REPO_ENDPOINT" in failed.result["message"]

    fresh_minio.start()  # same port, same data
    client = fresh_minio.client()
    # No manifest (nor data object) for the interrupted backup: only the good one counts.
    assert stored(client, "shop-faults", "manifest.json") == [good.result["manifestKey"]]
    assert stored(client, "shop-faults", "data.ndjson.gz") == [good.result["objectKey"]]
    interrupted = BackupId.parse(stored(client, "shop-faults", "started.json")[-1])
    assert interrupted is not None
    assert interrupted.manifest_key != good.result["manifestKey"]
    assert len(unfinished_uploads(client, "shop-faults", interrupted.data_key)) == 1

    restored = run_runner(
        "restore", {**env, "RESTORE_DATA_DIRECTORY": str(tmp_path / "restored")}, tmp_path
    )
    assert restored.result["result"] == "Succeeded", restored.stderr
    assert restored.result["manifestKey"] == good.result["manifestKey"]

    # A later run removes the leftover once it is older than BACKUP_INCOMPLETE_AFTER.
    later = run_runner(
        "backup",
        {**env, "BACKUP_DATABASE_URLS": database_urls(source), "BACKUP_INCOMPLETE_AFTER": "0s"},
        tmp_path,
    )
    assert later.result["result"] == "Succeeded", later.stderr
    assert later.result["retention"]["incompleteDeleted"] == 1
    assert unfinished_uploads(client, "shop-faults", interrupted.data_key) == []
    assert interrupted.started_key not in keys(client, "shop-faults")


def test_database_member_killed_mid_snapshot(
    big: Cluster, minio_server: MinioServer, tmp_path: Path
) -> None:
    env = {
        **identity(cluster="member-killed"),
        **minio_server.runner_env(),
        "BACKUP_DATABASE_URLS": database_urls(big),
    }
    client = minio_server.client()
    thread, box = start_runner("backup", env, tmp_path)
    wait_for_multipart(client, "shop-member-killed")
    big.followers[0].kill()
    thread.join(timeout=120)
    run = box["run"]
    # The cut stream is not stored; the retry takes the snapshot from the next member.
    assert run.result["result"] == "Succeeded", run.stderr
    assert run.result["sourcePod"] == "big-0"
    assert "SnapshotIncomplete" in run.stderr
    assert run.result["records"] == BIG_PEOPLE + 4
    backup = BackupId.parse(run.result["manifestKey"])
    assert backup is not None
    assert keys(client, "shop-member-killed") == [
        backup.data_key,
        backup.manifest_key,
        backup.started_key,
    ]
    assert unfinished_uploads(client, "shop-member-killed") == []


@pytest.mark.parametrize("wrong", ["BACKUP_REPO_SECRET_ACCESS_KEY", "BACKUP_REPO_ACCESS_KEY_ID"])
def test_wrong_credentials(
    wrong: str, source: Cluster, minio_server: MinioServer, tmp_path: Path
) -> None:
    env = {
        **identity(cluster="creds"),
        **minio_server.runner_env(**{wrong: "wrong-value-0123456789abcdef"}),
        "BACKUP_DATABASE_URLS": database_urls(source),
    }
    run = run_runner("backup", env, tmp_path)  # also checks that no key value is printed
    assert run.reason == "BadCredentials"
    assert "HmacAccessKeyId and HmacSecretAccessKey" in run.result["message"]
    assert not minio_server.client().bucket_exists("shop-creds")


def test_no_permission_on_the_bucket(
    source: Cluster, minio_server: MinioServer, tmp_path: Path
) -> None:
    minio_server.client().make_bucket("shop-guarded")
    access, secret = minio_server.add_user(
        "outsider",
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": ["s3:*"],
                    "Resource": ["arn:aws:s3:::unrelated", "arn:aws:s3:::unrelated/*"],
                }
            ],
        },
    )
    env = {
        **identity(cluster="guarded"),
        **minio_server.runner_env(
            BACKUP_REPO_ACCESS_KEY_ID=access, BACKUP_REPO_SECRET_ACCESS_KEY=secret
        ),
        "BACKUP_DATABASE_URLS": database_urls(source),
    }
    run = run_runner("backup", env, tmp_path)
    assert run.reason == "PermissionDenied"
    assert "shop-guarded" in run.result["message"]
    assert "s3:PutObject" in run.result["message"]
    assert keys(minio_server.client(), "shop-guarded") == []


def test_no_permission_to_create_the_bucket(
    source: Cluster, minio_server: MinioServer, tmp_path: Path
) -> None:
    bucket = "arn:aws:s3:::shop-uncreated"
    access, secret = minio_server.add_user(
        "no-create",
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": ["s3:ListBucket", "s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                    "Resource": [bucket, f"{bucket}/*"],
                }
            ],
        },
    )
    env = {
        **identity(cluster="uncreated"),
        **minio_server.runner_env(
            BACKUP_REPO_ACCESS_KEY_ID=access, BACKUP_REPO_SECRET_ACCESS_KEY=secret
        ),
        "BACKUP_DATABASE_URLS": database_urls(source),
    }
    run = run_runner("backup", env, tmp_path)
    assert run.reason == "PermissionDenied"
    assert "create the bucket" in run.result["message"]
    assert "s3:CreateBucket" in run.result["message"]


def test_database_down(minio_server: MinioServer, tmp_path: Path) -> None:
    dead = [f"http://127.0.0.1:{free_port()}" for _ in range(2)]
    env = {
        **identity(cluster="no-database"),
        **minio_server.runner_env(),
        "BACKUP_DATABASE_URLS": ",".join(dead),
        **FAST_FAILURE,
    }
    run = run_runner("backup", env, tmp_path)
    assert run.reason == "DatabaseUnreachable"
    assert all(url in run.result["message"] for url in dead)
    assert run.stderr.count("attempt 2 of 2") == 1  # bounded retries
    client = minio_server.client()
    # Only the trace a failed run leaves for retention: no data, no manifest.
    assert [key.rsplit("/", 1)[1] for key in keys(client, "shop-no-database")] == ["started.json"]
    assert unfinished_uploads(client, "shop-no-database") == []


def test_endpoint_unreachable(source: Cluster, minio_server: MinioServer, tmp_path: Path) -> None:
    env = {
        **identity(cluster="nowhere"),
        **minio_server.runner_env(BACKUP_REPO_ENDPOINT=f"127.0.0.1:{free_port()}"),
        "BACKUP_DATABASE_URLS": database_urls(source),
        **FAST_FAILURE,
    }
    run = run_runner("backup", env, tmp_path)
    assert run.reason == "EndpointUnreachable"
    assert "BACKUP_REPO_ENDPOINT" in run.result["message"]


def test_corrupted_backup_is_refused(
    source: Cluster, minio_server: MinioServer, tmp_path: Path
) -> None:
    env = {
        **identity(cluster="corrupt"),
        **minio_server.runner_env(),
        "BACKUP_DATABASE_URLS": database_urls(source),
    }
    backup = run_runner("backup", env, tmp_path)
    assert backup.result["result"] == "Succeeded", backup.stderr
    client = minio_server.client()
    key = backup.result["objectKey"]
    data = bytearray(client.get_object("shop-corrupt", key).read())
    data[len(data) // 2] ^= 0x01  # one flipped bit, same size
    client.put_object("shop-corrupt", key, io.BytesIO(bytes(data)), len(data))

    target = tmp_path / "restored"
    for chosen in ({}, {"RESTORE_OBJECT_KEY": backup.result["manifestKey"]}):
        run = run_runner(
            "restore", {**env, **chosen, "RESTORE_DATA_DIRECTORY": str(target)}, tmp_path
        )
        assert run.reason == "ChecksumMismatch"
        assert "RESTORE_OBJECT_KEY" in run.result["message"]
        assert list(target.iterdir()) == []  # nothing touched


def test_restore_of_a_missing_backup(minio_server: MinioServer, tmp_path: Path) -> None:
    minio_server.client().make_bucket("shop-missing")
    env = {**identity(cluster="missing"), **minio_server.runner_env()}
    missing = BackupId("20000101T000000.000Z").manifest_key
    run = run_runner(
        "restore",
        {**env, "RESTORE_OBJECT_KEY": missing, "RESTORE_DATA_DIRECTORY": str(tmp_path / "t")},
        tmp_path,
    )
    assert run.reason == "BackupNotFound"
