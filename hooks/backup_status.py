"""DatabaseBackup status: one entry per backup run, read from its Job and its pod.

Runs are carried forward in `status.history` (bounded), so they outlive the Jobs and Pods that
Kubernetes garbage-collects. A run is Succeeded or Failed only by its Job's conditions (the Job
controller also fails a run that passes its deadline); a run whose Job vanished while unfinished
becomes Failed (`JobLost`), so nothing shows "running" forever.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from hooks import names
from hooks.backup_jobs import BACKUP_CONTAINER
from hooks.objects import Object, creation_time, labels_of, name_of
from hooks.termination import container_state, parse_report

__all__ = ["HISTORY_SIZE", "backup_runs", "job_result", "merge_history", "summary"]

HISTORY_SIZE = 10
FINAL = ("Succeeded", "Failed")
# Labels the Job controller puts on a Job's pods.
_JOB_NAME_LABELS = ("batch.kubernetes.io/job-name", "job-name")


def job_result(job: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]] | None:
    """("Succeeded" | "Failed", the condition saying so) for a finished Job, else None."""
    for cond in job.get("status", {}).get("conditions", []) or []:
        if not isinstance(cond, Mapping) or cond.get("status") != "True":
            continue
        if cond.get("type") == "Complete":
            return "Succeeded", cond
        if cond.get("type") == "Failed":
            return "Failed", cond
    return None


def _pods_of(job: str, pods: Iterable[Object]) -> list[Object]:
    mine = [p for p in pods if any(labels_of(p).get(k) == job for k in _JOB_NAME_LABELS)]
    return sorted(mine, key=lambda p: (creation_time(p), name_of(p)))


def _run(job: Object, pods: list[Object]) -> dict[str, Any]:
    labels = labels_of(job)
    status = job.get("status", {}) or {}
    run: dict[str, Any] = {
        "job": name_of(job),
        "trigger": labels.get(names.LABEL_TRIGGER, ""),
        "repo": labels.get(names.LABEL_REPO, ""),
        "startTime": status.get("startTime") or creation_time(job),
    }
    # The newest pod that finished says what the run did; earlier attempts were retried.
    for pod in reversed(pods):
        state = container_state(pod, BACKUP_CONTAINER)
        terminated = state.get("terminated") or state.get("lastTerminated")
        if isinstance(terminated, Mapping):
            report = parse_report(terminated.get("message"))
            run.update({k: v for k, v in report.items() if k not in ("result", "startTime")})
            run["pod"] = name_of(pod)
            if terminated.get("exitCode") not in (0, None) and "reason" not in run:
                run["reason"] = str(terminated.get("reason") or "Error")
            break
    finished = job_result(job)
    if finished is None:
        run["result"] = "Running" if status.get("active") else "Pending"
        run.pop("completionTime", None)
        return run
    result, cond = finished
    run["result"] = result
    run["completionTime"] = (
        status.get("completionTime") or cond.get("lastTransitionTime") or run["startTime"]
    )
    if result == "Failed":
        run.setdefault("reason", str(cond.get("reason") or "Failed"))
        if cond.get("reason") == "DeadlineExceeded" or "message" not in run:
            run["reason"] = str(cond.get("reason") or run["reason"])
            run["message"] = str(cond.get("message") or run.get("message", ""))
    return run


def backup_runs(jobs: Iterable[Object], pods: Iterable[Object]) -> list[dict[str, Any]]:
    pod_list = list(pods)
    return [_run(job, _pods_of(name_of(job), pod_list)) for job in jobs]


def _order(run: Mapping[str, Any]) -> tuple[str, str]:
    return (str(run.get("startTime", "")), str(run.get("job", "")))


def merge_history(previous: Any, runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Previous history updated by what is observed now, newest first, bounded."""
    by_job: dict[str, dict[str, Any]] = {}
    if isinstance(previous, list):
        for old in previous:
            if isinstance(old, Mapping) and isinstance(old.get("job"), str):
                by_job[old["job"]] = dict(old)
    seen = {run["job"] for run in runs}
    for job, old in by_job.items():
        if job not in seen and old.get("result") not in FINAL:
            old.update(
                result="Failed",
                reason="JobLost",
                message="the Job was deleted before it finished",
                completionTime=old.get("startTime", ""),
            )
    for run in runs:
        before = by_job.get(run["job"])
        # A final result never goes back: a pod garbage-collected later must not erase details.
        if before is not None and before.get("result") in FINAL and run["result"] in FINAL:
            by_job[run["job"]] = {**before, **run}
        else:
            by_job[run["job"]] = run
    return sorted(by_job.values(), key=_order, reverse=True)[:HISTORY_SIZE]


def summary(previous: Mapping[str, Any], history: list[dict[str, Any]]) -> dict[str, Any]:
    """lastBackup, lastSuccessfulBackup and lastFailedBackup, kept even past the history."""
    out: dict[str, Any] = {}
    if history:
        out["lastBackup"] = history[0]
    elif isinstance(previous.get("lastBackup"), Mapping):
        out["lastBackup"] = previous["lastBackup"]
    for key, result in (("lastSuccessfulBackup", "Succeeded"), ("lastFailedBackup", "Failed")):
        candidates = [run for run in history if run.get("result") == result]
        old = previous.get(key)
        if isinstance(old, Mapping):
            candidates.append(dict(old))
        if candidates:
            out[key] = max(candidates, key=_order)
    return out
