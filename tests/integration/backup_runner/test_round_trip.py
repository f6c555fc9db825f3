"""Back up a live cluster to MinIO (and to a filesystem repo), restore into an empty directory,
start a leader on it, and find the same people."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from backup_runner.layout import BackupId
from tests.integration.backup_runner.conftest import (
    database_urls,
    identity,
    persons,
    run_runner,
)
from tests.support.database import Cluster, free_port, start_replica
from tests.support.minio import MinioServer


def write_some(cluster: Cluster) -> None:
    """Live writes after the load: the backup must hold them, at the cluster's current sequence."""
    for number in range(5):
        response = httpx.post(
            f"{cluster.leader.url}/persons",
            json={"firstName": "Live", "lastName": f"Writer{number}"},
            timeout=10,
        )
        response.raise_for_status()
    cluster.wait_converged()


def restore_and_serve(env: dict[str, str], target: Path, tmp_path: Path) -> list[dict[str, object]]:
    restored = run_runner("restore", {**env, "RESTORE_DATA_DIRECTORY": str(target)}, tmp_path)
    assert restored.result["result"] == "Succeeded", restored.stderr
    leader = start_replica("restored-0", target, free_port()).wait_ready(timeout=60)
    try:
        return persons(leader.url)
    finally:
        leader.terminate()


def test_round_trip_through_minio(
    source: Cluster, minio_server: MinioServer, tmp_path: Path
) -> None:
    write_some(source)
    expected = persons(source.leader.url)
    assert len(expected) == 4 + 10_000 + 5
    sequence = source.leader.replication()["sequence"]
    env = {
        **identity(),
        **minio_server.runner_env(),
        "BACKUP_DATABASE_URLS": database_urls(source),
        "BACKUP_POD_NAME": "db-backup-manual-abc",
        "RESTORE_WORK_DIRECTORY": str(tmp_path / "work"),
    }

    backup = run_runner("backup", env, tmp_path)
    assert backup.result["result"] == "Succeeded", backup.stderr
    assert backup.result["sourcePod"] == "db-1"  # a follower spares the leader
    assert backup.result["records"] == len(expected)
    assert backup.result["sequence"] == sequence
    assert backup.result["bucket"] == "shop-db"

    client = minio_server.client()
    manifest = json.loads(client.get_object("shop-db", backup.result["manifestKey"]).read())
    assert manifest == {
        "formatVersion": 1,
        "cluster": "db",
        "namespace": "shop",
        "time": manifest["time"],
        "sequence": sequence,
        "records": len(expected),
        "bytes": backup.result["bytes"],
        "sha256": backup.result["sha256"],
        "compression": "gzip",
        "dataKey": backup.result["objectKey"],
        "sourcePod": "db-1",
        "sourceUrl": source.followers[0].url,
    }
    backup_id = BackupId.parse(backup.result["objectKey"])
    assert backup_id is not None
    assert manifest["time"] == backup_id.time.isoformat(timespec="milliseconds")[:-6] + "Z"

    target = tmp_path / "restored"
    assert restore_and_serve(env, target, tmp_path) == expected
    assert not list((tmp_path / "work").iterdir())  # the download is cleaned up

    # The init container runs again on every pod start: it must not restore a second time.
    again = run_runner("restore", {**env, "RESTORE_DATA_DIRECTORY": str(target)}, tmp_path)
    assert (again.code, again.result["result"], again.reason) == (0, "Skipped", "DataPresent")
    assert again.result["restoredFrom"]["manifestKey"] == backup.result["manifestKey"]


def test_leader_serves_when_no_follower_can(
    source: Cluster, minio_server: MinioServer, tmp_path: Path
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    env = {
        **identity(cluster="db-leader-only"),
        **minio_server.runner_env(),
        "BACKUP_DATABASE_URLS": f"{dead},{source.leader.url}",
    }
    backup = run_runner("backup", env, tmp_path)
    assert backup.result["result"] == "Succeeded", backup.stderr
    assert backup.result["sourcePod"] == "db-0"


def test_round_trip_through_a_filesystem_repo(source: Cluster, tmp_path: Path) -> None:
    expected = persons(source.leader.url)
    env = {
        **identity(repo="local"),
        "BACKUP_REPO_TYPE": "filesystem",
        "BACKUP_REPO_PATH": str(tmp_path / "repo"),
        "BACKUP_DATABASE_URLS": database_urls(source),
    }
    backup = run_runner("backup", env, tmp_path)
    assert backup.result["result"] == "Succeeded", backup.stderr
    stored = tmp_path / "repo" / "shop-db" / backup.result["objectKey"]
    assert stored.stat().st_size == backup.result["bytes"]
    assert (stored.parent / "manifest.json").is_file()
    assert restore_and_serve(env, tmp_path / "restored", tmp_path) == expected
