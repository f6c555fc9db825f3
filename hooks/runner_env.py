"""The backup_runner's container and environment, rendered from a DatabaseBackup repo.

This is the hooks' side of the contract in `docs/contracts.md` (the runner's side is
`backup_runner/settings.py`; a test renders Jobs here and parses their env there). The backup Job,
the CronJob and the restore init container are all built here.
"""

from __future__ import annotations

from hooks import names
from hooks.models import Repo, Retention
from hooks.objects import Object
from hooks.pods import (
    container_security_context,
    env_from_field,
    env_from_secret,
    env_value,
    pull_policy,
)

__all__ = [
    "CA_MOUNT",
    "REPO_MOUNT",
    "backup_env",
    "database_urls",
    "repo_env",
    "repo_volumes",
    "restore_env",
    "runner_container",
]

CA_MOUNT = "/etc/backup-repo/ca"
REPO_MOUNT = "/backup-repo"


def database_urls(cluster: str, namespace: str, amount_pods: int) -> str:
    """Followers first (spare the leader), the leader Service last."""
    followers = [names.pod_url(cluster, namespace, i) for i in range(1, amount_pods)]
    return ",".join([*followers, names.leader_service_url(cluster, namespace)])


def repo_env(repo: Repo) -> list[Object]:
    env = [env_value("BACKUP_REPO_NAME", repo.name), env_value("BACKUP_REPO_TYPE", repo.type)]
    if repo.type == "filesystem":
        return [*env, env_value("BACKUP_REPO_PATH", REPO_MOUNT)]
    env.append(env_value("BACKUP_REPO_ENDPOINT", repo.endpoint_host))
    # Unset rather than empty: the API server drops an empty value, and apply would then see a
    # difference on every pass.
    if repo.cosRegion:
        env.append(env_value("BACKUP_REPO_REGION", repo.cosRegion))
    if repo.bucketNamePrefix:
        env.append(env_value("BACKUP_REPO_BUCKET_PREFIX", repo.bucketNamePrefix))
    env += [
        env_value("BACKUP_REPO_PATH_STYLE", "true" if repo.pathStyle else "false"),
        env_value("BACKUP_REPO_INSECURE", "true" if repo.tls.insecure else "false"),
    ]
    if repo.tls.caConfigMap is not None:
        env.append(env_value("BACKUP_REPO_CA_BUNDLE", f"{CA_MOUNT}/{repo.tls.caConfigMap.key}"))
    secret = repo.secretName or ""
    return [
        *env,
        env_from_secret("BACKUP_REPO_ACCESS_KEY_ID", secret, "HmacAccessKeyId"),
        env_from_secret("BACKUP_REPO_SECRET_ACCESS_KEY", secret, "HmacSecretAccessKey"),
    ]


def repo_volumes(repo: Repo, prefix: str = "backup") -> tuple[list[Object], list[Object]]:
    """Volumes and mounts a repo needs: its CA bundle, or the volume of a filesystem repo."""
    volumes: list[Object] = []
    mounts: list[Object] = []
    if repo.type == "filesystem":
        name = f"{prefix}-repo"
        volumes.append({"name": name, "persistentVolumeClaim": {"claimName": repo.claimName}})
        mounts.append({"name": name, "mountPath": REPO_MOUNT})
    elif repo.tls.caConfigMap is not None:
        name = f"{prefix}-repo-ca"
        volumes.append(
            {"name": name, "configMap": {"name": repo.tls.caConfigMap.name, "defaultMode": 0o444}}
        )
        mounts.append({"name": name, "mountPath": CA_MOUNT, "readOnly": True})
    return volumes, mounts


def _identity_env(cluster: str, namespace: str) -> list[Object]:
    return [
        env_value("BACKUP_CLUSTER", cluster),
        env_value("BACKUP_NAMESPACE", namespace),
        env_from_field("BACKUP_POD_NAME", "metadata.name"),
    ]


def backup_env(
    cluster: str, namespace: str, amount_pods: int, repo: Repo, retention: Retention
) -> list[Object]:
    env = [
        *_identity_env(cluster, namespace),
        env_value("BACKUP_DATABASE_URLS", database_urls(cluster, namespace, amount_pods)),
        *repo_env(repo),
    ]
    if retention.keepLast is not None:
        env.append(env_value("BACKUP_RETENTION_KEEP_LAST", str(retention.keepLast)))
    if retention.maxAge is not None:
        env.append(env_value("BACKUP_RETENTION_MAX_AGE", retention.maxAge))
    return env


def restore_env(
    source_cluster: str,
    namespace: str,
    repo: Repo,
    object_key: str | None,
    leader_pod: str,
) -> list[Object]:
    env = [
        *_identity_env(source_cluster, namespace),
        *repo_env(repo),
        env_value("RESTORE_DATA_DIRECTORY", "/data"),
        env_value("RESTORE_WORK_DIRECTORY", "/tmp"),
        # Every pod of the StatefulSet runs the init container; only the leader restores, the
        # followers replicate from it.
        env_value("RESTORE_LEADER_POD", leader_pod),
    ]
    if object_key:
        env.append(env_value("RESTORE_OBJECT_KEY", object_key))
    return env


def runner_container(
    name: str, image: str, operation: str, env: list[Object], mounts: list[Object]
) -> Object:
    """A backup_runner container: `python -m backup_runner <operation>`, restricted, with its
    result line in the termination message (the hooks read it back into status)."""
    return {
        "name": name,
        "image": image,
        "imagePullPolicy": pull_policy(image),
        "command": ["python", "-m", "backup_runner", operation],
        "env": env,
        "resources": {
            "limits": {"memory": "256Mi"},
            "requests": {"cpu": "100m", "memory": "128Mi"},
        },
        "securityContext": container_security_context(),
        "volumeMounts": mounts,
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }
