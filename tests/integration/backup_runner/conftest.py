"""Shared pieces of the backup_runner integration tests: data, clusters, running the runner.

- `write_snapshot` makes a snapshot file of the original's four seed people plus generated ones, and
  `loaded_cluster` builds a leader from it with `python -m database_service load` (seconds, where
  10k POSTs would take a minute) and starts followers that replicate from it.
- `run_runner` runs `python -m backup_runner` as the Job does: a subprocess with only the given
  environment. Every run is checked for the contract's promises: exactly one JSON line on stdout,
  the same line in the termination-message file, exit code 0 exactly when not Failed, and no secret
  value anywhere in stdout, stderr or the file.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import random
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.database import REPO_ROOT, Cluster
from tests.support.minio import fresh_minio, minio_server, minio_tls_server

__all__ = [
    "RunResult",
    "fresh_minio",
    "loaded_cluster",
    "minio_server",
    "minio_tls_server",
    "persons",
    "run_runner",
    "write_snapshot",
]

SEED_PEOPLE = (
    ("e0a08c5b-62d5-4b20-a024-e1c270d901c2", "Niklas", "Heidloff"),
    ("93115462-543c-4149-9b75-2b1a84bd326c", "Adam", "Deleeuw"),
    ("dd35e011-093b-4c63-9d54-040a5dc3d28f", "Thomas", "Suedbroecker"),
    ("918b0da0-afda-4cbf-a370-0347a6ede98e", "Alain", "Airom"),
)
FIRST_NAMES = ("Ada", "Grace", "Linus", "Barbara", "Ken", "Margaret", "Dennis", "Frances", "Jörg")


def write_snapshot(path: Path, count: int, *, seed: int = 1, name_length: int = 0) -> int:
    """A snapshot file: the seed people plus `count` generated ones; returns the record count.

    `name_length` > 0 gives random, poorly compressible last names of that length, for tests that
    need a backup larger than one upload part.
    """
    rng = random.Random(seed)
    people = list(SEED_PEOPLE)
    for number in range(count):
        last = (
            base64.b64encode(rng.randbytes(name_length)).decode()[:name_length]
            if name_length
            else f"Person{number}"
        )
        people.append((str(uuid.UUID(int=rng.getrandbits(128))), rng.choice(FIRST_NAMES), last))
    people.sort()
    with path.open("w") as file:
        file.write(json.dumps({"format": "database-service/snapshot", "version": 1, "sequence": 1}))
        file.write("\n")
        for person_id, first, last in people:
            file.write(json.dumps({"id": person_id, "firstName": first, "lastName": last}) + "\n")
        file.write(json.dumps({"end": True, "records": len(people)}) + "\n")
    return len(people)


def load_database(snapshot: Path, data_dir: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "database_service", "load", "--data-directory", str(data_dir)],
        stdin=snapshot.open("rb"),
        capture_output=True,
        check=True,
        cwd=REPO_ROOT,
    )


def loaded_cluster(
    base_dir: Path, snapshot: Path, *, followers: int = 1, name: str = "db"
) -> Cluster:
    """A leader whose database was loaded from `snapshot`, and `followers` caught up with it."""
    cluster = Cluster(base_dir, name=name)
    load_database(snapshot, base_dir / f"{name}-0")
    cluster.add_replica()
    for _ in range(followers):
        cluster.add_replica(wait=False)
    for replica in cluster.replicas:
        replica.wait_ready(timeout=60)
    return cluster


def persons(url: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{url}/persons", timeout=30)
    response.raise_for_status()
    result: list[dict[str, Any]] = response.json()
    return sorted(result, key=lambda person: person["id"])


@dataclasses.dataclass(frozen=True)
class RunResult:
    code: int
    result: dict[str, Any]
    stdout: str
    stderr: str

    @property
    def reason(self) -> str | None:
        return self.result.get("reason")


_SECRET_VARIABLES = ("BACKUP_REPO_ACCESS_KEY_ID", "BACKUP_REPO_SECRET_ACCESS_KEY")


def run_runner(
    operation: str, env: dict[str, str], tmp_path: Path, timeout: float = 180
) -> RunResult:
    termination = tmp_path / f"termination-{uuid.uuid4().hex[:8]}"
    full_env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(REPO_ROOT),
        "BACKUP_TERMINATION_MESSAGE_PATH": str(termination),
        "BACKUP_RETRY_DELAY": "100ms",
        **env,
    }
    completed = subprocess.run(
        [sys.executable, "-m", "backup_runner", operation],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=tmp_path,
    )
    lines = completed.stdout.splitlines()
    assert len(lines) == 1, (
        f"stdout must be one result line:\n{completed.stdout}\n{completed.stderr}"
    )
    result = json.loads(lines[0])
    assert termination.read_text() == lines[0]
    assert (completed.returncode == 0) == (result["result"] != "Failed"), completed.stderr
    for name in _SECRET_VARIABLES:
        secret = full_env.get(name)
        if secret:
            assert secret not in completed.stdout + completed.stderr, f"{name} leaked"
            assert secret not in termination.read_text(), f"{name} leaked"
    return RunResult(completed.returncode, result, completed.stdout, completed.stderr)


@pytest.fixture(scope="module")
def module_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("backup")


@pytest.fixture(scope="module")
def source(module_dir: Path) -> Iterator[Cluster]:
    """A leader and a follower holding the seed people and 10k generated ones."""
    snapshot = module_dir / "source.ndjson"
    write_snapshot(snapshot, 10_000)
    cluster = loaded_cluster(module_dir / "source", snapshot)
    yield cluster
    cluster.stop()


def identity(cluster: str = "db", namespace: str = "shop", repo: str = "minio") -> dict[str, str]:
    return {"BACKUP_CLUSTER": cluster, "BACKUP_NAMESPACE": namespace, "BACKUP_REPO_NAME": repo}


def database_urls(cluster: Cluster) -> str:
    """Followers first, the leader last: what the hooks render."""
    return ",".join([*(r.url for r in cluster.followers), cluster.leader.url])
