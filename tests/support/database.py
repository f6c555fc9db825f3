"""Real database_service replicas as local processes, started the way the StatefulSet starts them.

Each replica is `python -m database_service serve` with the pod's environment (`POD_NAME`,
`DATA_DIRECTORY`, `PORT`, `HOST`, `LEADER_URL`) on 127.0.0.1 and a free port. Output goes to a log
file next to the data directory, shown when a wait fails.

    replica = start_replica("db-0", tmp_path / "db-0", free_port()).wait_ready()
    replica.kill()           # SIGKILL, by PID
    replica.start().wait_ready()   # same identity, same data: a pod restart

The `database_cluster` fixture is a factory for a leader and followers, all stopped afterwards:

    def test_x(database_cluster):
        cluster = database_cluster(followers=2)
        cluster.leader.url, cluster.followers[0].url, cluster.wait_converged()

Other test packages use it by importing the fixture into their conftest.py:
`from tests.support.database import database_cluster  # noqa: F401`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

__all__ = [
    "Cluster",
    "Replica",
    "database_cluster",
    "free_port",
    "start_replica",
    "wait_converged",
    "wait_until",
]

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_HOST = "127.0.0.1"


def free_port(host: str = DEFAULT_HOST) -> int:
    """A port free right now on `host` (the kernel picks it; a race is possible but rare)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_until(
    condition: Callable[[], Any], *, timeout: float = 30.0, interval: float = 0.05, what: str = ""
) -> Any:
    """Poll `condition` until it returns something truthy; return that, or fail after `timeout`."""
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        try:
            result = condition()
            if result:
                return result
        except (httpx.HTTPError, OSError, ValueError) as error:
            last_error = error
        if time.monotonic() > deadline:
            detail = f" (last error: {last_error!r})" if last_error else ""
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}{detail}")
        time.sleep(interval)


@dataclass
class Replica:
    """One replica process. `start()` (re)starts it with the same identity and data directory."""

    pod_name: str
    data_dir: Path
    port: int
    host: str = DEFAULT_HOST
    leader_url: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    _log_file: IO[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.data_dir.with_name(self.data_dir.name + ".log")

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def environment(self) -> dict[str, str]:
        env = {
            "PATH": os.environ.get("PATH", ""),
            "PYTHONPATH": str(REPO_ROOT),
            "PYTHONUNBUFFERED": "1",
            "POD_NAME": self.pod_name,
            "DATA_DIRECTORY": str(self.data_dir),
            "PORT": str(self.port),
            "HOST": self.host,
        }
        if self.leader_url:
            env["LEADER_URL"] = self.leader_url
        env.update(self.env)
        return env

    def start(self) -> Replica:
        if self.running:
            raise RuntimeError(f"{self.pod_name} is already running (pid {self.pid})")
        self._close_log()
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        self._log_file = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "database_service", "serve"],
            cwd=REPO_ROOT,
            env=self.environment(),
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )
        return self

    def wait_ready(self, timeout: float = 30.0) -> Replica:
        """Wait until `/readyz` says ready (leader: writable; follower: caught up)."""

        def ready() -> bool:
            if not self.running:
                raise RuntimeError(f"{self.pod_name} exited:\n{self.log()}")
            return httpx.get(f"{self.url}/readyz", timeout=5.0).status_code == 200

        try:
            wait_until(ready, timeout=timeout, what=f"{self.pod_name} to be ready")
        except TimeoutError as error:
            raise TimeoutError(f"{error}\n--- {self.pod_name} log ---\n{self.log()}") from None
        return self

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, like a node losing power under the pod."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def terminate(self, timeout: float = 15.0) -> int | None:
        """SIGTERM and wait for a clean exit (SIGKILL after `timeout`); return the exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self._close_log()
        return self.process.returncode

    def log(self, tail: int = 60) -> str:
        with contextlib.suppress(OSError):
            lines = self.log_path.read_text(errors="replace").splitlines()
            return "\n".join(lines[-tail:])
        return ""

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.get(f"{self.url}{path}", timeout=kwargs.pop("timeout", 10.0), **kwargs)

    def checksum(self) -> dict[str, Any]:
        response = self.get("/api/checksum")
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def replication(self) -> dict[str, Any]:
        response = self.get("/api/replication")
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def _close_log(self) -> None:
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None


def start_replica(
    pod_name: str,
    data_dir: Path,
    port: int,
    host: str = DEFAULT_HOST,
    leader_url: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Replica:
    """Start one replica process (not yet ready: call `.wait_ready()`)."""
    return Replica(pod_name, data_dir, port, host, leader_url, dict(env or {})).start()


def wait_converged(replicas: list[Replica], timeout: float = 30.0) -> dict[str, Any]:
    """Wait until every replica reports the same checksum (content, count and sequence)."""
    seen: list[dict[str, Any]] = []

    def same() -> dict[str, Any] | None:
        seen[:] = [replica.checksum() for replica in replicas]
        return seen[0] if all(s == seen[0] for s in seen) else None

    try:
        result: dict[str, Any] = wait_until(same, timeout=timeout, what="replicas to converge")
    except TimeoutError as error:
        states = "\n".join(f"{r.pod_name}: {s}" for r, s in zip(replicas, seen, strict=False))
        raise AssertionError(f"{error}\n{states}") from None
    return result


@dataclass
class Cluster:
    """A leader (`<name>-0`) and followers, like the StatefulSet's pods."""

    base_dir: Path
    name: str = "db"
    env: dict[str, str] = field(default_factory=dict)
    replicas: list[Replica] = field(default_factory=list)

    @property
    def leader(self) -> Replica:
        return self.replicas[0]

    @property
    def followers(self) -> list[Replica]:
        return self.replicas[1:]

    def add_replica(self, *, wait: bool = True, env: Mapping[str, str] | None = None) -> Replica:
        """Start the next ordinal: the leader first, then followers pointed at it."""
        ordinal = len(self.replicas)
        pod = f"{self.name}-{ordinal}"
        replica = start_replica(
            pod,
            self.base_dir / pod,
            free_port(),
            leader_url=None if ordinal == 0 else self.leader.url,
            env={**self.env, **(env or {})},
        )
        self.replicas.append(replica)
        if wait:
            replica.wait_ready()
        return replica

    def wait_converged(self, timeout: float = 30.0) -> dict[str, Any]:
        return wait_converged([r for r in self.replicas if r.running], timeout)

    def stop(self) -> None:
        for replica in reversed(self.replicas):
            replica.terminate()


@pytest.fixture
def database_cluster(tmp_path: Path) -> Iterator[Callable[..., Cluster]]:
    """Factory: `database_cluster(followers=2, env={...})` -> a running, ready `Cluster`."""
    clusters: list[Cluster] = []

    def make(followers: int = 2, env: Mapping[str, str] | None = None, name: str = "db") -> Cluster:
        cluster = Cluster(tmp_path / f"cluster-{len(clusters)}", name=name, env=dict(env or {}))
        clusters.append(cluster)
        for _ in range(followers + 1):
            cluster.add_replica(wait=False)
        for replica in cluster.replicas:
            replica.wait_ready()
        return cluster

    yield make
    for cluster in clusters:
        cluster.stop()
