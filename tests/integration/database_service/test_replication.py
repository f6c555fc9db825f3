"""A leader and two followers started like the StatefulSet's pods: replication and refusals."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from tests.support.database import Cluster, wait_until

pytestmark = pytest.mark.integration


def test_writes_on_the_leader_appear_on_both_followers(
    database_cluster: Callable[..., Cluster],
) -> None:
    cluster = database_cluster(followers=2)
    leader = cluster.leader
    with httpx.Client(base_url=leader.url, timeout=10) as client:
        for number in range(20):
            response = client.post(
                "/persons", json={"id": f"r{number:03d}", "firstName": "F", "lastName": str(number)}
            )
            assert response.status_code == 201
        assert client.put("/persons/r001", json={"firstName": "G", "lastName": "H"}).is_success
        assert client.delete("/persons/r002").is_success
        last = int(client.delete("/persons/r003").headers["X-Sequence"])

    checksum = cluster.wait_converged()
    assert (checksum["records"], checksum["sequence"]) == (4 + 20 - 2, last)
    for follower in cluster.followers:
        assert follower.get("/persons/r001").json() == {
            "id": "r001",
            "firstName": "G",
            "lastName": "H",
        }
        assert follower.get("/persons/r002").status_code == 404
        status = follower.replication()
        assert (status["role"], status["state"], status["sequence"]) == (
            "follower",
            "streaming",
            last,
        )

    followers = leader.replication()["followers"]
    assert set(followers) == {"db-1", "db-2"}


def test_writes_to_a_follower_are_refused_naming_the_leader(
    database_cluster: Callable[..., Cluster],
) -> None:
    cluster = database_cluster(followers=1)
    follower = cluster.followers[0]
    before = cluster.wait_converged()
    response = httpx.post(
        f"{follower.url}/persons", json={"firstName": "No", "lastName": "Way"}, timeout=10
    )
    assert response.status_code == 409
    assert response.json()["leader"] == cluster.leader.url
    assert cluster.leader.url in response.json()["detail"]
    assert httpx.get(f"{follower.url}/api/leader").json() is False
    assert httpx.get(f"{cluster.leader.url}/api/leader").json() is True
    assert cluster.wait_converged() == before


def test_a_follower_can_be_told_to_pull_and_reports_its_lag(
    database_cluster: Callable[..., Cluster],
) -> None:
    cluster = database_cluster(followers=1)
    follower = cluster.followers[0]
    response = httpx.post(
        f"{cluster.leader.url}/persons", json={"firstName": "A", "lastName": "B"}, timeout=10
    )
    sequence = int(response.headers["X-Sequence"])
    assert follower.get("/api/onleaderupdated").json() == {"triggered": True}
    # Read-your-writes on a follower: wait until it has applied the write's sequence.
    wait_until(lambda: follower.replication()["sequence"] >= sequence, what="the write")
    assert follower.get(f"/persons/{response.json()['id']}").status_code == 200
    metrics = follower.get("/metrics").text
    assert "database_replication_lag_seconds" in metrics
    assert "database_replication_apply_delay_seconds_count" in metrics
    assert "database_is_leader 0.0" in metrics
