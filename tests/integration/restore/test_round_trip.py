"""Restore, end to end with real processes and a real MinIO server.

Cluster A (leader and two followers, run from the StatefulSet the hooks render) takes writes; the
backup Job's command and env, exactly as rendered, run as a process; cluster B is rendered with
`spec.restore`, its init container's command and env run as a process in every pod (only the leader
restores), then B's leader and followers start: they serve exactly A's data as of the backup's
sequence, and not the writes A took afterwards. The restore's report, read the way the hooks read a
pod's status, shows in B's status.
"""

from __future__ import annotations

import json
import pathlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from hooks import backup, cluster
from hooks.envelope import SyncRequest
from tests.support.hook_requests import API_VERSION, as_observed, backup_parent, cluster_parent
from tests.support.local_pods import LocalPods, local_pods
from tests.support.minio import MinioServer, start_minio

NAMESPACE = "shop"
SECRET = "minio-credentials"


@pytest.fixture
def minio(tmp_path: pathlib.Path) -> Iterator[MinioServer]:
    server = start_minio(tmp_path / "minio")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pods(tmp_path: pathlib.Path) -> Iterator[LocalPods]:
    with local_pods(tmp_path / "pods", NAMESPACE) as running:
        yield running


def statefulset(answer: Any) -> dict[str, Any]:
    return next(c for c in answer.children if c["kind"] == "StatefulSet")


def start_cluster(pods: LocalPods, sts: dict[str, Any]) -> list[str]:
    names = pods.add_statefulset(sts)
    template = sts["spec"]["template"]
    for name in names:  # OrderedReady: the leader first
        argv, env = pods.command(template, "database", name)
        pods.start(name, argv, env, ready_path="/readyz")
    return names


def related(kind: str, *objects: dict[str, Any]) -> dict[str, Any]:
    return {f"{kind}.{API_VERSION}": {f"{NAMESPACE}/{o['metadata']['name']}": o for o in objects}}


def checksums(pods: LocalPods, names: list[str]) -> list[dict[str, Any]]:
    return [httpx.get(f"{pods.url(n)}/api/checksum").json() for n in names]


def wait_converged(pods: LocalPods, names: list[str]) -> dict[str, Any]:
    import time

    deadline = time.monotonic() + 30
    while True:
        sums = checksums(pods, names)
        if all(s["sha256"] == sums[0]["sha256"] for s in sums):
            return sums[0]
        if time.monotonic() > deadline:
            raise AssertionError(f"replicas did not converge: {sums}")
        time.sleep(0.1)


def test_backup_then_restore_into_a_new_cluster(minio: MinioServer, pods: LocalPods) -> None:
    secrets = {
        SECRET: {"HmacAccessKeyId": minio.access_key, "HmacSecretAccessKey": minio.secret_key}
    }
    source = cluster_parent("orders", NAMESPACE, amountPods=3)
    a = start_cluster(pods, statefulset(cluster.sync(SyncRequest(parent=source))))

    leader = pods.url(a[0])
    for i in range(300):
        person = {"firstName": f"First{i}", "lastName": f"Last{i}"}
        assert httpx.post(f"{leader}/persons", json=person).status_code in (200, 201)
    at_backup = wait_converged(pods, a)
    people_at_backup = httpx.get(f"{leader}/persons").json()

    repo = {
        "name": "minio",
        "type": "s3",
        "secretName": SECRET,
        "serviceEndpoint": minio.endpoint,
        "pathStyle": True,
        "tls": {"insecure": True},
        "bucketNamePrefix": "backups-",
    }
    nightly = backup_parent(
        "nightly",
        NAMESPACE,
        repos=[repo],
        manualTrigger={"time": "now", "repo": "minio"},
        scheduledTrigger={"schedule": "0 2 * * *", "repo": "minio"},
    )
    rendered = backup.sync(SyncRequest(parent=nightly, related=related("DatabaseCluster", source)))
    nightly["status"] = rendered.status  # as Metacontroller writes it: it names the cluster
    job = next(c for c in rendered.children if c["kind"] == "Job")
    argv, env = pods.command(job["spec"]["template"], "backup", "nightly-job-pod", secrets)
    result = pods.run(argv, env)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(pods.pod("nightly-job-pod").termination_log.read_text())
    assert report["result"] == "Succeeded"
    assert report["records"] == at_backup["records"]
    assert report["sequence"] == at_backup["sequence"]
    assert report["sourcePod"] in ("orders-1", "orders-2"), "a follower serves the backup"

    for i in range(20):  # after the backup: must not reach the restored cluster
        httpx.post(f"{leader}/persons", json={"firstName": "Late", "lastName": str(i)})

    copy_parent = cluster_parent(
        "orders-copy", NAMESPACE, amountPods=3, restore={"backup": "nightly"}
    )
    answer = cluster.sync(
        SyncRequest(parent=copy_parent, related=related("DatabaseBackup", nightly))
    )
    sts = statefulset(answer)
    template = sts["spec"]["template"]
    b = pods.add_statefulset(sts)
    reports = {}
    for name in b:
        argv, env = pods.command(template, "restore", name, secrets, init=True)
        # The init container and the database container of one pod share its data volume.
        outcome = pods.run(argv, env)
        assert outcome.returncode == 0, outcome.stdout + outcome.stderr
        reports[name] = json.loads(pods.pod(name).termination_log.read_text())
    assert reports["orders-copy-0"]["result"] == "Succeeded"
    assert reports["orders-copy-0"]["records"] == at_backup["records"]
    assert {reports[n]["result"] for n in b[1:]} == {"Skipped"}
    volume = sorted(p.name for p in pods.volume("orders-copy-0", "data").iterdir())
    assert ".restored-from.json" in volume
    assert ".restore-in-progress" not in volume, "the pending mark goes once the restore is done"

    start_cluster(pods, sts)
    restored = wait_converged(pods, b)
    assert restored["sha256"] == at_backup["sha256"]
    assert restored["records"] == at_backup["records"]
    for name in b:
        assert httpx.get(f"{pods.url(name)}/persons").json() == people_at_backup

    # The hooks read the leader's init container report into B's status.
    leader_pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "orders-copy-0",
            "namespace": NAMESPACE,
            "labels": template["metadata"]["labels"],
        },
        "status": {
            "initContainerStatuses": [
                {
                    "name": "restore",
                    "state": {
                        "terminated": {
                            "exitCode": 0,
                            "message": pods.pod("orders-copy-0").termination_log.read_text(),
                        }
                    },
                }
            ]
        },
    }
    copy_parent["status"] = answer.status
    after = cluster.sync(
        SyncRequest(
            parent=copy_parent,
            children=as_observed(answer.children),
            related={
                **related("DatabaseBackup", nightly),
                "Pod.v1": {f"{NAMESPACE}/orders-copy-0": leader_pod},
            },
        )
    )
    assert after.status["restore"]["result"] == "Succeeded"
    assert after.status["restore"]["sequence"] == at_backup["sequence"]
    restored_condition = next(c for c in after.status["conditions"] if c["type"] == "Restored")
    assert restored_condition["status"] == "True"
    # Restored: the init container (and its need of the repo's Secret) leaves the pod template.
    after_sts = statefulset(after)
    assert "initContainers" not in after_sts["spec"]["template"]["spec"]
