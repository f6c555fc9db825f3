"""DatabaseCluster: the StatefulSet and Services it is made of, and its status.

`sync(request)` is a pure function of what Metacontroller sends. The StatefulSet's immutable fields
never change: selector, serviceName and podManagementPolicy are constants of the name, and the
volumeClaimTemplates are taken from the existing StatefulSet, so a changed `storage` can never make
the API server reject every later update.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from hooks import names
from hooks.conditions import condition, merge_conditions
from hooks.envelope import SyncRequest, SyncResponse, describe_error
from hooks.models import ClusterResources, DatabaseClusterSpec
from hooks.objects import Object, creation_time, observed, preserved
from hooks.pods import (
    container_security_context,
    env_from_field,
    env_value,
    http_probe,
    pod_security_context,
    pull_policy,
    tmp_volume,
)
from hooks.restore import (
    RestorePlan,
    plan_restore,
    restore_condition,
    restore_finished,
    restore_status,
)

__all__ = ["customize", "headless_service", "leader_service", "statefulset", "sync"]

DATA_DIRECTORY = "/data"
DEFAULT_RESOURCES = ClusterResources(
    requests={"cpu": "100m", "memory": "128Mi"}, limits={"memory": "512Mi"}
)


def _service_port() -> Object:
    return {
        "name": "http",
        "port": names.DATABASE_PORT,
        "protocol": "TCP",
        "targetPort": names.DATABASE_PORT,
    }


def headless_service(cluster: str, namespace: str) -> Object:
    """Stable DNS for every pod, ready or not: followers must find the leader while starting."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": names.headless_service_name(cluster),
            "namespace": namespace,
            "labels": names.cluster_labels(cluster),
        },
        "spec": {
            "type": "ClusterIP",
            "clusterIP": "None",
            "publishNotReadyAddresses": True,
            "selector": names.cluster_selector(cluster),
            "ports": [_service_port()],
            "sessionAffinity": "None",
        },
    }


def leader_service(cluster: str, namespace: str) -> Object:
    """Always reaches pod 0, the only pod that takes writes."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": names.leader_service_name(cluster),
            "namespace": namespace,
            "labels": names.cluster_labels(cluster),
        },
        "spec": {
            "type": "ClusterIP",
            "selector": {
                **names.cluster_selector(cluster),
                names.LABEL_POD_NAME: names.leader_pod_name(cluster),
            },
            "ports": [_service_port()],
            "sessionAffinity": "None",
        },
    }


def _resources(spec: DatabaseClusterSpec) -> Object:
    chosen = spec.resources if spec.resources is not None else DEFAULT_RESOURCES
    resources: Object = {}
    if chosen.limits:
        resources["limits"] = dict(sorted(chosen.limits.items()))
    if chosen.requests:
        resources["requests"] = dict(sorted(chosen.requests.items()))
    return resources


def _database_container(cluster: str, namespace: str, spec: DatabaseClusterSpec) -> Object:
    return {
        "name": "database",
        "image": spec.image,
        "imagePullPolicy": pull_policy(spec.image),
        "command": ["python", "-m", "database_service", "serve"],
        "ports": [{"name": "http", "containerPort": names.DATABASE_PORT, "protocol": "TCP"}],
        "env": [
            env_from_field("POD_NAME", "metadata.name"),
            env_from_field("NAMESPACE", "metadata.namespace"),
            env_value("DATA_DIRECTORY", DATA_DIRECTORY),
            env_value("PORT", str(names.DATABASE_PORT)),
            env_value("LEADER_URL", names.pod_url(cluster, namespace, 0)),
        ],
        "readinessProbe": http_probe("/readyz", period=5, failure_threshold=3),
        "livenessProbe": http_probe("/healthz", period=10, failure_threshold=6),
        "resources": _resources(spec),
        "securityContext": container_security_context(),
        "volumeMounts": [
            {"name": "data", "mountPath": DATA_DIRECTORY},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }


def _volume_claim_template(cluster: str, spec: DatabaseClusterSpec) -> Object:
    claim_spec: Object = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": spec.storage.size}},
        "volumeMode": "Filesystem",
    }
    if spec.storage.storageClassName:
        claim_spec["storageClassName"] = spec.storage.storageClassName
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data", "labels": names.cluster_selector(cluster)},
        "spec": claim_spec,
    }


def statefulset(
    cluster: str,
    namespace: str,
    spec: DatabaseClusterSpec,
    restore: RestorePlan | None = None,
    existing: Mapping[str, Any] | None = None,
    keep_restore: bool = True,
) -> Object:
    """The StatefulSet; `existing` (the observed one) fixes the fields that cannot change.

    The restore init container of an existing StatefulSet stays as it is until the leader has
    restored (`keep_restore`), then goes, with its volumes: pods must not keep depending on the
    repo's Secret, CA or claim for the rest of their lives.
    """
    pod_spec: Object = {
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": pod_security_context(),
        "affinity": {
            # Spread replicas over nodes: a follower on the leader's node protects nothing.
            "podAntiAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "weight": 100,
                        "podAffinityTerm": {
                            "topologyKey": "kubernetes.io/hostname",
                            "labelSelector": {"matchLabels": names.cluster_selector(cluster)},
                        },
                    }
                ]
            }
        },
        "containers": [_database_container(cluster, namespace, spec)],
        "volumes": [tmp_volume()],
        "restartPolicy": "Always",
        "dnsPolicy": "ClusterFirst",
        "schedulerName": "default-scheduler",
        "terminationGracePeriodSeconds": 30,
    }
    if restore is not None:
        pod_spec["initContainers"] = [restore.container]
        pod_spec["volumes"] = [*pod_spec["volumes"], *restore.volumes]
    claim_templates = [_volume_claim_template(cluster, spec)]
    if existing is not None:
        old = existing.get("spec", {})
        claim_templates = old.get("volumeClaimTemplates", claim_templates)
        old_pod = old.get("template", {}).get("spec", {})
        # A restore happens once, when the cluster is created; later passes keep what the
        # StatefulSet already has, so a changed spec.restore never restarts or touches pods.
        kept_init = old_pod.get("initContainers") if keep_restore else None
        pod_spec.pop("initContainers", None)
        pod_spec["volumes"] = [tmp_volume()]
        if kept_init:
            pod_spec["initContainers"] = kept_init
            pod_spec["volumes"] += [
                v
                for v in old_pod.get("volumes", [])
                if str(v.get("name", "")).startswith("restore")
            ]
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {
            "name": names.statefulset_name(cluster),
            "namespace": namespace,
            "labels": names.cluster_labels(cluster),
        },
        "spec": {
            "replicas": spec.amountPods,
            "serviceName": names.headless_service_name(cluster),
            "selector": {"matchLabels": names.cluster_selector(cluster)},
            # Pod 0 (the leader) starts first and is stopped last.
            "podManagementPolicy": "OrderedReady",
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
            "revisionHistoryLimit": 10,
            "persistentVolumeClaimRetentionPolicy": {
                "whenDeleted": "Retain",
                "whenScaled": "Retain",
            },
            "template": {
                "metadata": {"labels": names.cluster_labels(cluster)},
                "spec": pod_spec,
            },
            "volumeClaimTemplates": claim_templates,
        },
    }


def _storage_size(sts: Mapping[str, Any]) -> str:
    for claim in sts.get("spec", {}).get("volumeClaimTemplates", []):
        if claim.get("metadata", {}).get("name") == "data":
            return str(
                claim.get("spec", {}).get("resources", {}).get("requests", {}).get("storage", "")
            )
    return ""


def _ready_evidence(pods: Mapping[str, Object], fallback: str) -> str:
    """The latest time a pod's readiness changed: when the cluster's readiness last changed."""
    times = [
        str(cond.get("lastTransitionTime"))
        for pod in pods.values()
        for cond in pod.get("status", {}).get("conditions", []) or []
        if isinstance(cond, dict) and cond.get("type") == "Ready" and cond.get("lastTransitionTime")
    ]
    return max(times, default=fallback)


def _ready_condition(
    spec: DatabaseClusterSpec, sts: Mapping[str, Any] | None, restore_failed: str | None
) -> dict[str, str]:
    if restore_failed is not None:
        return condition("Ready", False, "RestoreFailed", restore_failed)
    if sts is None:
        return condition("Ready", False, "Creating", "the StatefulSet does not exist yet")
    status = sts.get("status", {}) or {}
    ready = int(status.get("readyReplicas", 0) or 0)
    updated = int(status.get("updatedReplicas", 0) or 0)
    current = int(status.get("replicas", 0) or 0)
    rolled = int(status.get("observedGeneration", 0) or 0) >= int(
        sts.get("metadata", {}).get("generation", 0) or 0
    )
    if spec.amountPods == 0:
        return condition("Ready", False, "ScaledToZero", "amountPods is 0: no pod serves data")
    if not rolled or updated < spec.amountPods or current != spec.amountPods:
        return condition(
            "Ready",
            False,
            "RollingOut",
            f"{updated} of {spec.amountPods} pods run the current spec ({current} exist)",
        )
    if ready < spec.amountPods:
        return condition(
            "Ready", False, "PodsNotReady", f"{ready} of {spec.amountPods} pods are ready"
        )
    return condition("Ready", True, "AllPodsReady", f"{ready} of {spec.amountPods} pods are ready")


def _invalid(request: SyncRequest, error: ValidationError) -> SyncResponse:
    """Bad spec: keep every child exactly as it is and say why in the status."""
    return request.keep_children(
        [preserved(obj) for obj in _observed_children(request)], describe_error(error)
    )


def _observed_children(request: SyncRequest) -> list[Object]:
    return [
        *observed(request.children, "StatefulSet").values(),
        *observed(request.children, "Service").values(),
    ]


def sync(request: SyncRequest) -> SyncResponse:
    cluster, namespace = request.parent_name(), request.parent_namespace()
    if not names.valid_cluster_name(cluster):
        return request.keep_children(
            [preserved(obj) for obj in _observed_children(request)],
            f"metadata.name {cluster!r} must be a DNS-1035 label of at most 45 characters:"
            " Service and pod names are derived from it",
        )
    try:
        spec = DatabaseClusterSpec.model_validate(request.parent.get("spec") or {})
    except ValidationError as error:
        return _invalid(request, error)
    sts_name = names.statefulset_name(cluster)
    existing = observed(request.children, "StatefulSet").get(sts_name)
    pods = {
        name: pod
        for name, pod in observed(request.related, "Pod").items()
        if pod.get("metadata", {}).get("labels", {}).get(names.LABEL_INSTANCE) == cluster
    }
    previous = request.previous_status()

    plan = plan_restore(cluster, namespace, spec, request.related, existing, previous)
    restore = restore_status(plan, pods.get(names.leader_pod_name(cluster)), previous)
    children: list[Object] = [
        headless_service(cluster, namespace),
        leader_service(cluster, namespace),
    ]
    if existing is not None or plan.ready_to_create:
        keep = not restore_finished(restore)
        children.insert(0, statefulset(cluster, namespace, spec, plan.plan, existing, keep))

    notes = []
    storage_applied = _storage_size(existing) if existing is not None else spec.storage.size
    if existing is not None and storage_applied and storage_applied != spec.storage.size:
        notes.append(
            f"storage.size {spec.storage.size} is not applied: volume claim templates cannot change"
            f" after creation, the volumes keep {storage_applied}"
        )
    notes += plan.notes
    restored = restore_condition(restore, plan)
    failure = restored["message"] if restored and restored["reason"] == "RestoreFailed" else None
    sts_status = (existing or {}).get("status", {}) or {}
    ready_replicas = int(sts_status.get("readyReplicas", 0) or 0)
    conditions = [
        _ready_condition(spec, existing, failure),
        condition(
            "Reconciled",
            True,
            "AppliedWithNotes" if notes else "Applied",
            "; ".join(notes) or "children match the spec",
        ),
    ]
    if restored is not None:
        conditions.append(restored)
    evidence = _ready_evidence(pods, creation_time(existing or {}) or request.evidence_fallback())
    status: Object = {
        "replicas": int(sts_status.get("replicas", 0) or 0),
        "readyReplicas": ready_replicas,
        "ready": f"{ready_replicas}/{spec.amountPods}",
        "leader": names.leader_pod_name(cluster) if spec.amountPods > 0 else "",
        "leaderService": names.leader_service_name(cluster),
        "storageApplied": storage_applied,
        "conditions": merge_conditions(
            previous.get("conditions"), conditions, evidence, request.generation()
        ),
    }
    if restore is not None:
        status["restore"] = restore
    return SyncResponse(status=status, children=children)


def customize(parent: Mapping[str, Any]) -> list[Object]:
    """Related objects: the cluster's pods (readiness, restore results) and its restore source."""
    namespace = str(parent.get("metadata", {}).get("namespace", ""))
    cluster = str(parent.get("metadata", {}).get("name", ""))
    # A rule with a labelSelector takes no namespace (Metacontroller refuses both): for a
    # namespaced parent it only looks in the parent's namespace anyway.
    related: list[Object] = [
        {
            "apiVersion": "v1",
            "resource": "pods",
            "labelSelector": {"matchLabels": names.cluster_selector(cluster)},
        }
    ]
    restore = (parent.get("spec") or {}).get("restore")
    if isinstance(restore, Mapping) and isinstance(restore.get("backup"), str):
        related.append(
            {
                "apiVersion": names.API_VERSION,
                "resource": "databasebackups",
                "namespace": namespace,
                "names": [restore["backup"]],
            }
        )
    return related
