"""Smoke tests of the control plane fixture itself: real API server, admission, scheduling, kwok.

If these fail, every other e2e test would fail for the same reason; they say which part is broken.
"""

from __future__ import annotations

import json
import pathlib
from typing import Any

import pytest
import yaml

from tests.support.control_plane import ControlPlane, wait_until

REPO = pathlib.Path(__file__).resolve().parents[2]
NAMESPACE = "smoke"


def restricted_pod(name: str) -> dict[str, Any]:
    """A pod that satisfies Pod Security `restricted`."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [
                {
                    "name": "main",
                    "image": "example.invalid/app:1",
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "capabilities": {"drop": ["ALL"]},
                        "runAsUser": 1000,
                    },
                }
            ],
        },
    }


@pytest.fixture(scope="module")
def smoke_namespace(control_plane: ControlPlane) -> str:
    control_plane.create_namespace(NAMESPACE, pod_security="restricted")
    return NAMESPACE


def test_api_server_reports_its_pinned_version(control_plane: ControlPlane) -> None:
    status, body = control_plane.raw_get("/version")
    assert status == 200
    version = json.loads(body)
    # Built with version ldflags: a v0.0.0 here breaks Helm's kubeVersion checks.
    assert version["gitVersion"].startswith("v1.")
    assert int(version["minor"]) >= 34


def test_pod_security_restricted_is_enforced(
    control_plane: ControlPlane, smoke_namespace: str
) -> None:
    privileged = restricted_pod("privileged")
    privileged["spec"]["containers"][0]["securityContext"] = {"privileged": True}
    result = control_plane.kubectl(
        "apply", "-f", "-", input=yaml.safe_dump(privileged), check=False
    )
    assert result.returncode != 0
    assert 'violates PodSecurity "restricted:latest"' in result.stderr


def test_admitted_pod_is_scheduled_and_run_by_kwok(
    control_plane: ControlPlane, smoke_namespace: str
) -> None:
    control_plane.apply(yaml.safe_dump(restricted_pod("fine")))

    def running() -> bool:
        pod = control_plane.get("pod", "fine", "-n", smoke_namespace)
        return bool(pod and pod["status"].get("phase") == "Running")

    wait_until("pod fine Running", running, timeout=60, diagnose=control_plane.diagnose)
    pod = control_plane.get("pod", "fine", "-n", smoke_namespace)
    assert pod["spec"]["nodeName"].startswith("kwok-node-")


def test_statefulset_claims_bind_and_pods_run(
    control_plane: ControlPlane, smoke_namespace: str
) -> None:
    template = restricted_pod("unused")
    template["spec"]["containers"][0]["volumeMounts"] = [{"name": "data", "mountPath": "/data"}]
    statefulset = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "web", "namespace": smoke_namespace},
        "spec": {
            "replicas": 2,
            "serviceName": "web",
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": template["spec"]},
            "volumeClaimTemplates": [
                {
                    "metadata": {"name": "data"},
                    "spec": {
                        "accessModes": ["ReadWriteOnce"],
                        "resources": {"requests": {"storage": "1Gi"}},
                    },
                }
            ],
        },
    }
    control_plane.apply(yaml.safe_dump(statefulset))

    def ready() -> bool:
        current = control_plane.get("statefulset", "web", "-n", smoke_namespace)
        return bool(current and current.get("status", {}).get("readyReplicas") == 2)

    wait_until("StatefulSet web 2/2 ready", ready, timeout=90, diagnose=control_plane.diagnose)
    claim = control_plane.get("pvc", "data-web-1", "-n", smoke_namespace)
    assert claim["status"]["phase"] == "Bound"


def test_our_crds_are_accepted_and_established(control_plane: ControlPlane) -> None:
    for crd in sorted((REPO / "crds").glob("*.yaml")):
        control_plane.kubectl("apply", "--server-side", "-f", str(crd))
    names = [
        yaml.safe_load(crd.read_text())["metadata"]["name"]
        for crd in sorted((REPO / "crds").glob("*.yaml"))
    ]
    assert names
    for name in names:
        control_plane.kubectl("wait", "--for=condition=Established", f"crd/{name}", "--timeout=30s")
