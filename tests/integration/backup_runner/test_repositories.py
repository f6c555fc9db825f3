"""Several repositories: the scheduled trigger writes to one, the manual trigger to another, each
run configured only by its env (as the CronJob and the manual Job are); each backup lands in its
own repo and restores from there."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.integration.backup_runner.conftest import (
    database_urls,
    identity,
    persons,
    run_runner,
)
from tests.support.database import Cluster
from tests.support.minio import MinioServer


def objects(server: MinioServer, bucket: str) -> list[str]:
    client = server.client()
    if not client.bucket_exists(bucket):
        return []
    return sorted(item.object_name for item in client.list_objects(bucket, recursive=True))


def test_scheduled_and_manual_triggers_use_their_own_repos(
    source: Cluster, minio_server: MinioServer, tmp_path: Path
) -> None:
    common = {**identity(cluster="multi"), "BACKUP_DATABASE_URLS": database_urls(source)}
    # Repo "nightly": S3 with a bucket prefix; repo "manual": a filesystem volume.
    nightly = {
        **common,
        **minio_server.runner_env(BACKUP_REPO_BUCKET_PREFIX="nightly-"),
        "BACKUP_REPO_NAME": "nightly",
        "BACKUP_RETENTION_KEEP_LAST": "2",
    }
    manual = {
        **common,
        "BACKUP_REPO_NAME": "manual",
        "BACKUP_REPO_TYPE": "filesystem",
        "BACKUP_REPO_PATH": str(tmp_path / "manual-repo"),
    }

    scheduled_run = run_runner("backup", nightly, tmp_path)
    assert scheduled_run.result["result"] == "Succeeded", scheduled_run.stderr
    assert scheduled_run.result["repo"] == "nightly"
    assert scheduled_run.result["bucket"] == "nightly-shop-multi"

    response = httpx.post(
        f"{source.leader.url}/persons", json={"firstName": "Only", "lastName": "InManual"}
    )
    response.raise_for_status()
    source.wait_converged()
    manual_run = run_runner("backup", manual, tmp_path)
    assert manual_run.result["result"] == "Succeeded", manual_run.stderr
    assert manual_run.result["repo"] == "manual"
    assert manual_run.result["records"] == scheduled_run.result["records"] + 1

    # Each backup is in its own repo and nowhere else.
    assert scheduled_run.result["manifestKey"] in objects(minio_server, "nightly-shop-multi")
    assert not minio_server.client().bucket_exists("shop-multi")
    manual_dir = tmp_path / "manual-repo" / "shop-multi"
    assert (manual_dir / manual_run.result["manifestKey"]).is_file()
    assert len(list((manual_dir / "backups").iterdir())) == 1

    # Restoring from each repo gives that repo's data.
    for env, run in ((nightly, scheduled_run), (manual, manual_run)):
        target = tmp_path / f"restored-{env['BACKUP_REPO_NAME']}"
        restored = run_runner("restore", {**env, "RESTORE_DATA_DIRECTORY": str(target)}, tmp_path)
        assert restored.result["result"] == "Succeeded", restored.stderr
        assert restored.result["manifestKey"] == run.result["manifestKey"]
        assert restored.result["records"] == run.result["records"]
    assert manual_run.result["records"] == len(persons(source.leader.url))
