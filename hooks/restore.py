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
from hooks.runner_env import repo_volumes, restore_env, runner_container
from hooks.termination import container_state, parse_report

__all__ = [
    "RESTORE_CONTAINER",
    "Planned",
    "RestorePlan",
    "has_restore_container",
    "plan_restore",
    "restore_condition",
    "restore_finished",
    "restore_status",
]

RESTORE_CONTAINER = "restore"
# Results after which the leader holds the backup's data ("Skipped": it had restored before).
DONE = ("Succeeded", "Skipped")


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


def plan_restore(
    cluster: str,
    namespace: str,
    spec: DatabaseClusterSpec,
    related: Mapping[str, Any],
    existing: Mapping[str, Any] | None,
    previous: Mapping[str, Any],
) -> Planned:
    if existing is not None:
        asked = _source(spec.restore) if spec.restore else None
        recorded = _recorded_source(previous)
        if recorded is None and has_restore_container(existing):
            # The StatefulSet was created to restore, but the status saying so was lost (a write
            # conflict): the restore is this one, not one asked for too late.
            recorded = asked or {}
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
    mounts = [{"name": "data", "mountPath": "/data"}, {"name": "tmp", "mountPath": "/tmp"}, *mounts]
    container = runner_container(RESTORE_CONTAINER, backup_spec.image, "restore", env, mounts)
    plan = RestorePlan(container=container, volumes=volumes)
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
    source = planned.source if planned.source is not None else _recorded_source(previous) or {}
    if before.get("result") in DONE:
        return {**before, "source": source}
    state = container_state(leader or {}, RESTORE_CONTAINER, init=True)
    terminated = state.get("terminated") or state.get("lastTerminated")
    if isinstance(terminated, Mapping):
        report = parse_report(terminated.get("message"))
        failed = terminated.get("exitCode") != 0 or report.get("result") == "Failed"
        status = {"source": source, **report}
        status["result"] = "Failed" if failed else str(report.get("result", "Succeeded"))
        if terminated.get("finishedAt"):
            status["completionTime"] = terminated["finishedAt"]
        return status
    if "running" in state:
        return {"source": source, "result": "Running"}
    if planned.conditions and planned.conditions[0]["status"] == "False":
        return {"source": source, "result": "Blocked", "message": planned.conditions[0]["message"]}
    if before:
        return {**before, "source": source}
    return {"source": source, "result": "Pending"}


def restore_finished(restore: Mapping[str, Any] | None) -> bool:
    """The leader holds the restored data: the init container has nothing left to do."""
    return restore is not None and restore.get("result") in DONE


def has_restore_container(sts: Mapping[str, Any]) -> bool:
    pod = sts.get("spec", {}).get("template", {}).get("spec", {})
    return any(c.get("name") == RESTORE_CONTAINER for c in pod.get("initContainers") or [])


def _recorded_source(previous: Mapping[str, Any]) -> dict[str, str] | None:
    before = previous.get("restore")
    source = before.get("source") if isinstance(before, Mapping) else None
    if not isinstance(source, Mapping):
        return None
    return {str(k): str(v) for k, v in source.items() if isinstance(v, str)}


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
