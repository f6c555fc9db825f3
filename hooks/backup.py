"""DatabaseBackup: which Jobs and CronJob should exist, and what the backups did.

`sync(request)` is a pure function of what Metacontroller sends. The target cluster comes from
`spec.cluster`, or is the only DatabaseCluster of the namespace (a related object). Children are
never dropped because of input we cannot act on: existing Jobs and the CronJob are handed back
unchanged, and the reason shows in status.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from hooks import names
from hooks.backup_jobs import HISTORY_LIMIT, cronjob, manual_job
from hooks.backup_status import backup_runs, job_result, merge_history, summary
from hooks.conditions import condition, merge_conditions
from hooks.envelope import SyncRequest, SyncResponse, describe_error
from hooks.models import DatabaseBackupSpec
from hooks.objects import Object, creation_time, labels_of, name_of, observed, preserved

__all__ = ["customize", "manual_trigger_handled", "resolve_cluster", "sync"]


def resolve_cluster(
    spec: DatabaseBackupSpec, namespace: str, related: Mapping[str, Any]
) -> tuple[Object | None, str]:
    """The target DatabaseCluster, or None and a message saying why there is none."""
    clusters = observed(related, "DatabaseCluster")
    if spec.cluster:
        found = clusters.get(spec.cluster)
        if found is None:
            return None, f"DatabaseCluster {spec.cluster} does not exist in namespace {namespace}"
        return found, ""
    if len(clusters) == 1:
        return next(iter(clusters.values())), ""
    if not clusters:
        return None, f"no DatabaseCluster in namespace {namespace}: create one or set spec.cluster"
    return None, (
        f"namespace {namespace} has {len(clusters)} DatabaseClusters"
        f" ({', '.join(clusters)}): set spec.cluster"
    )


def _amount_pods(cluster: Mapping[str, Any]) -> int:
    value = (cluster.get("spec") or {}).get("amountPods", 1)
    return value if isinstance(value, int) and value >= 0 else 1


def _kept_manual_jobs(jobs: Mapping[str, Object], current: str | None) -> list[Object]:
    """Earlier manual Jobs: all unfinished ones and the newest finished ones, unchanged."""
    earlier = [
        job
        for name, job in jobs.items()
        if name != current and labels_of(job).get(names.LABEL_TRIGGER) == "manual"
    ]
    running = [job for job in earlier if job_result(job) is None]
    done = sorted(
        (job for job in earlier if job_result(job) is not None),
        key=lambda job: (creation_time(job), name_of(job)),
        reverse=True,
    )
    return [preserved(job) for job in sorted(running + done[:HISTORY_LIMIT], key=name_of)]


def manual_trigger_handled(request: SyncRequest, spec: DatabaseBackupSpec) -> bool:
    """Whether the Job of this `manualTrigger.time` existed once already.

    Its Job may be deleted later (by hand, by a cleanup policy); creating it again would run the
    same backup twice. A new backup takes a new `time`.
    """
    if spec.manualTrigger is None:
        return False
    previous = request.previous_status()
    if previous.get("lastManualTrigger") == spec.manualTrigger.time:
        return True
    job = names.manual_job_name(request.parent_name(), spec.manualTrigger.time)
    history = previous.get("history")
    return isinstance(history, list) and any(
        isinstance(run, Mapping) and run.get("job") == job for run in history
    )


def _observed_children(request: SyncRequest) -> list[Object]:
    return [
        *observed(request.children, "Job").values(),
        *observed(request.children, "CronJob").values(),
    ]


def _children(
    request: SyncRequest, spec: DatabaseBackupSpec, cluster: Object | None
) -> list[Object]:
    backup, namespace = request.parent_name(), request.parent_namespace()
    jobs = observed(request.children, "Job")
    cronjobs = observed(request.children, "CronJob")
    children: list[Object] = []
    current = None
    if spec.manualTrigger is not None:
        current = names.manual_job_name(backup, spec.manualTrigger.time)
        if current in jobs:
            children.append(preserved(jobs[current]))
        elif cluster is not None and not manual_trigger_handled(request, spec):
            children.append(
                manual_job(backup, namespace, spec, name_of(cluster), _amount_pods(cluster))
            )
    children += _kept_manual_jobs(jobs, current)
    if spec.scheduledTrigger is not None:
        if cluster is not None:
            children.append(
                cronjob(backup, namespace, spec, name_of(cluster), _amount_pods(cluster))
            )
        elif names.cronjob_name(backup) in cronjobs:
            children.append(preserved(cronjobs[names.cronjob_name(backup)]))
    return children


def _last_manual_trigger(request: SyncRequest, spec: DatabaseBackupSpec) -> dict[str, str]:
    """The `manualTrigger.time` whose Job was seen: recorded once observed, not when asked for, so
    a Job whose creation failed is still created on a later pass."""
    if spec.manualTrigger is not None:
        job = names.manual_job_name(request.parent_name(), spec.manualTrigger.time)
        if job in observed(request.children, "Job"):
            return {"lastManualTrigger": spec.manualTrigger.time}
    earlier = request.previous_status().get("lastManualTrigger")
    return {"lastManualTrigger": earlier} if isinstance(earlier, str) else {}


def _conditions(
    spec: DatabaseBackupSpec, cluster_problem: str, last: Mapping[str, Any] | None
) -> list[dict[str, str]]:
    conditions = [
        condition("Reconciled", False, "ClusterNotResolved", cluster_problem)
        if cluster_problem
        else condition("Reconciled", True, "Applied", "children match the spec")
    ]
    if spec.scheduledTrigger is None:
        conditions.append(condition("Scheduled", False, "NoSchedule", "no scheduledTrigger"))
    elif spec.suspend:
        conditions.append(
            condition("Scheduled", False, "Suspended", "scheduled backups are suspended")
        )
    else:
        conditions.append(
            condition(
                "Scheduled", True, "Scheduled", f"backups run at {spec.scheduledTrigger.schedule!r}"
            )
        )
    result = (last or {}).get("result")
    if result == "Succeeded":
        message = (
            f"{last.get('records', '?')} records in {last.get('objectKey', '?')}" if last else ""
        )
        conditions.append(condition("Succeeded", True, "BackupSucceeded", message))
    elif result == "Failed":
        reason = str((last or {}).get("reason") or "BackupFailed")
        conditions.append(
            condition("Succeeded", False, reason, str((last or {}).get("message") or reason))
        )
    else:
        conditions.append(
            condition("Succeeded", None, "NoFinishedBackup", "no backup has finished yet")
        )
    return conditions


def sync(request: SyncRequest) -> SyncResponse:
    try:
        spec = DatabaseBackupSpec.model_validate(request.parent.get("spec") or {})
    except ValidationError as error:
        return request.keep_children(
            [preserved(obj) for obj in _observed_children(request)], describe_error(error)
        )
    namespace = request.parent_namespace()
    previous = request.previous_status()
    cluster, cluster_problem = resolve_cluster(spec, namespace, request.related)
    children = _children(request, spec, cluster)

    backup = request.parent_name()
    jobs = {
        **{
            n: j
            for n, j in observed(request.related, "Job").items()
            if labels_of(j).get(names.LABEL_BACKUP) == backup
        },
        **observed(request.children, "Job"),
    }
    pods = [
        p
        for p in observed(request.related, "Pod").values()
        if labels_of(p).get(names.LABEL_BACKUP) == backup
    ]
    runs = backup_runs([jobs[name] for name in sorted(jobs)], pods)
    history = merge_history(previous.get("history"), runs)
    last = summary(previous, history)
    # The Succeeded condition speaks of the newest finished run: one still running says nothing yet.
    finished = [
        run
        for run in (last.get("lastSuccessfulBackup"), last.get("lastFailedBackup"))
        if isinstance(run, Mapping)
    ]
    last_run = max(finished, key=lambda run: str(run.get("startTime", "")), default=None)
    evidence = str((last_run or {}).get("completionTime") or request.evidence_fallback())
    status: Object = {
        "cluster": name_of(cluster) if cluster is not None else str(previous.get("cluster", "")),
        "jobs": sorted(jobs),
        **_last_manual_trigger(request, spec),
        **last,
        "history": history,
        "conditions": merge_conditions(
            previous.get("conditions"),
            _conditions(spec, cluster_problem, last_run),
            evidence,
            request.generation(),
        ),
    }
    return SyncResponse(status=status, children=children)


def customize(parent: Mapping[str, Any]) -> list[Object]:
    """Related: the namespace's clusters, and this backup's Jobs and Pods (CronJob runs too).

    Rules with a labelSelector name no namespace (Metacontroller refuses both): for a namespaced
    parent it looks only in the parent's namespace. The empty selector selects every cluster.
    """
    backup = str((parent.get("metadata") or {}).get("name", ""))
    selector = {"matchLabels": names.backup_selector(backup)}
    return [
        {
            "apiVersion": names.API_VERSION,
            "resource": "databaseclusters",
            "labelSelector": {"matchLabels": {}},
        },
        {"apiVersion": "batch/v1", "resource": "jobs", "labelSelector": selector},
        {"apiVersion": "v1", "resource": "pods", "labelSelector": selector},
    ]
