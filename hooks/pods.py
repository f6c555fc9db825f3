"""Pieces every pod we render shares: security context, resources, image pull policy, env helpers.

Pods must pass PodSecurity `restricted`, and are written out with the defaults the API server would
add, so that applying them twice changes nothing.
"""

from __future__ import annotations

from typing import Any

from hooks.objects import Object

__all__ = [
    "RUN_AS",
    "container_security_context",
    "env_from_field",
    "env_from_secret",
    "env_value",
    "http_probe",
    "pod_security_context",
    "pull_policy",
    "tmp_volume",
]

# A fixed non-root user: images whose Dockerfile forgot `USER` still run unprivileged.
RUN_AS = 10001


def pod_security_context() -> Object:
    return {
        "runAsNonRoot": True,
        "runAsUser": RUN_AS,
        "runAsGroup": RUN_AS,
        "fsGroup": RUN_AS,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def container_security_context() -> Object:
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
    }


def pull_policy(image: str) -> str:
    """The API server's default: Always for `:latest` or an untagged image, else IfNotPresent."""
    if "@" in image:
        return "IfNotPresent"
    last = image.rsplit("/", 1)[-1]
    if ":" not in last or last.endswith(":latest"):
        return "Always"
    return "IfNotPresent"


def tmp_volume() -> Object:
    """Scratch space: the root filesystem is read-only."""
    return {"name": "tmp", "emptyDir": {}}


def env_value(name: str, value: str) -> Object:
    return {"name": name, "value": value}


def env_from_field(name: str, path: str) -> Object:
    return {"name": name, "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": path}}}


def env_from_secret(name: str, secret: str, key: str) -> Object:
    """Credentials travel only by reference: the kubelet reads the Secret when the pod starts."""
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}


def http_probe(path: str, period: int, failure_threshold: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": "http", "scheme": "HTTP"},
        "periodSeconds": period,
        "timeoutSeconds": 2,
        "successThreshold": 1,
        "failureThreshold": failure_threshold,
    }
