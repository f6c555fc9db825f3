"""Running rendered pods as local processes: the kubelet's part, done by hand on 127.0.0.x.

No kubelet runs here, but a pod the hooks rendered can still run for real: its container's command
and env, exactly as rendered, become a process. What a kubelet would provide is provided here:

- each pod gets its own loopback address (127.0.0.N) and the Service and pod DNS names resolve to it
  through a private hosts file, bind-mounted over /etc/hosts in a mount namespace of the process
  (`unshare --mount`), so the rendered URLs work unchanged;
- `fieldRef` env (pod name, namespace) and `secretKeyRef` env (from the test's Secrets) are filled;
- paths under a volume mount (`/data`, `/tmp`, `/backup-repo`, ...) map to a per-pod directory, and
  the termination-message file to a local file;
- `HOST` is set to the pod's address, because the processes share one network namespace;
- `python` is this interpreter.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from tests.support.processes import stop, wait_http

__all__ = ["LocalPod", "LocalPods", "container_env"]


def container_env(
    container: Mapping[str, Any],
    pod_name: str,
    namespace: str,
    secrets: Mapping[str, Mapping[str, str]],
    volume_dirs: Mapping[str, pathlib.Path],
) -> dict[str, str]:
    """The container's env as the kubelet would hand it over, volume paths mapped to local dirs."""
    env: dict[str, str] = {}
    for item in container.get("env", []):
        name = item["name"]
        if "value" in item:
            env[name] = _map_paths(item["value"], volume_dirs)
            continue
        source = item["valueFrom"]
        if "fieldRef" in source:
            path = source["fieldRef"]["fieldPath"]
            env[name] = {"metadata.name": pod_name, "metadata.namespace": namespace}[path]
        elif "secretKeyRef" in source:
            ref = source["secretKeyRef"]
            env[name] = secrets[ref["name"]][ref["key"]]
        else:
            raise ValueError(f"env {name}: unsupported source {source}")
    return env


def _map_paths(value: str, volume_dirs: Mapping[str, pathlib.Path]) -> str:
    for mount in sorted(volume_dirs, key=len, reverse=True):
        if value == mount or value.startswith(mount + "/"):
            return str(volume_dirs[mount]) + value[len(mount) :]
    return value


@dataclass
class LocalPod:
    name: str
    address: str
    directory: pathlib.Path
    process: subprocess.Popen[bytes] | None = None
    termination_log: pathlib.Path = field(init=False)

    def __post_init__(self) -> None:
        self.termination_log = self.directory / "termination-log"


class LocalPods:
    """Pods of one test: their addresses, their hosts file, their processes."""

    def __init__(self, root: pathlib.Path, namespace: str) -> None:
        self.root = root
        self.namespace = namespace
        root.mkdir(parents=True, exist_ok=True)
        self.hosts_file = root / "hosts"
        self.names: dict[str, str] = {}
        self.pods: dict[str, LocalPod] = {}
        self._next = 10
        self._write_hosts()

    def _write_hosts(self) -> None:
        lines = ["127.0.0.1 localhost"]
        lines += [f"{address} {name}" for name, address in sorted(self.names.items())]
        self.hosts_file.write_text("\n".join(lines) + "\n")

    def pod(self, name: str) -> LocalPod:
        """The pod named `name`, with a fresh address and directory on first use."""
        if name not in self.pods:
            address = f"127.0.0.{self._next}"
            self._next += 1
            directory = self.root / name
            directory.mkdir(parents=True, exist_ok=True)
            self.pods[name] = LocalPod(name, address, directory)
        return self.pods[name]

    def resolve(self, dns_name: str, pod: str) -> None:
        """Make `dns_name` (a Service or pod DNS name) resolve to the pod's address."""
        self.names[dns_name] = self.pod(pod).address
        self._write_hosts()

    def add_statefulset(self, sts: Mapping[str, Any]) -> list[str]:
        """Register the StatefulSet's pod names, its headless DNS and the leader Service."""
        name = sts["metadata"]["name"]
        service = sts["spec"]["serviceName"]
        pods = [f"{name}-{i}" for i in range(sts["spec"]["replicas"])]
        for pod in pods:
            self.resolve(f"{pod}.{service}.{self.namespace}.svc", pod)
        self.resolve(f"{name}-leader.{self.namespace}.svc", pods[0])
        return pods

    def command(
        self,
        pod_template: Mapping[str, Any],
        container_name: str,
        pod_name: str,
        secrets: Mapping[str, Mapping[str, str]] | None = None,
        init: bool = False,
    ) -> tuple[list[str], dict[str, str]]:
        """argv and env of a container of a rendered pod template, for this pod."""
        spec = pod_template["spec"]
        containers = spec.get("initContainers" if init else "containers", [])
        container = next(c for c in containers if c["name"] == container_name)
        pod = self.pod(pod_name)
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        volume_dirs = {}
        for mount in container.get("volumeMounts", []):
            claim = volumes.get(mount["name"], {}).get("persistentVolumeClaim")
            if claim is not None:  # a shared claim: every pod that mounts it sees the same files
                local = self.root / "claims" / claim["claimName"]
            else:  # emptyDir, ConfigMap, or the pod's own volume claim template
                local = pod.directory / "volumes" / mount["name"]
            local.mkdir(parents=True, exist_ok=True)
            volume_dirs[mount["mountPath"]] = local
        env = container_env(container, pod_name, self.namespace, secrets or {}, volume_dirs)
        env["HOST"] = pod.address
        env["BACKUP_TERMINATION_MESSAGE_PATH"] = str(pod.termination_log)
        argv = [sys.executable if arg == "python" else arg for arg in container["command"]]
        return [*argv, *container.get("args", [])], env

    def volume(self, pod_name: str, volume: str) -> pathlib.Path:
        return self.pod(pod_name).directory / "volumes" / volume

    def _isolated(self, argv: list[str]) -> list[str]:
        # A private /etc/hosts for this process only: the rendered DNS names resolve to 127.0.0.x.
        # Unprivileged users get the mount namespace inside a user namespace of their own.
        script = 'mount --bind "$0" /etc/hosts && exec "$@"'
        user = [] if os.geteuid() == 0 else ["--map-root-user"]
        return ["unshare", *user, "--mount", "sh", "-c", script, str(self.hosts_file), *argv]

    def run(
        self, argv: list[str], env: dict[str, str], timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        """Run a container to completion (a Job's or an init container)."""
        return subprocess.run(
            self._isolated(argv),
            env={**_base_env(), **env},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def start(
        self,
        pod_name: str,
        argv: list[str],
        env: dict[str, str],
        ready_path: str = "/healthz",
        port: int = 8089,
    ) -> LocalPod:
        """Start a long-running container and wait until it answers on its address."""
        pod = self.pod(pod_name)
        log = (pod.directory / "log").open("ab")
        pod.process = subprocess.Popen(
            self._isolated(argv),
            env={**_base_env(), **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_http(f"http://{pod.address}:{port}{ready_path}", 30, pod.process)
        return pod

    def url(self, pod_name: str, port: int = 8089) -> str:
        return f"http://{self.pod(pod_name).address}:{port}"

    def stop_all(self) -> None:
        for pod in self.pods.values():
            if pod.process is not None:
                stop(pod.process)
                pod.process = None


def _base_env() -> dict[str, str]:
    """The parts of our environment a process needs to run at all (not our test's settings)."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "PYTHONPATH", "VIRTUAL_ENV", "TMPDIR")
    return {k: v for k, v in os.environ.items() if k in keep}


@contextlib.contextmanager
def local_pods(root: pathlib.Path, namespace: str) -> Iterator[LocalPods]:
    if shutil.which("unshare") is None:
        raise RuntimeError("unshare (util-linux) is needed to run pods as local processes")
    pods = LocalPods(root, namespace)
    try:
        yield pods
    finally:
        pods.stop_all()
