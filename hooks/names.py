"""Names and labels of everything the hooks create: the one place that derives them.

Every name derives from the parent, so any number of clusters and backups can share a namespace
(the original hard-coded `database-cluster`). `docs/contracts.md` documents the same table.
"""

from __future__ import annotations

import hashlib
import re

__all__ = [
    "API_VERSION",
    "DATABASE_PORT",
    "GROUP",
    "LABEL_BACKUP",
    "LABEL_CLUSTER",
    "LABEL_INSTANCE",
    "LABEL_REPO",
    "LABEL_ROLE",
    "LABEL_TRIGGER",
    "backup_labels",
    "backup_selector",
    "cluster_labels",
    "cluster_selector",
    "cronjob_name",
    "headless_service_name",
    "leader_pod_name",
    "leader_service_name",
    "leader_service_url",
    "manual_job_name",
    "pod_url",
    "statefulset_name",
    "valid_cluster_name",
]

GROUP = "database.sample.third.party"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
DATABASE_PORT = 8089
MANAGED_BY = "database-operator"

LABEL_NAME = "app.kubernetes.io/name"
LABEL_INSTANCE = "app.kubernetes.io/instance"
LABEL_COMPONENT = "app.kubernetes.io/component"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
LABEL_BACKUP = f"{GROUP}/backup"
LABEL_TRIGGER = f"{GROUP}/trigger"
LABEL_ROLE = f"{GROUP}/role"
LABEL_CLUSTER = f"{GROUP}/cluster"
LABEL_REPO = f"{GROUP}/repo"
# Set by the StatefulSet controller on every pod; the leader Service selects pod 0 with it.
LABEL_POD_NAME = "statefulset.kubernetes.io/pod-name"


_DNS_1035 = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
MAX_CLUSTER_NAME = 45


def valid_cluster_name(cluster: str) -> bool:
    """The CRD's rule again: Service names derive from it, so a DNS-1035 label of 45 at most."""
    return len(cluster) <= MAX_CLUSTER_NAME and _DNS_1035.fullmatch(cluster) is not None


def statefulset_name(cluster: str) -> str:
    return cluster


def headless_service_name(cluster: str) -> str:
    return f"{cluster}-pods"


def leader_service_name(cluster: str) -> str:
    return f"{cluster}-leader"


def leader_pod_name(cluster: str) -> str:
    return f"{cluster}-0"


def pod_url(cluster: str, namespace: str, ordinal: int) -> str:
    """The stable DNS URL of one pod, through the headless Service."""
    host = f"{cluster}-{ordinal}.{headless_service_name(cluster)}.{namespace}.svc"
    return f"http://{host}:{DATABASE_PORT}"


def leader_service_url(cluster: str, namespace: str) -> str:
    return f"http://{leader_service_name(cluster)}.{namespace}.svc:{DATABASE_PORT}"


def manual_job_name(backup: str, trigger_time: str) -> str:
    """A new `manualTrigger.time` gives a new name, hence a new Job and a new backup."""
    digest = hashlib.sha256(trigger_time.encode()).hexdigest()[:8]
    return f"{backup}-manual-{digest}"


def cronjob_name(backup: str) -> str:
    return f"{backup}-scheduled"


def cluster_selector(cluster: str) -> dict[str, str]:
    """The StatefulSet's selector: immutable, so it never grows new keys."""
    return {LABEL_NAME: "database-service", LABEL_INSTANCE: cluster}


def cluster_labels(cluster: str) -> dict[str, str]:
    return {
        **cluster_selector(cluster),
        LABEL_COMPONENT: "database",
        LABEL_MANAGED_BY: MANAGED_BY,
        LABEL_CLUSTER: cluster,
    }


def backup_selector(backup: str) -> dict[str, str]:
    """What the customize hook selects the Jobs and Pods of one DatabaseBackup by."""
    return {LABEL_BACKUP: backup}


def backup_labels(backup: str, cluster: str, trigger: str, repo: str) -> dict[str, str]:
    return {
        LABEL_NAME: "backup-runner",
        LABEL_INSTANCE: backup,
        LABEL_COMPONENT: "backup",
        LABEL_MANAGED_BY: MANAGED_BY,
        LABEL_BACKUP: backup,
        LABEL_CLUSTER: cluster,
        LABEL_TRIGGER: trigger,
        LABEL_REPO: repo,
    }
