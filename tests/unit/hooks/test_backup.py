"""DatabaseBackup sync: the Job and CronJob, history, and honest status."""

from __future__ import annotations

import copy
import json
from typing import Any

from hooks import backup, names
from hooks.envelope import SyncRequest
from tests.support.hook_requests import (
    as_observed,
    backup_parent,
    cluster_parent,
    fixture,
    related_clusters,
)


def sync(parent: dict[str, Any], **request: Any) -> Any:
    request.setdefault("related", related_clusters(cluster_parent()))
    return backup.sync(SyncRequest(parent=parent, **request))


def kinds(answer: Any) -> list[str]:
    return [f"{c['kind']}/{c['metadata']['name']}" for c in answer.children]


def env_of(pod_template: dict[str, Any]) -> dict[str, Any]:
    container = pod_template["spec"]["containers"][0]
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def test_manual_and_scheduled_triggers_make_a_job_and_a_cronjob() -> None:
    answer = sync(backup_parent())
    job_name = names.manual_job_name("nightly", "2026-11-20T10:00:00Z")
    assert kinds(answer) == [f"Job/{job_name}", "CronJob/nightly-scheduled"]
    job, cron = answer.children
    assert "ttlSecondsAfterFinished" not in job["spec"]
    assert job["spec"]["activeDeadlineSeconds"] == 3600
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    assert cron["spec"]["startingDeadlineSeconds"] == 300
    assert cron["spec"]["successfulJobsHistoryLimit"] == 3
    assert cron["spec"]["schedule"] == "0 2 * * *"


def test_job_runs_the_runner_with_the_named_repo_and_secret_by_reference() -> None:
    spec = {
        "repos": [
            {"name": "one", "type": "s3", "secretName": "one-s", "serviceEndpoint": "a.example"},
            {
                "name": "two",
                "type": "ibmcos",
                "secretName": "two-s",
                "serviceEndpoint": "https://b.example:9000",
                "bucketNamePrefix": "p-",
                "pathStyle": True,
            },
        ],
        "manualTrigger": {"time": "t1", "repo": "two"},
        "scheduledTrigger": {"schedule": "@daily", "repo": "one"},
    }
    job, cron = sync(backup_parent(**spec)).children
    env = env_of(job["spec"]["template"])
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == [
        "python",
        "-m",
        "backup_runner",
        "backup",
    ]
    assert env["BACKUP_REPO_NAME"] == "two"
    assert env["BACKUP_REPO_TYPE"] == "ibmcos"
    assert env["BACKUP_REPO_ENDPOINT"] == "b.example:9000"
    assert env["BACKUP_REPO_PATH_STYLE"] == "true"
    assert env["BACKUP_REPO_INSECURE"] == "false"
    assert env["BACKUP_REPO_ACCESS_KEY_ID"] == {
        "secretKeyRef": {"name": "two-s", "key": "HmacAccessKeyId"}
    }
    assert env["BACKUP_DATABASE_URLS"] == (
        "http://db-1.db-pods.shop.svc:8089,http://db-2.db-pods.shop.svc:8089,"
        "http://db-leader.shop.svc:8089"
    )
    cron_env = env_of(cron["spec"]["jobTemplate"]["spec"]["template"])
    assert cron_env["BACKUP_REPO_NAME"] == "one"
    assert cron_env["BACKUP_REPO_ACCESS_KEY_ID"]["secretKeyRef"]["name"] == "one-s"


def test_new_time_means_new_job_and_the_old_one_is_kept() -> None:
    first = sync(backup_parent())
    observed = as_observed(first.children)
    for job in observed["Job.batch/v1"].values():
        job["status"] = {"conditions": [{"type": "Complete", "status": "True"}]}
    again = sync(
        backup_parent(manualTrigger={"time": "2026-11-21T10:00:00Z", "repo": "s3-repo"}),
        children=observed,
    )
    old = names.manual_job_name("nightly", "2026-11-20T10:00:00Z")
    new = names.manual_job_name("nightly", "2026-11-21T10:00:00Z")
    assert kinds(again) == [f"Job/{new}", f"Job/{old}", "CronJob/nightly-scheduled"]


def test_only_the_newest_finished_manual_jobs_are_kept() -> None:
    jobs = []
    for day in range(1, 7):
        parent = backup_parent(manualTrigger={"time": f"day-{day}", "repo": "s3-repo"})
        jobs.append(sync(parent).children[0])
    observed = as_observed(jobs)
    for job in observed["Job.batch/v1"].values():
        job["status"] = {"conditions": [{"type": "Failed", "status": "True"}]}
    running = next(iter(observed["Job.batch/v1"].values()))
    running["status"] = {"active": 1}
    answer = sync(
        backup_parent(manualTrigger={"time": "day-7", "repo": "s3-repo"}), children=observed
    )
    kept = {c["metadata"]["name"] for c in answer.children if c["kind"] == "Job"}
    expected = {names.manual_job_name("nightly", f"day-{d}") for d in (1, 4, 5, 6, 7)}
    assert kept == expected, "the running Job, the 3 newest finished ones and the new one"


def test_existing_job_is_never_rewritten() -> None:
    first = sync(backup_parent())
    observed = as_observed(first.children)
    answer = sync(backup_parent(image="other/runner:9"), children=observed)
    job = answer.children[0]
    assert job["spec"]["template"]["spec"]["containers"][0]["image"] == (
        "database-operator/backup-runner:0.1.0"
    )
    cron = answer.children[1]
    image = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == "other/runner:9"


def test_suspend_suspends_the_cronjob() -> None:
    answer = sync(backup_parent(suspend=True))
    cron = answer.children[1]
    assert cron["spec"]["suspend"] is True
    scheduled = next(c for c in answer.status["conditions"] if c["type"] == "Scheduled")
    assert (scheduled["status"], scheduled["reason"]) == ("False", "Suspended")


def test_cluster_is_the_only_one_in_the_namespace_or_named() -> None:
    assert sync(backup_parent()).status["cluster"] == "db"
    two = related_clusters(cluster_parent("a"), cluster_parent("b"))
    ambiguous = sync(backup_parent(), related=two)
    assert ambiguous.children == []
    reconciled = next(c for c in ambiguous.status["conditions"] if c["type"] == "Reconciled")
    assert reconciled["status"] == "False"
    assert "set spec.cluster" in reconciled["message"]
    named = sync(backup_parent(cluster="b"), related=two)
    assert named.status["cluster"] == "b"
    assert named.children[0]["metadata"]["labels"][names.LABEL_CLUSTER] == "b"


def test_missing_cluster_keeps_existing_children() -> None:
    first = sync(backup_parent())
    answer = sync(backup_parent(), children=as_observed(first.children), related={})
    assert kinds(answer) == kinds(first)


def test_invalid_spec_keeps_existing_children() -> None:
    request = fixture("sync-databasebackup-v2-observed.json")
    request["parent"]["spec"]["manualTrigger"]["repo"] = "no-such-repo"
    answer = backup.sync(SyncRequest.model_validate(request))
    assert len(answer.children) == 2
    reconciled = next(c for c in answer.status["conditions"] if c["type"] == "Reconciled")
    assert reconciled["reason"] == "InvalidSpec"
    assert "manualTrigger.repo must name one of repos[].name" in reconciled["message"]


def test_status_shows_what_the_runs_reported() -> None:
    answer = backup.sync(
        SyncRequest.model_validate(fixture("sync-databasebackup-v2-observed.json"))
    )
    good = answer.status["lastSuccessfulBackup"]
    assert good["result"] == "Succeeded"
    assert good["objectKey"] == "backups/20261120T080512.345Z/data.ndjson.gz"
    assert good["records"] == 4
    assert good["sourcePod"] == "databasecluster-sample-1"
    assert good["sha256"].startswith("9f2c")
    last = answer.status["lastBackup"]
    assert (last["result"], last["reason"]) == ("Failed", "BadCredentials")
    assert answer.status["lastFailedBackup"]["job"] == last["job"]
    succeeded = next(c for c in answer.status["conditions"] if c["type"] == "Succeeded")
    assert (succeeded["status"], succeeded["reason"]) == ("False", "BadCredentials")
    assert [run["job"] for run in answer.status["history"]] == [
        "databasebackup-manual-scheduled-29396160",
        "databasebackup-manual-manual-356a45da",
    ]


def test_deadline_exceeded_shows_as_failed() -> None:
    request = fixture("sync-databasebackup-v2-observed.json")
    job = next(iter(request["related"]["Job.batch/v1"].values()))
    job["status"]["conditions"][0].update(
        reason="DeadlineExceeded", message="Job was active longer than specified deadline"
    )
    for pod in request["related"]["Pod.v1"].values():
        pod["status"]["containerStatuses"][0]["state"] = {"running": {}}
    answer = backup.sync(SyncRequest.model_validate(request))
    assert answer.status["lastBackup"]["result"] == "Failed"
    assert answer.status["lastBackup"]["reason"] == "DeadlineExceeded"


def test_a_run_whose_job_vanished_is_failed_not_running_forever() -> None:
    request = fixture("sync-databasebackup-v2-observed.json")
    job = next(iter(request["related"]["Job.batch/v1"].values()))
    job["status"] = {"startTime": "2026-11-21T00:00:00Z", "active": 1}
    running = backup.sync(SyncRequest.model_validate(request))
    assert running.status["lastBackup"]["result"] == "Running"
    later = copy.deepcopy(request)
    later["parent"]["status"] = running.status
    later["related"]["Job.batch/v1"] = {}
    answer = backup.sync(SyncRequest.model_validate(later))
    lost = next(r for r in answer.status["history"] if r["job"] == job["metadata"]["name"])
    assert (lost["result"], lost["reason"]) == ("Failed", "JobLost")


def test_history_outlives_garbage_collected_jobs() -> None:
    request = fixture("sync-databasebackup-v2-observed.json")
    first = backup.sync(SyncRequest.model_validate(request))
    later = copy.deepcopy(request)
    later["parent"]["status"] = first.status
    later["related"]["Job.batch/v1"] = {}
    later["related"]["Pod.v1"] = {}
    answer = backup.sync(SyncRequest.model_validate(later))
    assert answer.status["history"] == first.status["history"]
    assert answer.status["lastSuccessfulBackup"] == first.status["lastSuccessfulBackup"]


def test_garbage_in_the_termination_message_is_not_trusted() -> None:
    request = fixture("sync-databasebackup-v2-observed.json")
    for pod in request["related"]["Pod.v1"].values():
        state = pod["status"]["containerStatuses"][0]["state"]["terminated"]
        state["message"] = "Traceback (most recent call last): ..."
    answer = backup.sync(SyncRequest.model_validate(request))
    assert answer.status["lastBackup"]["result"] == "Failed", "the Job's condition decides"
    assert "objectKey" not in answer.status["lastBackup"]
    assert json.dumps(answer.status)


def test_customize_asks_for_clusters_jobs_and_pods() -> None:
    related = backup.customize(backup_parent())
    assert [r["resource"] for r in related] == ["databaseclusters", "jobs", "pods"]
    assert related[1]["labelSelector"] == {"matchLabels": {names.LABEL_BACKUP: "nightly"}}


def test_a_deleted_manual_job_is_not_run_again() -> None:
    """Creating the Job of the same manualTrigger.time again would run the same backup twice."""
    first = sync(backup_parent())
    observed = as_observed(first.children)
    seen = sync(backup_parent(), children=observed)
    assert seen.status["lastManualTrigger"] == "2026-11-20T10:00:00Z"
    parent = backup_parent()
    parent["status"] = seen.status
    observed.pop("Job.batch/v1")  # someone deleted the finished Job
    answer = sync(parent, children=observed)
    assert kinds(answer) == ["CronJob/nightly-scheduled"]
    new_time = backup_parent(manualTrigger={"time": "2026-11-21T00:00:00Z", "repo": "s3-repo"})
    new_time["status"] = seen.status
    assert kinds(sync(new_time, children=observed))[0].startswith("Job/nightly-manual-")


def test_a_job_whose_creation_failed_is_created_again() -> None:
    """lastManualTrigger is recorded once the Job is seen, not when it is asked for."""
    first = sync(backup_parent())
    assert "lastManualTrigger" not in first.status
    parent = backup_parent()
    parent["status"] = first.status
    assert kinds(sync(parent))[0].startswith("Job/")


def test_a_running_backup_leaves_the_last_result_standing() -> None:
    request = fixture("sync-databasebackup-v2-observed.json")
    first = backup.sync(SyncRequest.model_validate(request))
    later = copy.deepcopy(request)
    later["parent"]["status"] = first.status
    running = copy.deepcopy(next(iter(later["related"]["Job.batch/v1"].values())))
    running["metadata"]["name"] = "databasebackup-manual-scheduled-29397600"
    running["metadata"]["creationTimestamp"] = "2026-11-22T00:00:00Z"
    running["status"] = {"startTime": "2026-11-22T00:00:00Z", "active": 1}
    later["related"]["Job.batch/v1"]["database/" + running["metadata"]["name"]] = running
    answer = backup.sync(SyncRequest.model_validate(later))
    assert answer.status["lastBackup"]["result"] == "Running"
    succeeded = next(c for c in answer.status["conditions"] if c["type"] == "Succeeded")
    assert (succeeded["status"], succeeded["reason"]) == ("False", "BadCredentials")
    assert (
        succeeded["lastTransitionTime"]
        == next(c for c in first.status["conditions"] if c["type"] == "Succeeded")[
            "lastTransitionTime"
        ]
    )
