"""The HTTP API in process (real app, real database, no server): semantics and bad input."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from database_service.api import create_app
from database_service.seed import SEED_PEOPLE
from tests.unit.database_service.builders import NOWHERE, follower_settings, leader_settings

NIKLAS = SEED_PEOPLE[0].id
ADAM = SEED_PEOPLE[1].id


@pytest.fixture
def leader(tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(leader_settings(tmp_path / "leader", changelog_retain=3, max_body_bytes=1024))
    with TestClient(app) as client:
        yield client


@pytest.fixture
def follower(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(follower_settings(tmp_path / "follower"))) as client:
        yield client


def people(client: TestClient) -> dict[str, dict[str, Any]]:
    response = client.get("/persons")
    assert response.status_code == 200
    return {p["id"]: p for p in response.json()}


def test_first_start_seeds_the_original_people(leader: TestClient) -> None:
    assert people(leader) == {p.id: p.model_dump() for p in SEED_PEOPLE}
    assert leader.get(f"/persons/{NIKLAS}").json() == SEED_PEOPLE[0].model_dump()
    assert leader.get("/api/leader").json() is True


def test_post_may_carry_its_own_id_or_get_one(leader: TestClient) -> None:
    own = leader.post("/persons", json={"id": "me-1", "firstName": "Ada", "lastName": "L"})
    assert own.status_code == 201
    assert own.json() == {"id": "me-1", "firstName": "Ada", "lastName": "L"}
    assert own.headers["X-Sequence"] == "5"

    assigned = leader.post("/persons", json={"firstName": "Grace", "lastName": "H"})
    assert assigned.status_code == 201
    assert leader.get(f"/persons/{assigned.json()['id']}").json()["firstName"] == "Grace"

    taken = leader.post("/persons", json={"id": "me-1", "firstName": "X", "lastName": "Y"})
    assert taken.status_code == 409
    assert "already exists" in taken.json()["detail"]
    assert leader.get("/persons/me-1").json()["firstName"] == "Ada"


def test_put_changes_only_the_given_person(leader: TestClient) -> None:
    before = people(leader)
    response = leader.put("/persons", json={"id": ADAM, "firstName": "Adam", "lastName": "New"})
    assert response.status_code == 200
    after = people(leader)
    assert after.pop(ADAM)["lastName"] == "New"
    before.pop(ADAM)
    assert after == before

    by_path = leader.put(f"/persons/{ADAM}", json={"firstName": "A", "lastName": "B"})
    assert by_path.json() == {"id": ADAM, "firstName": "A", "lastName": "B"}


def test_delete_by_body_and_by_path(leader: TestClient) -> None:
    response = leader.request("DELETE", "/persons", json={"id": NIKLAS})
    assert response.status_code == 200
    assert response.json()["lastName"] == "Heidloff"
    assert leader.delete(f"/persons/{ADAM}").status_code == 200
    assert set(people(leader)) == {p.id for p in SEED_PEOPLE[2:]}


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/persons/unknown", None),
        ("PUT", "/persons", {"id": "unknown", "firstName": "A", "lastName": "B"}),
        ("PUT", "/persons/unknown", {"firstName": "A", "lastName": "B"}),
        ("DELETE", "/persons", {"id": "unknown"}),
        ("DELETE", "/persons/unknown", None),
    ],
)
def test_unknown_ids_are_404_and_change_nothing(
    leader: TestClient, method: str, path: str, body: dict[str, str] | None
) -> None:
    before = leader.get("/api/checksum").json()
    response = leader.request(method, path, json=body)
    assert response.status_code == 404
    assert "no person with id 'unknown'" in response.json()["detail"]
    assert leader.get("/api/checksum").json() == before


BAD_BODIES = [
    pytest.param(b'{"firstName": "A", "lastName": ', 400, "not valid JSON", id="malformed"),
    pytest.param(b'{"firstName": 1, "lastName": "B"}', 422, "firstName", id="number-name"),
    pytest.param(b'{"id": 5, "firstName": "A", "lastName": "B"}', 422, "id", id="number-id"),
    pytest.param(b'{"firstName": "A"}', 422, "lastName: Field required", id="missing"),
    pytest.param(b'{"firstName": "", "lastName": "B"}', 422, "firstName", id="empty-name"),
    pytest.param(b'{"firstName": "A", "lastName": "B", "x": 1}', 422, "x", id="unknown-field"),
    pytest.param(b'{"id": "a/b", "firstName": "A", "lastName": "B"}', 422, "id", id="slash-id"),
    pytest.param(b'[{"firstName": "A", "lastName": "B"}]', 422, "body", id="array"),
    pytest.param(b"null", 422, "body", id="null"),
    pytest.param(b'{"firstName": "' + b"x" * 2000 + b'"}', 413, "larger than 1024", id="huge"),
]


@pytest.mark.parametrize(("body", "status", "message"), BAD_BODIES)
def test_bad_bodies_get_a_clear_4xx_and_store_nothing(
    leader: TestClient, body: bytes, status: int, message: str
) -> None:
    before = leader.get("/api/checksum").json()
    for method, path in [("POST", "/persons"), ("PUT", "/persons"), ("PUT", f"/persons/{ADAM}")]:
        response = leader.request(
            method, path, content=body, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == status, (method, path, response.text)
        assert message in response.json()["detail"]
    assert leader.get("/api/checksum").json() == before


def test_a_body_not_sent_as_json_is_415(leader: TestClient) -> None:
    response = leader.post(
        "/persons",
        content=b'{"firstName": "A", "lastName": "B"}',
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 415
    assert "Content-Type: application/json" in response.json()["detail"]


def test_put_by_path_refuses_a_different_id_in_the_body(leader: TestClient) -> None:
    response = leader.put(
        f"/persons/{ADAM}", json={"id": NIKLAS, "firstName": "A", "lastName": "B"}
    )
    assert response.status_code == 422
    assert "differs" in response.json()["detail"]


def test_a_follower_refuses_writes_naming_the_leader(follower: TestClient) -> None:
    for method, path in [
        ("POST", "/persons"),
        ("PUT", "/persons"),
        ("PUT", "/persons/x"),
        ("DELETE", "/persons"),
        ("DELETE", "/persons/x"),
    ]:
        response = follower.request(
            method, path, json={"id": "x", "firstName": "A", "lastName": "B"}
        )
        assert response.status_code == 409, (method, path)
        assert response.json()["leader"] == NOWHERE
        assert NOWHERE in response.json()["detail"]
        assert response.headers["X-Leader-URL"] == NOWHERE
    assert follower.get("/api/leader").json() is False
    assert follower.get("/persons").json() == []


def test_a_follower_that_never_reached_its_leader_is_alive_but_not_ready(
    follower: TestClient,
) -> None:
    assert follower.get("/healthz").status_code == 200
    response = follower.get("/readyz")
    assert response.status_code == 503
    assert "not caught up" in response.json()["detail"]
    assert follower.get("/api/onleaderupdated").json() == {"triggered": True}
    status = follower.get("/api/replication").json()
    assert (status["role"], status["leaderUrl"], status["lagSeconds"]) == (
        "follower",
        NOWHERE,
        None,
    )


def test_leader_health_and_status(leader: TestClient) -> None:
    assert leader.get("/healthz").json() == {"status": "alive"}
    assert leader.get("/readyz").status_code == 200
    assert leader.get("/api/onleaderupdated").json() == {"triggered": False}
    status = leader.get("/api/replication").json()
    assert (status["role"], status["sequence"], status["state"]) == ("leader", 4, "leading")


def test_changes_feed_and_when_it_sends_followers_to_a_snapshot(leader: TestClient) -> None:
    page = leader.get("/api/changes", params={"after": 1}).json()
    assert [c["sequence"] for c in page["changes"]] == [2, 3, 4]
    assert (page["sequence"], page["floor"]) == (4, 1)  # retain=3: change 1 is compacted
    history = page["history"]

    idle = leader.get("/api/changes", params={"after": 4, "wait": 0.1, "history": history})
    assert idle.json()["changes"] == []

    for params in [
        {"after": 0},  # compacted
        {"after": 9},  # ahead of the leader
        {"after": 2, "history": "another"},  # a different database
    ]:
        response = leader.get("/api/changes", params=params)
        assert response.status_code == 410, params
        assert "/api/snapshot" in response.json()["detail"]


def test_snapshot_and_checksum_endpoints(leader: TestClient) -> None:
    response = leader.get("/api/snapshot")
    assert response.headers["content-type"] == "application/x-ndjson"
    assert response.headers["X-Snapshot-Sequence"] == "4"
    lines = response.text.splitlines()
    assert len(lines) == 6
    assert lines[-1] == '{"end": true, "records": 4}'
    checksum = leader.get("/api/checksum").json()
    assert (checksum["records"], checksum["sequence"]) == (4, 4)


def test_metrics_count_requests_and_writes(leader: TestClient) -> None:
    leader.post("/persons", json={"firstName": "A", "lastName": "B"})
    leader.get("/persons/unknown")
    response = leader.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'database_writes_total{operation="create"} 1.0' in text
    assert 'database_writes_total{operation="seed"} 1.0' in text
    assert 'route="/persons/{person_id}",status="404"' in text
    assert "database_sequence 5.0" in text
    assert "database_is_leader 1.0" in text
