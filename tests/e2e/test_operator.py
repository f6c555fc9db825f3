"""The operator end to end: real kube-apiserver, controller manager, scheduler, Metacontroller.

The original samples are applied unchanged in namespace `database` (Pod Security `restricted`
enforced) and the tests follow what a user would see, in order: children appear, pods are
admitted and run (kwok), the cluster gets Ready, spec changes roll out, invalid resources are
refused, backup pods report through their termination message, the hooks process restarts
without harm, and deleting parents garbage-collects their children.

No kubelet runs here: kwok moves pods to Running, and a backup pod's end is written the way a
kubelet writes it (the pod's status, with the container's termination message).
"""

from __future__ import annotations

import base64
import datetime
import json
import os
import pathlib
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from hooks import names
from tests.e2e.conftest import Operator
from tests.support.control_plane import ControlPlane, free_port, wait_until
from tests.support.database import Replica, start_replica
from tests.support.invalid_resources import TABLE, build_case
from tests.support.minio import MinioServer

pytestmark = pytest.mark.e2e
steps = pytest.mark.steps

REPO = pathlib.Path(__file__).resolve().parents[2]
NAMESPACE = "database"
CLUSTER = "databasecluster-sample"
BACKUP = "databasebackup-manual"
SAMPLES = ("databasecluster-sample.yaml", "databasebackup-manual.yaml")
TIMEOUT = 90.0


@pytest.fixture(scope="module")
def leader(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replica]:
    """The cluster's pod 0 as a real database_service process (kwok runs no containers)."""
    replica = start_replica(
        f"{CLUSTER}-0", tmp_path_factory.mktemp("leader") / "data", free_port()
    ).wait_ready()
    yield replica
    replica.terminate()


@pytest.fixture(scope="module")
def plane(operator: Operator, minio_server: MinioServer) -> ControlPlane:
    """The samples, applied unchanged into a `restricted` namespace."""
    plane = operator.plane
    plane.create_namespace(NAMESPACE, pod_security="restricted")
    # The Secret the sample's repo names, created by the user before a backup runs; it holds
    # the keys of the storage that stands in for IBM COS here: a real MinIO server.
    plane.apply_objects(
        [
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "ibmcos-repo", "namespace": NAMESPACE},
                "stringData": {
                    "HmacAccessKeyId": minio_server.access_key,
                    "HmacSecretAccessKey": minio_server.secret_key,
                },
            }
        ]
    )
    for sample in SAMPLES:
        plane.kubectl("apply", "-f", str(REPO / "samples" / sample))
    return plane


def get(plane: ControlPlane, kind: str, name: str) -> Any:
    return plane.get(kind, name, "-n", NAMESPACE)


def eventually(plane: ControlPlane, what: str, check: Any, timeout: float = TIMEOUT) -> None:
    """Waits for `check()`; on timeout shows the namespace and the operator's logs."""

    def diagnose() -> str:
        objects = plane.kubectl(
            "get",
            "statefulsets,services,jobs,cronjobs,pods,databaseclusters,databasebackups,events",
            "-n",
            NAMESPACE,
            "-o",
            "wide",
            check=False,
        )
        logs = plane.diagnose("metacontroller", "hooks", "kube-controller-manager")
        return f"{objects.stdout}{objects.stderr}\n{logs}"

    wait_until(what, lambda: bool(check()), timeout=timeout, diagnose=diagnose)


def patch(plane: ControlPlane, kind: str, name: str, body: dict[str, Any]) -> None:
    plane.kubectl("patch", kind, name, "-n", NAMESPACE, "--type=merge", "-p", json.dumps(body))


def controlled_by(obj: dict[str, Any], kind: str, name: str) -> bool:
    return any(
        ref.get("kind") == kind and ref.get("name") == name and ref.get("controller")
        for ref in obj["metadata"].get("ownerReferences", [])
    )


def job_pods(plane: ControlPlane, job: str) -> list[dict[str, Any]]:
    pods = plane.get("pods", "-n", NAMESPACE, "-l", f"batch.kubernetes.io/job-name={job}")
    return list(pods["items"]) if pods else []


def now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def terminate_pod(plane: ControlPlane, pod: dict[str, Any], exit_code: int, message: str) -> None:
    """Ends `pod` as a kubelet would: container terminated, with its termination message."""
    container = pod["spec"]["containers"][0]
    finished = now()
    status = {
        "status": {
            "phase": "Succeeded" if exit_code == 0 else "Failed",
            "containerStatuses": [
                {
                    "name": container["name"],
                    "image": container["image"],
                    "imageID": "",
                    "ready": False,
                    "restartCount": 0,
                    "started": False,
                    "state": {
                        "terminated": {
                            "exitCode": exit_code,
                            "reason": "Completed" if exit_code == 0 else "Error",
                            "message": message,
                            "startedAt": pod["status"].get("startTime", finished),
                            "finishedAt": finished,
                        }
                    },
                }
            ],
        }
    }
    plane.kubectl(
        "patch",
        "pod",
        pod["metadata"]["name"],
        "-n",
        NAMESPACE,
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps(status),
    )


def running_pod_of(plane: ControlPlane, job: str) -> dict[str, Any]:
    """The Job's pod that kwok has started and that has not ended yet."""
    found: list[dict[str, Any]] = []

    def check() -> bool:
        found[:] = [p for p in job_pods(plane, job) if p["status"].get("phase") == "Running"]
        return bool(found)

    eventually(plane, f"a Running pod of Job {job}", check)
    return found[0]


def pod_environment(plane: ControlPlane, pod: dict[str, Any]) -> dict[str, str]:
    """The first container's environment as a kubelet would fill it in."""
    env: dict[str, str] = {}
    for item in pod["spec"]["containers"][0].get("env", []):
        source = item.get("valueFrom") or {}
        if "value" in item:
            env[item["name"]] = item["value"]
        elif "fieldRef" in source:
            path = source["fieldRef"]["fieldPath"]
            env[item["name"]] = {
                "metadata.name": pod["metadata"]["name"],
                "metadata.namespace": pod["metadata"]["namespace"],
            }[path]
        elif "secretKeyRef" in source:
            ref = source["secretKeyRef"]
            secret = get(plane, "secret", ref["name"])
            env[item["name"]] = base64.b64decode(secret["data"][ref["key"]]).decode()
        else:
            raise AssertionError(f"unsupported env source in the backup pod: {item}")
    return env


def run_backup_container(
    plane: ControlPlane,
    pod: dict[str, Any],
    work_dir: pathlib.Path,
    **overrides: str,
) -> tuple[int, str]:
    """Runs the backup pod's command with its environment; (exit code, termination message).

    Only what cannot be the same on this machine is overridden: cluster DNS names (the database
    URLs, the storage endpoint) and TLS of the local MinIO (`overrides`).
    """
    container = pod["spec"]["containers"][0]
    command = list(container["command"]) + list(container.get("args", []))
    assert command[:2] == ["python", "-m"], command
    termination_log = work_dir / f"{pod['metadata']['name']}.termination-log"
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(REPO),
        **pod_environment(plane, pod),
        **overrides,
        "BACKUP_TERMINATION_MESSAGE_PATH": str(termination_log),
    }
    result = subprocess.run(
        [sys.executable, *command[1:]],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert termination_log.is_file(), f"no termination message; stderr:\n{result.stderr}"
    return result.returncode, termination_log.read_text()


def local_overrides(leader: Replica, minio: MinioServer) -> dict[str, str]:
    return {
        "BACKUP_DATABASE_URLS": leader.url,
        "BACKUP_REPO_ENDPOINT": minio.endpoint,
        "BACKUP_REPO_INSECURE": "true",
        "BACKUP_REPO_PATH_STYLE": "true",
    }


# --- the samples ------------------------------------------------------------------------------


@steps
def test_samples_create_statefulset_services_job_and_cronjob(plane: ControlPlane) -> None:
    eventually(plane, "StatefulSet", lambda: get(plane, "statefulset", CLUSTER))
    sts = get(plane, "statefulset", CLUSTER)
    assert controlled_by(sts, "DatabaseCluster", CLUSTER)
    assert sts["spec"]["replicas"] == 2
    assert sts["spec"]["template"]["spec"]["containers"][0]["image"] == (
        "docker.io/nheidloff/database-service:v1.0.117"
    )
    for service in (names.headless_service_name(CLUSTER), names.leader_service_name(CLUSTER)):
        eventually(plane, f"Service {service}", lambda s=service: get(plane, "service", s))
        assert controlled_by(get(plane, "service", service), "DatabaseCluster", CLUSTER)
    headless = get(plane, "service", names.headless_service_name(CLUSTER))
    assert headless["spec"]["clusterIP"] == "None"

    job = names.manual_job_name(BACKUP, "2022-04-20T02:59:43.1Z")
    eventually(plane, f"Job {job}", lambda: get(plane, "job", job))
    assert controlled_by(get(plane, "job", job), "DatabaseBackup", BACKUP)
    cronjob = names.cronjob_name(BACKUP)
    eventually(plane, f"CronJob {cronjob}", lambda: get(plane, "cronjob", cronjob))
    cron = get(plane, "cronjob", cronjob)
    assert controlled_by(cron, "DatabaseBackup", BACKUP)
    assert cron["spec"]["schedule"] == "0 0 * * *"
    assert cron["spec"].get("suspend", False) is False


@steps
def test_pods_are_admitted_under_restricted_and_the_cluster_gets_ready(plane: ControlPlane) -> None:
    def ready() -> bool:
        cluster = get(plane, "databasecluster", CLUSTER)
        conditions = cluster.get("status", {}).get("conditions", [])
        return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)

    eventually(plane, "DatabaseCluster Ready", ready, timeout=120)
    for ordinal in (0, 1):
        pod = get(plane, "pod", f"{CLUSTER}-{ordinal}")
        assert pod["status"]["phase"] == "Running"
        assert pod["spec"]["nodeName"].startswith("kwok-node-")
    status = get(plane, "databasecluster", CLUSTER)["status"]
    assert status["ready"] == "2/2"
    assert status["leader"] == f"{CLUSTER}-0"

    # The DecoratorController labels each pod with its role.
    def roles() -> dict[str, str]:
        return {
            str(ordinal): get(plane, "pod", f"{CLUSTER}-{ordinal}")["metadata"]
            .get("labels", {})
            .get(names.LABEL_ROLE, "")
            for ordinal in (0, 1)
        }

    eventually(
        plane, "role labels on the pods", lambda: roles() == {"0": "leader", "1": "follower"}
    )


@steps
def test_kubectl_get_shows_the_printer_columns(plane: ControlPlane) -> None:
    clusters = plane.kubectl("get", "databaseclusters", "-n", NAMESPACE).stdout.splitlines()
    assert clusters[0].split() == ["NAME", "READY", "LEADER", "STATUS", "AGE"]
    assert clusters[1].split()[:4] == [CLUSTER, "2/2", f"{CLUSTER}-0", "AllPodsReady"]
    wide = plane.kubectl("get", "databaseclusters", "-n", NAMESPACE, "-o", "wide").stdout
    header, row = wide.splitlines()[:2]
    assert header.split() == ["NAME", "READY", "LEADER", "STATUS", "IMAGE", "AGE"]
    assert row.split()[4] == "docker.io/nheidloff/database-service:v1.0.117"

    backups = plane.kubectl("get", "databasebackups", "-n", NAMESPACE).stdout.splitlines()
    for column in ("NAME", "CLUSTER", "SCHEDULE", "LAST BACKUP", "RESULT", "LAST SUCCESS", "AGE"):
        assert column in backups[0]
    assert backups[1].split()[:2] == [BACKUP, CLUSTER]


# --- changes ------------------------------------------------------------------------------------


@steps
def test_amount_pods_and_image_changes_reach_the_statefulset(plane: ControlPlane) -> None:
    image = "docker.io/nheidloff/database-service:v1.0.118"
    patch(plane, "databasecluster", CLUSTER, {"spec": {"amountPods": 3, "image": image}})

    def followed() -> bool:
        sts = get(plane, "statefulset", CLUSTER)
        return bool(
            sts["spec"]["replicas"] == 3
            and sts["spec"]["template"]["spec"]["containers"][0]["image"] == image
        )

    eventually(plane, "StatefulSet with 3 replicas and the new image", followed)

    def rolled_out() -> bool:
        status = get(plane, "statefulset", CLUSTER).get("status", {})
        return bool(status.get("readyReplicas") == 3 and status.get("updatedReplicas") == 3)

    eventually(plane, "3 updated, ready pods", rolled_out, timeout=180)
    eventually(
        plane,
        "DatabaseCluster 3/3",
        lambda: get(plane, "databasecluster", CLUSTER).get("status", {}).get("ready") == "3/3",
    )


@steps
def test_a_new_manual_trigger_time_makes_a_new_job(plane: ControlPlane) -> None:
    old_job = names.manual_job_name(BACKUP, "2022-04-20T02:59:43.1Z")
    new_time = "2026-11-23T12:00:00Z"
    patch(plane, "databasebackup", BACKUP, {"spec": {"manualTrigger": {"time": new_time}}})
    new_job = names.manual_job_name(BACKUP, new_time)
    assert new_job != old_job
    eventually(plane, f"Job {new_job}", lambda: get(plane, "job", new_job))
    assert controlled_by(get(plane, "job", new_job), "DatabaseBackup", BACKUP)


@steps
def test_suspend_suspends_the_cronjob(plane: ControlPlane) -> None:
    cronjob = names.cronjob_name(BACKUP)
    patch(plane, "databasebackup", BACKUP, {"spec": {"suspend": True}})
    eventually(
        plane,
        "CronJob suspended",
        lambda: get(plane, "cronjob", cronjob)["spec"].get("suspend") is True,
    )


# --- validation -----------------------------------------------------------------------------------


def test_the_valid_bases_are_accepted(plane: ControlPlane) -> None:
    """So that each rejection below is caused by its case, not by a broken base."""
    for base in TABLE["bases"].values():
        result = plane.kubectl(
            "create", "--dry-run=server", "-f", "-", input=yaml.safe_dump(base), check=False
        )
        assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("case", TABLE["cases"], ids=[c["name"] for c in TABLE["cases"]])
def test_invalid_resources_are_rejected_with_our_message(
    plane: ControlPlane, case: dict[str, Any]
) -> None:
    result = plane.kubectl(
        "create", "--dry-run=server", "-f", "-", input=yaml.safe_dump(build_case(case)), check=False
    )
    assert result.returncode != 0, f"accepted: {case['name']}"
    assert "is invalid" in result.stderr
    assert case["expect"] in result.stderr


# --- backups --------------------------------------------------------------------------------------


@steps
def test_a_terminated_backup_pod_shows_its_details_in_the_status(
    plane: ControlPlane,
    leader: Replica,
    minio_server: MinioServer,
    tmp_path: pathlib.Path,
) -> None:
    job = names.manual_job_name(BACKUP, "2026-11-23T12:00:00Z")
    pod = running_pod_of(plane, job)
    exit_code, message = run_backup_container(
        plane, pod, tmp_path, **local_overrides(leader, minio_server)
    )
    assert exit_code == 0, message
    report = json.loads(message)
    assert report["result"] == "Succeeded"
    # The backup is really in the storage.
    minio_server.client().stat_object(report["bucket"], report["manifestKey"])
    terminate_pod(plane, pod, exit_code, message)

    def succeeded() -> dict[str, Any] | None:
        status = get(plane, "databasebackup", BACKUP).get("status", {})
        last = status.get("lastSuccessfulBackup") or {}
        return last if last.get("job") == job else None

    eventually(plane, "lastSuccessfulBackup from the pod's report", succeeded)
    last = succeeded()
    assert last is not None
    assert last["result"] == "Succeeded"
    for key in ("repo", "bucket", "objectKey", "manifestKey", "bytes", "sha256", "records"):
        assert last[key] == report[key], key
    assert last["records"] == 4  # the four people every new database starts with
    assert last["pod"] == pod["metadata"]["name"]
    row = plane.kubectl("get", "databasebackup", BACKUP, "-n", NAMESPACE).stdout.splitlines()[1]
    assert "Succeeded" in row.split()


@steps
def test_a_failed_backup_pod_shows_as_a_failed_backup(
    plane: ControlPlane,
    leader: Replica,
    minio_server: MinioServer,
    tmp_path: pathlib.Path,
) -> None:
    trigger = "2026-11-23T13:00:00Z"
    patch(plane, "databasebackup", BACKUP, {"spec": {"manualTrigger": {"time": trigger}}})
    job = names.manual_job_name(BACKUP, trigger)
    eventually(plane, f"Job {job}", lambda: get(plane, "job", job))
    # A real failure: the runner with a secret key the storage does not know.
    exit_code, message = run_backup_container(
        plane,
        running_pod_of(plane, job),
        tmp_path,
        **local_overrides(leader, minio_server),
        BACKUP_REPO_SECRET_ACCESS_KEY="not-the-secret-key",
    )
    assert exit_code == 1
    report = json.loads(message)
    assert report["result"] == "Failed"
    backoff_limit = int(get(plane, "job", job)["spec"].get("backoffLimit", 6))
    failed_pods: set[str] = set()
    # The Job retries up to its backoffLimit; every attempt fails the same way.
    for _ in range(backoff_limit + 1):
        if (get(plane, "job", job).get("status") or {}).get("failed", 0) > backoff_limit:
            break

        def next_pod() -> list[dict[str, Any]]:
            return [
                p
                for p in job_pods(plane, job)
                if p["status"].get("phase") == "Running"
                and p["metadata"]["name"] not in failed_pods
            ]

        eventually(plane, f"a new running pod of {job}", next_pod)
        pod = next_pod()[0]
        terminate_pod(plane, pod, exit_code, message)
        failed_pods.add(pod["metadata"]["name"])

    def failed() -> dict[str, Any] | None:
        status = get(plane, "databasebackup", BACKUP).get("status", {})
        last = status.get("lastFailedBackup") or {}
        return last if last.get("job") == job else None

    eventually(plane, "lastFailedBackup", failed, timeout=120)
    last = failed()
    assert last is not None
    assert last["result"] == "Failed"
    assert last["reason"] == report["reason"] == "BadCredentials"
    assert last["message"] == report["message"]
    assert get(plane, "databasebackup", BACKUP)["status"]["lastBackup"]["job"] == job


# --- the hooks process restarts -------------------------------------------------------------------


def uids(plane: ControlPlane) -> dict[str, str]:
    """UIDs of every child, to tell an untouched child from one deleted and re-created."""
    objects = {
        "statefulset": [CLUSTER],
        "service": [names.headless_service_name(CLUSTER), names.leader_service_name(CLUSTER)],
        "cronjob": [names.cronjob_name(BACKUP)],
    }
    found = {}
    for kind, object_names in objects.items():
        for name in object_names:
            obj = get(plane, kind, name)
            assert obj is not None, f"{kind}/{name} is gone"
            found[f"{kind}/{name}"] = obj["metadata"]["uid"]
    jobs = plane.get("jobs", "-n", NAMESPACE)
    for job in jobs["items"]:
        found[f"job/{job['metadata']['name']}"] = job["metadata"]["uid"]
    return found


@steps
def test_hooks_restart_mid_test_metacontroller_recovers_and_deletes_nothing(
    operator: Operator, plane: ControlPlane
) -> None:
    before = uids(plane)
    operator.hooks.stop()
    # While the hooks are down, Metacontroller's syncs fail: nothing may be applied or deleted.
    patch(plane, "databasecluster", CLUSTER, {"spec": {"amountPods": 2}})
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        assert uids(plane) == before
        time.sleep(1)
    assert get(plane, "statefulset", CLUSTER)["spec"]["replicas"] == 3
    operator.hooks.start()
    eventually(
        plane,
        "StatefulSet scaled to 2 after the hooks came back",
        lambda: get(plane, "statefulset", CLUSTER)["spec"]["replicas"] == 2,
    )
    assert uids(plane) == before
    assert operator.metacontroller.process is not None
    assert operator.metacontroller.process.running()


# --- deletion -------------------------------------------------------------------------------------


@steps
def test_deleting_a_backup_removes_its_jobs_and_keeps_the_storage(
    plane: ControlPlane, minio_server: MinioServer
) -> None:
    assert plane.get("jobs", "-n", NAMESPACE)["items"]
    last = get(plane, "databasebackup", BACKUP)["status"]["lastSuccessfulBackup"]
    storage = minio_server.client()
    stored = {o.object_name for o in storage.list_objects(last["bucket"], recursive=True)}
    assert last["manifestKey"] in stored
    plane.kubectl("delete", "databasebackup", BACKUP, "-n", NAMESPACE, "--wait=true")
    eventually(
        plane,
        "the backup's Jobs deleted",
        lambda: not plane.get("jobs", "-n", NAMESPACE)["items"],
    )
    eventually(
        plane,
        "the backup's CronJob deleted",
        lambda: get(plane, "cronjob", names.cronjob_name(BACKUP)) is None,
    )
    # The backups themselves are data the user keeps: nothing in the storage was deleted.
    after = {o.object_name for o in storage.list_objects(last["bucket"], recursive=True)}
    assert after == stored
    assert get(plane, "secret", "ibmcos-repo") is not None


@steps
def test_deleting_a_cluster_garbage_collects_its_children(plane: ControlPlane) -> None:
    plane.kubectl("delete", "databasecluster", CLUSTER, "-n", NAMESPACE, "--wait=true")
    eventually(plane, "StatefulSet deleted", lambda: get(plane, "statefulset", CLUSTER) is None)
    for service in (names.headless_service_name(CLUSTER), names.leader_service_name(CLUSTER)):
        eventually(
            plane, f"Service {service} deleted", lambda s=service: get(plane, "service", s) is None
        )
    eventually(
        plane,
        "the cluster's pods deleted",
        lambda: (
            not plane.get("pods", "-n", NAMESPACE, "-l", f"{names.LABEL_INSTANCE}={CLUSTER}")[
                "items"
            ]
        ),
    )
    # Claims outlive the StatefulSet (its default retention policy): the data is not thrown away.
    claims = plane.get("pvc", "-n", NAMESPACE)["items"]
    assert any(c["metadata"]["name"].startswith(f"data-{CLUSTER}-") for c in claims)
