"""DatabaseBackup's children: the manual Job and the CronJob that run backup_runner.

A Job's pod template cannot change once created, and a finished Job holds the history of a backup:
existing Jobs are handed back as they are (and the controller uses OnDelete for Jobs). Finished
Jobs carry no `ttlSecondsAfterFinished`: if the TTL controller deleted a Job that the hook still
returns, Metacontroller would create it again and the backup would run twice.
"""

from __future__ import annotations

from hooks import names
from hooks.models import DatabaseBackupSpec, Repo
from hooks.objects import Object
from hooks.pods import pod_security_context, tmp_volume
from hooks.runner_env import backup_env, repo_volumes, runner_container

__all__ = [
    "BACKUP_CONTAINER",
    "HISTORY_LIMIT",
    "TRIGGER_TIME_ANNOTATION",
    "backup_pod_template",
    "cronjob",
    "manual_job",
]

BACKUP_CONTAINER = "backup"
TRIGGER_TIME_ANNOTATION = f"{names.GROUP}/trigger-time"
# Finished Jobs kept per trigger: the CronJob's history limits, and as many old manual Jobs.
HISTORY_LIMIT = 3


def backup_pod_template(
    spec: DatabaseBackupSpec,
    repo: Repo,
    cluster: str,
    namespace: str,
    amount_pods: int,
    labels: dict[str, str],
) -> Object:
    volumes, mounts = repo_volumes(repo)
    env = backup_env(cluster, namespace, amount_pods, repo, spec.retention)
    mounts = [{"name": "tmp", "mountPath": "/tmp"}, *mounts]
    container = runner_container(BACKUP_CONTAINER, spec.image, "backup", env, mounts)
    return {
        "metadata": {"labels": labels},
        "spec": {
            "restartPolicy": "Never",
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
            "securityContext": pod_security_context(),
            "containers": [container],
            "volumes": [tmp_volume(), *volumes],
            "dnsPolicy": "ClusterFirst",
            "schedulerName": "default-scheduler",
            "terminationGracePeriodSeconds": 30,
        },
    }


def _job_spec(spec: DatabaseBackupSpec, template: Object) -> Object:
    return {
        "backoffLimit": spec.backoffLimit,
        # A run that hangs is stopped and marked Failed by the Job controller, never "running".
        "activeDeadlineSeconds": spec.activeDeadlineSeconds,
        "completions": 1,
        "parallelism": 1,
        "completionMode": "NonIndexed",
        "template": template,
    }


def manual_job(
    backup: str, namespace: str, spec: DatabaseBackupSpec, cluster: str, amount_pods: int
) -> Object:
    assert spec.manualTrigger is not None
    trigger = spec.manualTrigger
    labels = names.backup_labels(backup, cluster, "manual", trigger.repo)
    template = backup_pod_template(
        spec, spec.repo(trigger.repo), cluster, namespace, amount_pods, labels
    )
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": names.manual_job_name(backup, trigger.time),
            "namespace": namespace,
            "labels": labels,
            "annotations": {TRIGGER_TIME_ANNOTATION: trigger.time},
        },
        "spec": _job_spec(spec, template),
    }


def cronjob(
    backup: str, namespace: str, spec: DatabaseBackupSpec, cluster: str, amount_pods: int
) -> Object:
    assert spec.scheduledTrigger is not None
    trigger = spec.scheduledTrigger
    labels = names.backup_labels(backup, cluster, "scheduled", trigger.repo)
    template = backup_pod_template(
        spec, spec.repo(trigger.repo), cluster, namespace, amount_pods, labels
    )
    cron_spec: Object = {
        "schedule": trigger.schedule,
        # Never two backups of one cluster at once, and no burst of missed runs after downtime.
        "concurrencyPolicy": "Forbid",
        "startingDeadlineSeconds": trigger.startingDeadlineSeconds,
        "suspend": spec.suspend,
        "successfulJobsHistoryLimit": HISTORY_LIMIT,
        "failedJobsHistoryLimit": HISTORY_LIMIT,
        "jobTemplate": {"metadata": {"labels": labels}, "spec": _job_spec(spec, template)},
    }
    if trigger.timeZone:
        cron_spec["timeZone"] = trigger.timeZone
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {
            "name": names.cronjob_name(backup),
            "namespace": namespace,
            "labels": labels,
        },
        "spec": cron_spec,
    }
