"""Faults: kill -9 the leader under writes, kill -9 a follower, compaction, a replaced leader DB.

Every test ends with all replicas holding identical content (same checksum: content, count and
sequence).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
from collections.abc import Callable

import httpx
import pytest

from database_service.seed import SEED_PEOPLE
from tests.support.database import REPO_ROOT, Cluster, Replica, wait_until

pytestmark = pytest.mark.integration


class WriteStream:
    """Threads POSTing people with their own ids; records which writes were acknowledged."""

    def __init__(self, url: str, threads: int = 8, prefix: str = "w") -> None:
        self.url = url
        self.acknowledged: set[str] = set()
        self.attempted: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, args=(f"{prefix}{n}",), daemon=True)
            for n in range(threads)
        ]

    def __enter__(self) -> WriteStream:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def _run(self, name: str) -> None:
        with httpx.Client(base_url=self.url, timeout=5.0) as client:
            number = 0
            while not self._stop.is_set():
                person_id = f"{name}-{number:06d}"
                number += 1
                with self._lock:
                    self.attempted.add(person_id)
                try:
                    response = client.post(
                        "/persons", json={"id": person_id, "firstName": name, "lastName": "x"}
                    )
                except httpx.HTTPError:
                    self._stop.wait(0.05)  # the leader is down: retry the next id shortly
                    continue
                if response.status_code == 201:
                    with self._lock:
                        self.acknowledged.add(person_id)

    def wait_for(self, count: int) -> None:
        wait_until(lambda: len(self.acknowledged) >= count, what=f"{count} acknowledged writes")


def ids_on(replica: Replica) -> list[str]:
    return [p["id"] for p in replica.get("/persons", timeout=30).json()]


def test_leader_killed_under_concurrent_writes_keeps_every_acknowledged_write(
    database_cluster: Callable[..., Cluster],
) -> None:
    cluster = database_cluster(followers=2)
    leader = cluster.leader
    with WriteStream(leader.url) as writes:
        writes.wait_for(300)
        leader.kill()
        acknowledged_before_kill = set(writes.acknowledged)
        leader.start().wait_ready()
        writes.wait_for(len(acknowledged_before_kill) + 100)

    ids = ids_on(leader)
    assert len(ids) == len(set(ids)), "a person is listed twice"
    stored = set(ids)
    missing = writes.acknowledged - stored
    assert not missing, f"{len(missing)} acknowledged writes lost, e.g. {sorted(missing)[:3]}"
    # Anything else stored was at least attempted: a write in flight at the kill may have landed.
    assert stored - writes.acknowledged - {p.id for p in SEED_PEOPLE} <= writes.attempted
    # One change per create: the log holds no duplicate either.
    checksum = cluster.wait_converged(timeout=60)
    assert checksum["sequence"] == checksum["records"] == len(stored)


def test_follower_killed_mid_replication_catches_up(
    database_cluster: Callable[..., Cluster],
) -> None:
    cluster = database_cluster(followers=2)
    follower = cluster.followers[0]
    with WriteStream(cluster.leader.url, threads=4) as writes:
        writes.wait_for(200)
        follower.kill()
        writes.wait_for(len(writes.acknowledged) + 200)
        follower.start()
        writes.wait_for(len(writes.acknowledged) + 200)
    follower.wait_ready()
    checksum = cluster.wait_converged(timeout=60)
    assert checksum["records"] == len(writes.acknowledged) + 4
    assert follower.replication()["snapshotResyncs"] == 0  # resumed from its position


def test_followers_behind_the_compacted_log_catch_up_by_snapshot(
    database_cluster: Callable[..., Cluster],
) -> None:
    cluster = database_cluster(followers=1, env={"CHANGELOG_RETAIN": "20"})
    leader, early = cluster.leader, cluster.followers[0]
    early.kill()
    with httpx.Client(base_url=leader.url, timeout=10) as client:
        for number in range(100):
            client.post("/persons", json={"firstName": "C", "lastName": str(number)})
    assert leader.replication()["floor"] > 0

    early.start().wait_ready()
    late = cluster.add_replica()  # db-2: its first start is after the compaction
    cluster.wait_converged()
    assert early.replication()["snapshotResyncs"] == 1
    assert late.replication()["snapshotResyncs"] == 1

    # After the snapshot they follow the log again.
    httpx.post(f"{leader.url}/persons", json={"firstName": "D", "lastName": "E"}, timeout=10)
    checksum = cluster.wait_converged()
    assert checksum["records"] == 4 + 100 + 1
    assert late.replication()["snapshotResyncs"] == 1


def test_a_replaced_leader_database_makes_followers_resync(
    database_cluster: Callable[..., Cluster],
) -> None:
    # The restore path: the leader's database is rebuilt with `load` from a snapshot; its history
    # is new, so followers (even at the same sequence) replace their content with its snapshot.
    cluster = database_cluster(followers=2)
    leader = cluster.leader
    with httpx.Client(base_url=leader.url, timeout=10) as client:
        for number in range(10):
            client.post("/persons", json={"id": f"keep{number}", "firstName": "K", "lastName": "L"})
        snapshot = client.get("/api/snapshot").content
        for number in range(5):
            client.post("/persons", json={"id": f"lost{number}", "firstName": "L", "lastName": "M"})
    cluster.wait_converged()

    leader.terminate()
    shutil.rmtree(leader.data_dir)
    load = [
        sys.executable,
        "-m",
        "database_service",
        "load",
        "--data-directory",
        str(leader.data_dir),
    ]
    loaded = subprocess.run(
        load,
        input=snapshot,
        capture_output=True,
        cwd=REPO_ROOT,
        check=False,
    )
    assert loaded.returncode == 0, loaded.stderr
    again = subprocess.run(
        load,
        input=snapshot,
        capture_output=True,
        cwd=REPO_ROOT,
        check=False,
    )
    assert again.returncode == 2, "a second load must refuse the non-empty directory"
    leader.start().wait_ready()

    checksum = cluster.wait_converged()
    assert checksum["records"] == 14
    for follower in cluster.followers:
        assert follower.get("/persons/lost0").status_code == 404
        assert follower.replication()["snapshotResyncs"] == 1
