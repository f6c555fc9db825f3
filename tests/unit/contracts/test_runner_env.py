"""The contract between the hooks and backup_runner, tested from both sides.

Jobs, CronJobs and restore init containers are rendered by the hooks; their env (with the Kubernetes
indirections filled in the way a kubelet would) is parsed by backup_runner's own settings model.
Every variable the hooks render must be one the runner reads, and every setting must arrive.
"""

from __future__ import annotations

import pathlib
from typing import Any

import pytest

from backup_runner.settings import ENV_VARS, Operation, Settings
from hooks import backup, cluster
from hooks.envelope import SyncRequest
from tests.support.hook_requests import API_VERSION, backup_parent, cluster_parent, related_clusters
from tests.support.local_pods import container_env

SECRETS = {"creds": {"HmacAccessKeyId": "AKIDEXAMPLE", "HmacSecretAccessKey": "s3cr3t-value"}}
REPOS = [
    {
        "name": "cos",
        "type": "ibmcos",
        "secretName": "creds",
        "serviceEndpoint": "https://s3.eu.cloud-object-storage.appdomain.cloud",
        "cosRegion": "eu-geo",
        "bucketNamePrefix": "database-backup-",
    },
    {
        "name": "minio",
        "type": "s3",
        "secretName": "creds",
        "serviceEndpoint": "minio.minio.svc:9000",
        "pathStyle": True,
        "tls": {"caConfigMap": {"name": "minio-ca", "key": "ca.pem"}},
    },
    {"name": "volume", "type": "filesystem", "claimName": "backups"},
]


def kubelet_env(
    container: dict[str, Any], pod: str, root: pathlib.Path | None = None
) -> dict[str, str]:
    """The env a kubelet would give; with `root`, volume paths map to directories under it."""
    mounts = {}
    for mount in container.get("volumeMounts", []):
        local = pathlib.Path(mount["mountPath"])
        if root is not None:
            local = root / mount["name"]
            local.mkdir(parents=True, exist_ok=True)
            (local / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\n")  # a mounted ConfigMap
        mounts[mount["mountPath"]] = local
    return container_env(container, pod, "shop", SECRETS, mounts)


def backup_containers(repo: str) -> list[dict[str, Any]]:
    parent = backup_parent(
        repos=REPOS,
        manualTrigger={"time": "t", "repo": repo},
        scheduledTrigger={"schedule": "@daily", "repo": repo},
        retention={"keepLast": 7, "maxAge": "30d"},
    )
    answer = backup.sync(
        SyncRequest(parent=parent, related=related_clusters(cluster_parent(amountPods=3)))
    )
    job, cron = answer.children
    return [
        job["spec"]["template"]["spec"]["containers"][0],
        cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0],
    ]


@pytest.mark.parametrize("repo", [r["name"] for r in REPOS])
def test_backup_job_env_is_what_the_runner_reads(repo: str, tmp_path: pathlib.Path) -> None:
    for container in backup_containers(repo):
        assert container["command"] == ["python", "-m", "backup_runner", "backup"]
        env = kubelet_env(container, "nightly-manual-abc-x1", tmp_path)
        assert set(env) <= ENV_VARS, set(env) - ENV_VARS
        settings = Settings.from_env(env, Operation.BACKUP)
        dumped = settings.model_dump()
        assert dumped["cluster"] == "db"
        assert dumped["namespace"] == "shop"
        assert settings.retention_keep_last == 7
        assert settings.retention_max_age is not None
        assert settings.retention_max_age.days == 30
        urls = settings.database_urls
        assert len(urls) == 3
        assert str(urls[0]).startswith("http://db-1.db-pods.shop.svc:8089")
        assert settings.repo_type.value == next(r["type"] for r in REPOS if r["name"] == repo)


def test_s3_settings_and_secret_arrive(tmp_path: pathlib.Path) -> None:
    container = backup_containers("minio")[0]
    settings = Settings.from_env(kubelet_env(container, "p", tmp_path), Operation.BACKUP)
    assert settings.repo_endpoint == "minio.minio.svc:9000"
    assert settings.repo_path_style is True
    assert settings.repo_insecure is False, "TLS stays on unless asked"
    assert settings.repo_ca_bundle == tmp_path / "backup-repo-ca" / "ca.pem"
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert "/etc/backup-repo/ca" in mounts
    assert settings.repo_secret_access_key is not None
    assert settings.repo_secret_access_key.get_secret_value() == "s3cr3t-value"
    assert "s3cr3t-value" not in repr(settings), "a secret never shows in a repr or a log"


def test_ibmcos_endpoint_loses_its_scheme_and_keeps_tls(tmp_path: pathlib.Path) -> None:
    env = kubelet_env(backup_containers("cos")[0], "p", tmp_path)
    settings = Settings.from_env(env, Operation.BACKUP)
    assert settings.repo_endpoint == "s3.eu.cloud-object-storage.appdomain.cloud"
    assert settings.repo_region == "eu-geo"
    assert settings.repo_bucket_prefix == "database-backup-"
    assert settings.repo_insecure is False


def test_restore_init_container_env_is_what_the_runner_reads(tmp_path: pathlib.Path) -> None:
    source = backup_parent(
        "nightly",
        repos=REPOS,
        manualTrigger={"time": "t", "repo": "minio"},
        scheduledTrigger=None,
        cluster="orders",
    )
    parent = cluster_parent("copy", restore={"backup": "nightly", "objectKey": "backups/x/"})
    related = {f"DatabaseBackup.{API_VERSION}": {"shop/nightly": source}}
    answer = cluster.sync(SyncRequest(parent=parent, related=related))
    sts = next(c for c in answer.children if c["kind"] == "StatefulSet")
    init = sts["spec"]["template"]["spec"]["initContainers"][0]
    assert init["command"] == ["python", "-m", "backup_runner", "restore"]
    env = kubelet_env(init, "copy-0", tmp_path)
    assert set(env) <= ENV_VARS, set(env) - ENV_VARS
    settings = Settings.from_env(env, Operation.RESTORE)
    dumped = settings.model_dump()
    assert dumped["cluster"] == "orders"
    assert settings.restore_data_directory == tmp_path / "data"
    assert settings.restore_object_key == "backups/x/"
    assert settings.restore_leader_pod == "copy-0"
