"""Fixtures of the end-to-end tests: the real control plane with Metacontroller and our hooks.

`control_plane` (tests/support/control_plane.py) is etcd, kube-apiserver, kube-controller-manager,
kube-scheduler and kwok. `operator` adds what a cluster admin installs: Metacontroller's CRDs, our
chart with a real `helm install` (CRDs, controllers, RBAC, the hooks Deployment), the hooks as a
local process the controllers call, and Metacontroller itself, out of cluster.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import subprocess
from collections.abc import Generator, Iterator

import pytest
import yaml

from tests.support.control_plane import (
    ControlPlane,
    HooksServer,
    Metacontroller,
    control_plane,
    free_port,
)
from tests.support.minio import minio_server
from tests.support.recording_proxy import RecordingProxy
from tests.support.tools import metacontroller_manifests, tool_path

__all__ = ["Operator", "control_plane", "minio_server", "operator"]

REPO = pathlib.Path(__file__).resolve().parents[2]
# Per test module: the first failed step of its story (tests marked `steps`).
_FAILED_STEP: dict[str, str] = {}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "steps: the module's tests are one story, in order; after a failed step the rest fail fast",
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed and report.when == "call" and item.get_closest_marker("steps"):
        module = item.getparent(pytest.Module)
        _FAILED_STEP.setdefault(module.name if module else "", item.name)
    return report


@pytest.fixture(autouse=True)
def _fail_fast_after_a_failed_step(request: pytest.FixtureRequest) -> None:
    """A story's later steps depend on the earlier ones: without them they could only wait for
    their timeouts, one after the other, and bury the first failure."""
    if request.node.get_closest_marker("steps"):
        module = request.node.getparent(pytest.Module)
        failed = _FAILED_STEP.get(module.name if module else "")
        if failed is not None:
            pytest.fail(f"not run: the earlier step {failed} failed", pytrace=False)


@dataclasses.dataclass
class Operator:
    """The installed operator: the control plane, the hooks process and Metacontroller."""

    plane: ControlPlane
    hooks: HooksServer
    metacontroller: Metacontroller


def knows_hook_versions(plane: ControlPlane) -> bool:
    """Whether the installed Metacontroller's CRDs have `hooks.sync.version` (v4.4.0 and later)."""
    crd = plane.get("crd", "compositecontrollers.metacontroller.k8s.io")
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    hooks = schema["properties"]["spec"]["properties"]["hooks"]["properties"]
    return "version" in hooks["sync"].get("properties", {})


def install_crds(plane: ControlPlane, files: list[pathlib.Path]) -> None:
    names = []
    for path in files:
        plane.kubectl("apply", "--server-side", "-f", str(path))
        names += [
            doc["metadata"]["name"]
            for doc in yaml.safe_load_all(path.read_text())
            if doc and doc.get("kind") == "CustomResourceDefinition"
        ]
    assert names, f"no CustomResourceDefinition in {files}"
    for name in names:
        plane.kubectl("wait", "--for=condition=Established", f"crd/{name}", "--timeout=60s")


def helm_install(plane: ControlPlane, hooks_url: str) -> str:
    """`helm install` of our chart, as a user installs it: CRDs, controllers, RBAC, hooks.

    The hooks run as a local process (no kubelet runs containers here), so the controllers call
    them through `metacontroller.hooksURL` instead of the hooks Service; everything else is the
    chart as it ships. Metacontroller releases before v4.4 have no hook versions in their CRDs:
    for those the chart leaves `version` unset (they send v1 requests, which the hooks answer).
    """
    args = [
        str(tool_path("helm")),
        "install",
        "database-operator",
        str(REPO / "charts" / "database-operator"),
        "--kubeconfig",
        str(plane.kubeconfig),
        "--namespace",
        "database-operator",
        "--create-namespace",
        "--set",
        f"metacontroller.hooksURL={hooks_url}",
    ]
    if not knows_hook_versions(plane):
        args += ["--set", "metacontroller.hookVersion="]
    result = subprocess.run(args, capture_output=True, text=True, timeout=180, check=False)
    assert result.returncode == 0, f"helm install failed:\n{result.stdout}\n{result.stderr}"
    for crd in ("databaseclusters", "databasebackups"):
        name = f"crd/{crd}.database.sample.third.party"
        plane.kubectl("wait", "--for=condition=Established", name, "--timeout=60s")
    return result.stdout


@pytest.fixture(scope="session")
def operator(control_plane: ControlPlane) -> Iterator[Operator]:
    plane = control_plane
    logs = plane.work_dir / "logs"
    install_crds(plane, sorted(metacontroller_manifests().glob("*crds-v1.yaml")))
    hooks = HooksServer(free_port(), logs / "hooks.log", cwd=REPO)
    hooks.start()
    metacontroller = Metacontroller(plane, logs / "metacontroller.log")
    record = os.environ.get("RECORD_HOOK_REQUESTS")
    proxy = RecordingProxy(hooks.url, pathlib.Path(record)).start() if record else None
    try:
        helm_install(plane, proxy.url if proxy is not None else hooks.url)
        metacontroller.start()
        yield Operator(plane=plane, hooks=hooks, metacontroller=metacontroller)
    finally:
        metacontroller.stop()
        if proxy is not None:
            proxy.stop()
        hooks.stop()
