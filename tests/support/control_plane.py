"""A real Kubernetes control plane on 127.0.0.1 for the end-to-end tests.

The session fixture `control_plane` starts etcd, kube-apiserver, kube-controller-manager,
kube-scheduler and kwok (which fakes nodes and moves pods to Running, since no kubelet can run
here), all built from source by `scripts/build-tools.sh`, with throw-away certificates and data
directories. Metacontroller and the hooks server run as further processes against it (see
`Metacontroller` and `HooksServer`).

Every process is started in its own process group, with the kernel told to kill it should this
Python process die (PR_SET_PDEATHSIG), is recorded by PID, and is stopped by the fixture's
finaliser, by an `atexit` hook and on SIGTERM: a failing or interrupted test run leaves nothing
behind. Nothing here is faked: a missing binary fails the run with the command that builds it.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import dataclasses
import json
import os
import pathlib
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import FrameType
from typing import Any

import pytest
import yaml

from tests.support.tools import tool_path

__all__ = [
    "ControlPlane",
    "ControlPlaneError",
    "HooksServer",
    "ManagedProcess",
    "Metacontroller",
    "control_plane",
    "free_port",
    "start_control_plane",
    "stop_processes",
    "wait_until",
]

LOCALHOST = "127.0.0.1"
SERVICE_CLUSTER_IP_RANGE = "10.0.0.0/24"
KWOK_NODE_ANNOTATION = "kwok.x-k8s.io/node"
# kwok stages the tests want: nodes become Ready and keep a lease, pods are scheduled -> Running ->
# Ready, deleted pods go away. Not `pod-complete`: a Job's pod ends when the test says so, with the
# termination message the test writes, as a kubelet would report it.
KWOK_STAGES = (
    "node/fast/node-initialize.yaml",
    "node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
    "pod/fast/pod-ready.yaml",
    "pod/fast/pod-delete.yaml",
)
PR_SET_PDEATHSIG = 1


class ControlPlaneError(RuntimeError):
    """A component did not start or did not become healthy in time."""


# --- processes ---------------------------------------------------------------------------------

_LIVE: dict[int, ManagedProcess] = {}


def _die_with_parent() -> None:
    """Runs in the child before exec: SIGKILL it when the process that started it dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


_WORK_DIRS: set[pathlib.Path] = set()


def stop_processes(processes: Sequence[ManagedProcess], grace: float = 10.0) -> None:
    """Stops processes all at once: SIGTERM to each group, SIGKILL what is left after `grace`."""
    for process in processes:
        if process.running():  # not reaped yet, so the group id is still this process's
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(p.running() for p in processes):
        time.sleep(0.1)
    for process in processes:
        process.stop(timeout=0)


def _stop_all() -> None:
    stop_processes(list(_LIVE.values()), grace=5.0)
    for work_dir in list(_WORK_DIRS):
        _remove_work_dir(work_dir)


def _remove_work_dir(work_dir: pathlib.Path) -> None:
    _WORK_DIRS.discard(work_dir)
    if os.environ.get("E2E_KEEP_WORK_DIR"):
        sys.stderr.write(f"\ncontrol plane work directory kept: {work_dir}\n")
    else:
        shutil.rmtree(work_dir, ignore_errors=True)


atexit.register(_stop_all)


def _install_sigterm_handler() -> None:
    """On SIGTERM stop our processes first, then die as SIGTERM would have made us."""
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        _stop_all()
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    signal.signal(signal.SIGTERM, handler)


@dataclasses.dataclass
class ManagedProcess:
    """One long-running program, its own process group, its output in `log_path`."""

    name: str
    args: Sequence[str]
    log_path: pathlib.Path
    env: Mapping[str, str] | None = None
    cwd: pathlib.Path | None = None
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> ManagedProcess:
        if self.running():
            raise ControlPlaneError(f"{self.name} is already running")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            log.write(f"\n=== {time.strftime('%H:%M:%S')} start: {list(self.args)}\n".encode())
            log.flush()
            self.popen = subprocess.Popen(
                list(self.args),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=dict(self.env) if self.env is not None else None,
                cwd=self.cwd,
                start_new_session=True,
                preexec_fn=_die_with_parent,  # noqa: PLW1509 - no threads start processes here
            )
        _LIVE[self.popen.pid] = self
        return self

    @property
    def pid(self) -> int:
        if self.popen is None:
            raise ControlPlaneError(f"{self.name} was never started")
        return self.popen.pid

    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the process group, then SIGKILL what is left after `timeout` seconds."""
        if self.popen is None:
            return
        pid = self.popen.pid
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
            if self.popen.poll() is not None:
                break
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, sig)  # the group is ours: start_new_session made pgid == pid
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(wait)
        # No signal after the process is reaped: its PID (and group id) may then be reused.
        _LIVE.pop(pid, None)

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def describe_failure(self) -> str:
        state = "running" if self.running() else f"exited with {self.popen and self.popen.poll()}"
        return f"{self.name} ({state}); last lines of {self.log_path}:\n{self.log_tail()}"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOCALHOST, 0))
        return int(sock.getsockname()[1])


def wait_until(
    what: str,
    check: Callable[[], bool],
    timeout: float,
    interval: float = 0.25,
    diagnose: Callable[[], str] | None = None,
    process: ManagedProcess | None = None,
) -> None:
    """Polls `check` until it returns True; raises with `what` (and a diagnosis) on timeout.

    With `process`, gives up at once when that process has exited: it will not get healthy.
    """
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if process is not None and not process.running():
            raise ControlPlaneError(f"{what}: process exited\n{process.describe_failure()}")
        try:
            if check():
                return
        except Exception as error:  # a component still starting refuses connections
            last_error = error
        time.sleep(interval)
    message = f"timed out after {timeout:.0f}s waiting for {what}"
    if last_error is not None:
        message += f" (last error: {last_error!r})"
    if diagnose is not None:
        message += "\n" + diagnose()
    raise ControlPlaneError(message)


# --- certificates --------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Certificates:
    """A throw-away CA, the API server's serving pair, an admin client pair, the SA key pair."""

    directory: pathlib.Path

    def path(self, name: str) -> pathlib.Path:
        return self.directory / name

    @property
    def ca_crt(self) -> pathlib.Path:
        return self.path("ca.crt")

    @property
    def server_crt(self) -> pathlib.Path:
        return self.path("apiserver.crt")

    @property
    def server_key(self) -> pathlib.Path:
        return self.path("apiserver.key")

    @property
    def admin_crt(self) -> pathlib.Path:
        return self.path("admin.crt")

    @property
    def admin_key(self) -> pathlib.Path:
        return self.path("admin.key")

    @property
    def sa_key(self) -> pathlib.Path:
        return self.path("service-account.key")

    @property
    def sa_pub(self) -> pathlib.Path:
        return self.path("service-account.pub")


def _openssl(*args: str) -> None:
    result = subprocess.run(["openssl", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ControlPlaneError(f"openssl {' '.join(args)} failed:\n{result.stderr}")


def make_certificates(directory: pathlib.Path) -> Certificates:
    """Generates the certificates with the `openssl` command (valid for two days)."""
    directory.mkdir(parents=True, exist_ok=True)
    certs = Certificates(directory)
    ec_key = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes")
    ca_key = certs.path("ca.key")
    _openssl("req", "-x509", *ec_key, "-keyout", str(ca_key), "-out", str(certs.ca_crt),
             "-days", "2", "-subj", "/CN=e2e-test-ca")  # fmt: skip

    def issue(name: str, subject: str, extensions: str) -> None:
        csr, ext = certs.path(f"{name}.csr"), certs.path(f"{name}.ext")
        ext.write_text(extensions)
        _openssl("req", "-new", *ec_key, "-keyout", str(certs.path(f"{name}.key")),
                 "-out", str(csr), "-subj", subject)  # fmt: skip
        _openssl("x509", "-req", "-in", str(csr), "-CA", str(certs.ca_crt), "-CAkey",
                 str(ca_key), "-CAcreateserial", "-out", str(certs.path(f"{name}.crt")),
                 "-days", "2", "-extfile", str(ext))  # fmt: skip

    issue(
        "apiserver",
        "/CN=kube-apiserver",
        "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,"
        "DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc\n",
    )
    # Group system:masters: the admin bypasses RBAC, as envtest's admin user does.
    issue(
        "admin",
        "/O=system:masters/CN=e2e-admin",
        "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=clientAuth\n",
    )
    _openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(certs.sa_key))
    _openssl("ec", "-in", str(certs.sa_key), "-pubout", "-out", str(certs.sa_pub))
    return certs


def write_kubeconfig(path: pathlib.Path, server: str, certs: Certificates) -> None:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "e2e",
                "cluster": {"server": server, "certificate-authority": str(certs.ca_crt)},
            }
        ],
        "users": [
            {
                "name": "e2e-admin",
                "user": {
                    "client-certificate": str(certs.admin_crt),
                    "client-key": str(certs.admin_key),
                },
            }
        ],
        "contexts": [{"name": "e2e", "context": {"cluster": "e2e", "user": "e2e-admin"}}],
        "current-context": "e2e",
    }
    path.write_text(yaml.safe_dump(config))


# --- the control plane ---------------------------------------------------------------------------


@dataclasses.dataclass
class ControlPlane:
    """A running control plane: its kubeconfig, `kubectl` bound to it, and its processes."""

    work_dir: pathlib.Path
    kubeconfig: pathlib.Path
    server: str
    certs: Certificates
    processes: dict[str, ManagedProcess] = dataclasses.field(default_factory=dict)

    def kubectl(
        self,
        *args: str,
        input: str | None = None,
        check: bool = True,
        timeout: float = 60.0,
    ) -> subprocess.CompletedProcess[str]:
        """Runs kubectl against this control plane; raises with its stderr when `check`."""
        command = ["kubectl", f"--kubeconfig={self.kubeconfig}", *args]
        result = subprocess.run(
            command, input=input, capture_output=True, text=True, timeout=timeout, check=False
        )
        if check and result.returncode != 0:
            raise ControlPlaneError(
                f"{' '.join(command)} exited {result.returncode}:\n{result.stderr}{result.stdout}"
            )
        return result

    def get(self, *args: str) -> Any:
        """`kubectl get ... -o json`, parsed; None when the object does not exist."""
        result = self.kubectl("get", *args, "-o", "json", check=False)
        if result.returncode != 0:
            if "NotFound" in result.stderr or "not found" in result.stderr:
                return None
            raise ControlPlaneError(f"kubectl get {' '.join(args)}: {result.stderr}")
        return json.loads(result.stdout)

    def apply(self, manifest: str, *args: str) -> str:
        """`kubectl apply -f -` with `manifest` (YAML text); returns kubectl's output."""
        return self.kubectl("apply", "-f", "-", *args, input=manifest).stdout

    def apply_objects(self, objects: Sequence[Mapping[str, Any]], *args: str) -> str:
        return self.apply(yaml.safe_dump_all([dict(o) for o in objects]), *args)

    def ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.certs.ca_crt))
        context.load_cert_chain(str(self.certs.admin_crt), str(self.certs.admin_key))
        return context

    def raw_get(self, path: str) -> tuple[int, str]:
        """GET `path` on the API server as the admin; (status, body)."""
        request = urllib.request.Request(self.server + path)
        try:
            with urllib.request.urlopen(request, context=self.ssl_context(), timeout=5) as reply:
                return int(reply.status), reply.read().decode()
        except urllib.error.HTTPError as error:
            return int(error.code), error.read().decode()

    def diagnose(self, *names: str) -> str:
        """The state and last log lines of the named processes (default: all)."""
        chosen = [p for p in self.processes.values() if not names or p.name in names]
        return "\n\n".join(p.describe_failure() for p in chosen)

    def create_namespace(self, name: str, pod_security: str | None = "restricted") -> None:
        """Creates namespace `name`, enforcing (and warning about) a Pod Security level."""
        labels: dict[str, str] = {}
        if pod_security is not None:
            for mode in ("enforce", "warn", "audit"):
                labels[f"pod-security.kubernetes.io/{mode}"] = pod_security
                labels[f"pod-security.kubernetes.io/{mode}-version"] = "latest"
        self.apply_objects(
            [
                {
                    "apiVersion": "v1",
                    "kind": "Namespace",
                    "metadata": {"name": name, "labels": labels},
                }
            ]
        )
        # Pods are refused until the namespace's default ServiceAccount exists.
        wait_until(
            f"ServiceAccount default in namespace {name}",
            lambda: self.get("serviceaccount", "default", "-n", name) is not None,
            timeout=60,
            diagnose=self.diagnose,
        )

    def stop(self) -> None:
        stop_processes(list(self.processes.values()))


def _tls_ready(port: int, path: str = "/healthz") -> bool:
    """A component's self-signed HTTPS health endpoint answers 200 (no certificate check)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    url = f"https://{LOCALHOST}:{port}{path}"
    with urllib.request.urlopen(url, context=context, timeout=2) as reply:
        return int(reply.status) == 200


def _http_ready(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=2) as reply:
        return int(reply.status) == 200


def fake_node(name: str) -> dict[str, Any]:
    """A Node that kwok manages (by annotation) and the scheduler will place pods on."""
    resources = {"cpu": "32", "memory": "256Gi", "pods": "110", "ephemeral-storage": "1Ti"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {KWOK_NODE_ANNOTATION: "fake", "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "type": "kwok",
            },
        },
        "status": {
            "allocatable": resources,
            "capacity": resources,
            "nodeInfo": {"architecture": "amd64", "operatingSystem": "linux"},
        },
    }


def fake_volume(name: str) -> dict[str, Any]:
    """A PersistentVolume for claims without a storage class (no provisioner runs here).

    kube-controller-manager's binder binds a StatefulSet's claims to these, so its pods can be
    scheduled; nothing ever mounts the hostPath.
    """
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": name, "labels": {"e2e/fake-volume": "true"}},
        "spec": {
            "capacity": {"storage": "1Ti"},
            "accessModes": ["ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Delete",
            "volumeMode": "Filesystem",
            "hostPath": {"path": f"/nonexistent/e2e-volumes/{name}"},
        },
    }


def _kwok_config(path: pathlib.Path) -> pathlib.Path:
    stages_dir = tool_path("kwok").parent / "stages"
    documents = []
    for stage in KWOK_STAGES:
        stage_file = stages_dir / stage
        if not stage_file.is_file():
            raise ControlPlaneError(
                f"kwok stage {stage_file} is missing: run `scripts/build-tools.sh kwok` again"
            )
        documents.append(stage_file.read_text())
    path.write_text("\n---\n".join(documents))
    return path


def start_control_plane(work_dir: pathlib.Path, nodes: int = 3, volumes: int = 12) -> ControlPlane:
    """Starts every component under `work_dir`; on any failure stops what it started."""
    binaries = {
        name: str(tool_path(name))
        for name in ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")
    }
    if shutil.which("kubectl") is None:
        raise ControlPlaneError("kubectl is not installed")
    _install_sigterm_handler()
    logs = work_dir / "logs"
    certs = make_certificates(work_dir / "pki")
    api_port = free_port()
    server = f"https://{LOCALHOST}:{api_port}"
    kubeconfig = work_dir / "kubeconfig"
    write_kubeconfig(kubeconfig, server, certs)
    plane = ControlPlane(work_dir=work_dir, kubeconfig=kubeconfig, server=server, certs=certs)

    def start(name: str, args: list[str]) -> ManagedProcess:
        process = ManagedProcess(name, args, logs / f"{name}.log").start()
        plane.processes[name] = process
        return process

    try:
        etcd_client, etcd_peer, etcd_metrics = free_port(), free_port(), free_port()
        etcd = start(
            "etcd",
            [
                binaries["etcd"],
                f"--data-dir={work_dir / 'etcd'}",
                f"--listen-client-urls=http://{LOCALHOST}:{etcd_client}",
                f"--advertise-client-urls=http://{LOCALHOST}:{etcd_client}",
                f"--listen-peer-urls=http://{LOCALHOST}:{etcd_peer}",
                f"--initial-advertise-peer-urls=http://{LOCALHOST}:{etcd_peer}",
                f"--initial-cluster=default=http://{LOCALHOST}:{etcd_peer}",
                f"--listen-metrics-urls=http://{LOCALHOST}:{etcd_metrics}",
                "--unsafe-no-fsync",  # throw-away data: durability only costs time here
                "--log-level=warn",
            ],
        )
        wait_until(
            "etcd /health",
            lambda: _http_ready(f"http://{LOCALHOST}:{etcd_client}/health"),
            timeout=60,
            diagnose=plane.diagnose,
            process=etcd,
        )
        apiserver = start(
            "kube-apiserver",
            [
                binaries["kube-apiserver"],
                f"--etcd-servers=http://{LOCALHOST}:{etcd_client}",
                f"--bind-address={LOCALHOST}",
                f"--advertise-address={LOCALHOST}",
                f"--secure-port={api_port}",
                f"--tls-cert-file={certs.server_crt}",
                f"--tls-private-key-file={certs.server_key}",
                f"--client-ca-file={certs.ca_crt}",
                "--authorization-mode=RBAC",
                f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
                "--allow-privileged=true",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-account-key-file={certs.sa_pub}",
                f"--service-account-signing-key-file={certs.sa_key}",
                "--profiling=false",
                "--v=1",
            ],
        )
        wait_until(
            "kube-apiserver /readyz",
            lambda: plane.raw_get("/readyz")[0] == 200,
            timeout=120,
            diagnose=plane.diagnose,
            process=apiserver,
        )
        controller_manager_port, scheduler_port = free_port(), free_port()
        controller_manager = start(
            "kube-controller-manager",
            [
                binaries["kube-controller-manager"],
                f"--kubeconfig={kubeconfig}",
                f"--authentication-kubeconfig={kubeconfig}",
                f"--authorization-kubeconfig={kubeconfig}",
                # No front proxy here: don't look up its CA (which only fills the log with errors).
                "--authentication-skip-lookup=true",
                "--leader-elect=false",
                f"--bind-address={LOCALHOST}",
                f"--secure-port={controller_manager_port}",
                f"--service-account-private-key-file={certs.sa_key}",
                f"--root-ca-file={certs.ca_crt}",
                f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
                "--pvclaimbinder-sync-period=1s",
                "--controllers=*",
                "--v=1",
            ],
        )
        scheduler = start(
            "kube-scheduler",
            [
                binaries["kube-scheduler"],
                f"--kubeconfig={kubeconfig}",
                f"--authentication-kubeconfig={kubeconfig}",
                f"--authorization-kubeconfig={kubeconfig}",
                # No front proxy here: don't look up its CA (which only fills the log with errors).
                "--authentication-skip-lookup=true",
                "--leader-elect=false",
                f"--bind-address={LOCALHOST}",
                f"--secure-port={scheduler_port}",
                "--v=1",
            ],
        )
        start(
            "kwok",
            [
                binaries["kwok"],
                f"--kubeconfig={kubeconfig}",
                f"--config={_kwok_config(work_dir / 'kwok.yaml')}",
                "--manage-all-nodes=false",
                f"--manage-nodes-with-annotation-selector={KWOK_NODE_ANNOTATION}=fake",
                f"--node-ip={LOCALHOST}",
                f"--node-port={free_port()}",
                f"--server-address={LOCALHOST}:{free_port()}",
                "--cidr=10.244.0.0/16",
            ],
        )
        wait_until(
            "kube-controller-manager /healthz",
            lambda: _tls_ready(controller_manager_port),
            timeout=60,
            diagnose=plane.diagnose,
            process=controller_manager,
        )
        wait_until(
            "kube-scheduler /healthz",
            lambda: _tls_ready(scheduler_port),
            timeout=60,
            diagnose=plane.diagnose,
            process=scheduler,
        )
        plane.apply_objects([fake_node(f"kwok-node-{i}") for i in range(nodes)])
        plane.apply_objects([fake_volume(f"e2e-volume-{i}") for i in range(volumes)])
        wait_until(
            f"{nodes} kwok nodes Ready",
            lambda: _ready_nodes(plane) >= nodes,
            timeout=60,
            diagnose=plane.diagnose,
        )
        # The controller manager is working once it has made the default ServiceAccount.
        wait_until(
            "ServiceAccount default/default (made by kube-controller-manager)",
            lambda: plane.get("serviceaccount", "default", "-n", "default") is not None,
            timeout=60,
            diagnose=plane.diagnose,
        )
    except BaseException:
        plane.stop()
        raise
    return plane


def _ready_nodes(plane: ControlPlane) -> int:
    nodes = plane.get("nodes") or {"items": []}
    ready = 0
    for node in nodes["items"]:
        for condition in node.get("status", {}).get("conditions", []):
            if condition.get("type") == "Ready" and condition.get("status") == "True":
                ready += 1
    return ready


@pytest.fixture(scope="session")
def control_plane() -> Iterator[ControlPlane]:
    """The session's control plane; its logs stay in the work directory when a test fails.

    Set E2E_KEEP_WORK_DIR=1 to keep the work directory (certificates, data, logs) afterwards.
    """
    work_dir = pathlib.Path(tempfile.mkdtemp(prefix="e2e-control-plane-"))
    _WORK_DIRS.add(work_dir)
    try:
        plane = start_control_plane(work_dir)
    except BaseException:
        _remove_work_dir(work_dir)
        raise
    sys.stderr.write(f"\ncontrol plane: {plane.server}, kubeconfig {plane.kubeconfig}\n")
    try:
        yield plane
    finally:
        plane.stop()
        _remove_work_dir(work_dir)


# --- Metacontroller and the hooks ----------------------------------------------------------------


@dataclasses.dataclass
class HooksServer:
    """`python -m hooks serve` on 127.0.0.1:port, as Metacontroller's webhooks call it."""

    port: int
    log_path: pathlib.Path
    cwd: pathlib.Path | None = None
    process: ManagedProcess | None = None

    @property
    def url(self) -> str:
        return f"http://{LOCALHOST}:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        args = [
            sys.executable,
            "-m",
            "hooks",
            "serve",
            "--host",
            LOCALHOST,
            "--port",
            str(self.port),
        ]
        self.process = ManagedProcess("hooks", args, self.log_path, cwd=self.cwd).start()
        process = self.process
        wait_until(
            f"hooks server on port {self.port}",
            lambda: _port_open(self.port),
            timeout=timeout,
            diagnose=process.describe_failure,
            process=process,
        )

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((LOCALHOST, port)) == 0


def _help_text(binary: pathlib.Path) -> str:
    result = subprocess.run(
        [str(binary), "--help"], capture_output=True, text=True, timeout=30, check=False
    )
    return result.stdout + result.stderr


@dataclasses.dataclass
class Metacontroller:
    """Metacontroller running out of cluster against a `ControlPlane`.

    Its flags changed between releases (v1 serves metrics on `--debug-addr` and logs with klog;
    later ones have `--metrics-address`, `--health-probe-bind-address` and zap logging): they are
    chosen from what the pinned binary's `--help` lists.
    """

    plane: ControlPlane
    log_path: pathlib.Path
    extra_args: Sequence[str] = ()
    process: ManagedProcess | None = None

    def start(self) -> None:
        binary = tool_path("metacontroller")
        metrics_port = free_port()
        args = [
            str(binary),
            # Short intervals: tests create CRDs and controllers and expect them picked up fast.
            "--discovery-interval=2s",
            "--cache-flush-interval=10m",
            "--client-go-qps=100",
            "--client-go-burst=200",
        ]
        if "health-probe-bind-address" in _help_text(binary):
            health_port = free_port()
            args += [
                f"--kubeconfig={self.plane.kubeconfig}",
                f"--metrics-address={LOCALHOST}:{metrics_port}",
                f"--health-probe-bind-address={LOCALHOST}:{health_port}",
                "--zap-log-level=4",
            ]
            ready_url = f"http://{LOCALHOST}:{health_port}/healthz"
        else:
            # v1 copies --client-config-path over --kubeconfig even when it is empty.
            args += [
                f"--client-config-path={self.plane.kubeconfig}",
                f"--debug-addr={LOCALHOST}:{metrics_port}",
                "-v=4",
            ]
            ready_url = f"http://{LOCALHOST}:{metrics_port}/metrics"
        self.process = ManagedProcess("metacontroller", [*args, *self.extra_args], self.log_path)
        process = self.process.start()
        wait_until(
            "Metacontroller to serve " + ready_url,
            lambda: _http_ready(ready_url),
            timeout=60,
            diagnose=process.describe_failure,
            process=process,
        )

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
