"""Restore: the init container exists exactly when asked, and only when the cluster is created."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from hooks import cluster
from hooks.envelope import SyncRequest
from tests.support.hook_requests import API_VERSION, as_observed, backup_parent, cluster_parent
from tests.unit.hooks.test_kubernetes_schemas import assert_valid

RESTORE = {"backup": "nightly", "repo": "s3-repo"}


def related(*backups: dict[str, Any]) -> dict[str, Any]:
    return {
        f"DatabaseBackup.{API_VERSION}": {
            f"{b['metadata']['namespace']}/{b['metadata']['name']}": b for b in backups
        }
    }


def source_backup(**spec: Any) -> dict[str, Any]:
    return backup_parent("nightly", cluster="orders", **spec)


def sync(parent: dict[str, Any], **request: Any) -> Any:
    return cluster.sync(SyncRequest(parent=parent, **request))


def pod_spec(answer: Any) -> dict[str, Any]:
    sts = next(c for c in answer.children if c["kind"] == "StatefulSet")
    spec: dict[str, Any] = sts["spec"]["template"]["spec"]
    return spec


def condition(answer: Any, kind: str) -> dict[str, Any]:
    return next(c for c in answer.status["conditions"] if c["type"] == kind)


def test_no_restore_no_init_container() -> None:
    assert "initContainers" not in pod_spec(sync(cluster_parent("copy")))


def test_restore_renders_the_init_container_from_the_backup_repo() -> None:
    answer = sync(
        cluster_parent("copy", restore={**RESTORE, "objectKey": "backups/20261120T080512.345Z/"}),
        related=related(source_backup()),
    )
    spec = pod_spec(answer)
    (init,) = spec["initContainers"]
    assert init["command"] == ["python", "-m", "backup_runner", "restore"]
    assert init["image"] == "database-operator/backup-runner:0.1.0"
    env = {e["name"]: e.get("value", e.get("valueFrom")) for e in init["env"]}
    assert env["BACKUP_CLUSTER"] == "orders", "the bucket is the one of the backed-up cluster"
    assert env["BACKUP_REPO_ENDPOINT"] == "s3.example.com"
    assert env["BACKUP_REPO_ACCESS_KEY_ID"] == {
        "secretKeyRef": {"name": "s3-credentials", "key": "HmacAccessKeyId"}
    }
    assert env["BACKUP_REPO_SECRET_ACCESS_KEY"] == {
        "secretKeyRef": {"name": "s3-credentials", "key": "HmacSecretAccessKey"}
    }
    assert env["RESTORE_OBJECT_KEY"] == "backups/20261120T080512.345Z/"
    assert env["RESTORE_LEADER_POD"] == "copy-0"
    assert {"name": "data", "mountPath": "/data"} in init["volumeMounts"]
    assert init["securityContext"]["readOnlyRootFilesystem"] is True
    assert condition(answer, "Restored")["status"] == "Unknown"
    assert answer.status["restore"]["source"] == {
        "backup": "nightly",
        "repo": "s3-repo",
        "objectKey": "backups/20261120T080512.345Z/",
        "cluster": "orders",
    }
    for child in answer.children:
        assert_valid(child, ["1.29.0", "1.37.0"])


def test_filesystem_and_ca_repos_mount_their_volumes() -> None:
    repos = [
        {"name": "vol", "type": "filesystem", "claimName": "backups"},
        {
            "name": "s3-repo",
            "type": "s3",
            "secretName": "s",
            "serviceEndpoint": "minio:9000",
            "tls": {"caConfigMap": {"name": "minio-ca"}},
        },
    ]
    for repo, volume in (("vol", "persistentVolumeClaim"), ("s3-repo", "configMap")):
        answer = sync(
            cluster_parent("copy", restore={"backup": "nightly", "repo": repo}),
            related=related(source_backup(repos=repos, manualTrigger={"time": "t", "repo": "vol"})),
        )
        volumes = {v["name"]: v for v in pod_spec(answer)["volumes"]}
        assert any(volume in v for name, v in volumes.items() if name.startswith("restore")), (
            volumes
        )


def test_missing_backup_blocks_creation_with_a_clear_condition() -> None:
    answer = sync(cluster_parent("copy", restore=RESTORE))
    assert [c["kind"] for c in answer.children] == ["Service", "Service"]
    restored = condition(answer, "Restored")
    assert (restored["status"], restored["reason"]) == ("False", "BackupNotFound")
    assert "DatabaseBackup nightly does not exist" in restored["message"]
    assert answer.status["restore"]["result"] == "Blocked"


@pytest.mark.parametrize(
    ("restore", "reason"),
    [({"backup": "nightly", "repo": "other"}, "RepoNotFound")],
)
def test_unknown_repo_blocks_creation(restore: dict[str, Any], reason: str) -> None:
    answer = sync(cluster_parent("copy", restore=restore), related=related(source_backup()))
    assert not any(c["kind"] == "StatefulSet" for c in answer.children)
    assert condition(answer, "Restored")["reason"] == reason


def test_restore_added_to_an_existing_cluster_is_ignored() -> None:
    first = sync(cluster_parent("copy"))
    answer = sync(
        cluster_parent("copy", restore=RESTORE),
        children=as_observed(first.children),
        related=related(source_backup()),
    )
    assert "initContainers" not in pod_spec(answer)
    assert "spec.restore is ignored" in condition(answer, "Reconciled")["message"]


def leader_pod(exit_code: int, report: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "copy-0",
            "namespace": "shop",
            "labels": {
                "app.kubernetes.io/name": "database-service",
                "app.kubernetes.io/instance": "copy",
            },
        },
        "status": {
            "initContainerStatuses": [
                {
                    "name": "restore",
                    "state": {
                        "terminated": {
                            "exitCode": exit_code,
                            "message": json.dumps(report),
                            "finishedAt": "2026-11-20T09:00:00Z",
                        }
                    },
                }
            ]
        },
    }


def restored_request(exit_code: int, report: dict[str, Any]) -> dict[str, Any]:
    parent = cluster_parent("copy", restore=RESTORE)
    first = sync(parent, related=related(source_backup()))
    parent["status"] = first.status
    return {
        "parent": parent,
        "children": as_observed(first.children),
        "related": {
            **related(source_backup()),
            "Pod.v1": {"shop/copy-0": leader_pod(exit_code, report)},
        },
    }


def test_status_shows_a_successful_restore_and_keeps_it() -> None:
    report = {
        "result": "Succeeded",
        "objectKey": "backups/20261120T080512.345Z/data.ndjson.gz",
        "records": 10004,
        "sequence": 10004,
    }
    answer = cluster.sync(SyncRequest.model_validate(restored_request(0, report)))
    assert answer.status["restore"]["result"] == "Succeeded"
    assert answer.status["restore"]["records"] == 10004
    assert condition(answer, "Restored")["status"] == "True"
    assert condition(answer, "Ready")["reason"] != "RestoreFailed"
    # Later the pod restarts and the runner skips (data present): the success stays.
    later = restored_request(0, {"result": "Skipped", "reason": "DataPresent"})
    later["parent"]["status"] = answer.status
    again = cluster.sync(SyncRequest.model_validate(later))
    assert again.status["restore"] == answer.status["restore"]


def test_failed_restore_keeps_the_cluster_not_ready_and_says_why() -> None:
    report = {"result": "Failed", "reason": "ChecksumMismatch", "message": "checksum mismatch"}
    answer = cluster.sync(SyncRequest.model_validate(restored_request(1, report)))
    restored = condition(answer, "Restored")
    assert (restored["status"], restored["reason"]) == ("False", "RestoreFailed")
    ready = condition(answer, "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "RestoreFailed")
    assert "checksum mismatch" in ready["message"]


def test_changed_restore_while_restoring_keeps_the_init_container_as_it_was() -> None:
    request = restored_request(0, {"result": "Succeeded"})
    pod = request["related"]["Pod.v1"]["shop/copy-0"]
    pod["status"]["initContainerStatuses"][0]["state"] = {"running": {}}
    before = copy.deepcopy(pod_spec(cluster.sync(SyncRequest.model_validate(request))))
    assert before["initContainers"][0]["name"] == "restore"
    request["parent"]["spec"]["restore"] = {
        "backup": "nightly",
        "repo": "s3-repo",
        "objectKey": "backups/x/",
    }
    answer = cluster.sync(SyncRequest.model_validate(request))
    assert pod_spec(answer)["initContainers"] == before["initContainers"]
    assert pod_spec(answer)["volumes"] == before["volumes"]
    assert "spec.restore is ignored" in condition(answer, "Reconciled")["message"]


def test_once_restored_the_init_container_and_its_volumes_go() -> None:
    """Pods must not depend on the repo's Secret, CA or claim for the rest of their lives."""
    answer = cluster.sync(SyncRequest.model_validate(restored_request(0, {"result": "Succeeded"})))
    spec = pod_spec(answer)
    assert "initContainers" not in spec
    assert [v["name"] for v in spec["volumes"]] == ["tmp"]
    assert condition(answer, "Restored")["status"] == "True"
    assert "spec.restore is ignored" not in condition(answer, "Reconciled")["message"]


def test_a_lost_status_write_does_not_turn_the_restore_into_an_ignored_one() -> None:
    request = restored_request(0, {"result": "Succeeded"})
    pod = request["related"]["Pod.v1"]["shop/copy-0"]
    pod["status"]["initContainerStatuses"][0]["state"] = {"running": {}}
    del request["parent"]["status"]
    answer = cluster.sync(SyncRequest.model_validate(request))
    assert pod_spec(answer)["initContainers"][0]["name"] == "restore"
    assert answer.status["restore"]["result"] == "Running"
    assert "ignored" not in condition(answer, "Reconciled")["message"]


def test_an_odd_recorded_restore_status_is_no_crash() -> None:
    request = restored_request(0, {"result": "Succeeded"})
    request["parent"]["status"]["restore"] = {"source": "not a map", "result": 7}
    answer = cluster.sync(SyncRequest.model_validate(request))
    assert answer.status["restore"]["result"] == "Succeeded"
