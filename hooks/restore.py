"""Restore: starting a new DatabaseCluster's leader from a backup.

The leader's pod gets an init container running `backup_runner restore`, which fills the empty data
volume before the database starts. The repo (endpoint, Secret, image) comes from the DatabaseBackup
the cluster names, which reaches the hook as a related object. A restore is decided once, when the
StatefulSet is created; afterwards `spec.restore` is ignored (and status says so), so the data of a
running cluster is never touched by it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from hooks import names
from hooks.conditions import condition
from hooks.envelope import describe_error
from hooks.models import DatabaseBackupSpec, DatabaseClusterSpec, RestoreSpec
from hooks.objects import Object, observed
from hooks.pods import container_security_context, pull_policy
from hooks.runner_env import repo_volumes, restore_env
from hooks.termination import container_state, parse_report

__all__ = [
    "RESTORE_CONTAINER",
    "Planned",
    "RestorePlan",
    "plan_restore",
    "restore_condition",
    "restore_status",
]

RESTORE_CONTAINER = "restore"


@dataclass(frozen=True)
class RestorePlan:
    container: Object
    volumes: list[Object]


@dataclass(frozen=True)
class Planned:
    """What the cluster hook needs to know about the restore on this pass."""

    plan: RestorePlan | None = None
    ready_to_create: bool = True
    source: dict[str, str] | None = None
    notes: list[str] = field(default_factory=list)
    conditions: list[dict[str, str]] = field(default_factory=list)


def _source(spec: RestoreSpec) -> dict[str, str]:
    return {k: v for k, v in spec.model_dump().items() if isinstance(v, str)}


def _blocked(spec: RestoreSpec, reason: str, message: str) -> Planned:
    # No StatefulSet until the restore can run: a cluster that should hold a backup's data must
    # never start empty and begin taking writes.
    return Planned(
        ready_to_create=False,
        source=_source(spec),
        conditions=[condition("Restored", False, reason, message)],
    )


def _container(image: str, env: list[Object], mounts: list[Object]) -> Object:
    return {
        "name": RESTORE_CONTAINER,
        "image": image,
        "imagePullPolicy": pull_policy(image),
        "command": ["python", "-m", "backup_runner", "restore"],
        "env": env,
        "resources": {
            "limits": {"memory": "256Mi"},
            "requests": {"cpu": "100m", "memory": "128Mi"},
        },
        "securityContext": container_security_context(),
        "volumeMounts": [
            {"name": "data", "mountPath": "/data"},
            {"name": "tmp", "mountPath": "/tmp"},
            *mounts,
        ],
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }


def plan_restore(
    cluster: str,
    namespace: str,
    spec: DatabaseClusterSpec,
    related: Mapping[str, Any],
    existing: Mapping[str, Any] | None,
    previous: Mapping[str, Any],
) -> Planned:
    before = previous.get("restore") if isinstance(previous.get("restore"), Mapping) else None
    if existing is not None:
        recorded = dict(before.get("source", {})) if before else None
        asked = _source(spec.restore) if spec.restore else None
        notes = []
        if asked is not None and (
            recorded is None or any(recorded.get(k) != v for k, v in asked.items())
        ):
            notes.append(
                "spec.restore is ignored: a restore only happens when a cluster is created,"
                " and this cluster's data is left as it is"
            )
        return Planned(source=recorded, notes=notes)
    if spec.restore is None:
        return Planned()

    wanted = spec.restore
    backup = observed(related, "DatabaseBackup").get(wanted.backup)
    if backup is None:
        return _blocked(
            wanted,
            "BackupNotFound",
            f"DatabaseBackup {wanted.backup} does not exist in namespace {namespace}",
        )
    try:
        backup_spec = DatabaseBackupSpec.model_validate(backup.get("spec") or {})
    except ValidationError as error:
        return _blocked(
            wanted, "BackupInvalid", f"DatabaseBackup {wanted.backup}: {describe_error(error)}"
        )
    trigger = backup_spec.scheduledTrigger or backup_spec.manualTrigger
    repo_name = wanted.repo or (trigger.repo if trigger else None)
    if repo_name is None or repo_name not in {r.name for r in backup_spec.repos}:
        return _blocked(
            wanted,
            "RepoNotFound",
            f"DatabaseBackup {wanted.backup} has no repo named {repo_name}",
        )
    source_cluster = (
        wanted.cluster or backup_spec.cluster or backup.get("status", {}).get("cluster")
    )
    if not isinstance(source_cluster, str) or not source_cluster:
        return _blocked(
            wanted,
            "SourceClusterUnknown",
            f"set spec.restore.cluster: DatabaseBackup {wanted.backup} names no cluster yet",
        )
    repo = backup_spec.repo(repo_name)
    volumes, mounts = repo_volumes(repo, prefix="restore")
    env = restore_env(
        source_cluster, namespace, repo, wanted.objectKey, names.leader_pod_name(cluster)
    )
    plan = RestorePlan(container=_container(backup_spec.image, env, mounts), volumes=volumes)
    source = {**_source(wanted), "repo": repo_name, "cluster": source_cluster}
    return Planned(
        plan=plan,
        source=source,
        conditions=[condition("Restored", None, "Pending", "the leader restores when it starts")],
    )


def restore_status(
    planned: Planned, leader: Mapping[str, Any] | None, previous: Mapping[str, Any]
) -> dict[str, Any] | None:
    """Status of the restore, carried forward: the pods that reported it may be long gone."""
    before = previous.get("restore")
    before = dict(before) if isinstance(before, Mapping) else {}
    if planned.source is None and not before:
        return None
    status: dict[str, Any] = {**before, "source": planned.source or before.get("source", {})}
    if before.get("result") == "Succeeded":
        return status
    state = container_state(leader or {}, RESTORE_CONTAINER, init=True)
    terminated = state.get("terminated") or state.get("lastTerminated")
    if isinstance(terminated, Mapping):
        report = parse_report(terminated.get("message"))
        failed = terminated.get("exitCode") != 0 or report.get("result") == "Failed"
        status.update(report)
        status["result"] = "Failed" if failed else str(report.get("result", "Succeeded"))
        if terminated.get("finishedAt"):
            status["completionTime"] = terminated["finishedAt"]
    elif "running" in state:
        status["result"] = "Running"
    elif planned.conditions and planned.conditions[0]["status"] == "False":
        status["result"] = "Blocked"
        status["message"] = planned.conditions[0]["message"]
    else:
        status.setdefault("result", "Pending")
    return status


def restore_condition(restore: Mapping[str, Any] | None, planned: Planned) -> dict[str, str] | None:
    if restore is None:
        return None
    result = restore.get("result")
    if result in ("Succeeded", "Skipped"):
        detail = f"{restore.get('records', '?')} records at sequence {restore.get('sequence', '?')}"
        return condition("Restored", True, "Restored", f"{detail} from {restore.get('objectKey')}")
    if result == "Failed":
        message = str(restore.get("message") or restore.get("reason") or "the restore failed")
        return condition("Restored", False, "RestoreFailed", message)
    if planned.conditions:
        return planned.conditions[0]
    waiting = str(result or "Pending")
    return condition("Restored", None, waiting, "the leader restores when it starts")
