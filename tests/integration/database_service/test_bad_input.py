"""Bad input against a real server: a clear 4xx with a message, and the data unchanged."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.support.database import Cluster

pytestmark = pytest.mark.integration


def test_bad_requests_are_refused_and_change_nothing(
    database_cluster: Callable[..., Cluster],
) -> None:
    cluster = database_cluster(followers=0)
    leader = cluster.leader
    before = leader.checksum()

    def chunked_body() -> Iterator[bytes]:
        yield b'{"firstName": "'
        for _ in range(200):
            yield b"x" * 1024  # 200 KiB, sent without a Content-Length
        yield b'", "lastName": "B"}'

    json_headers = {"Content-Type": "application/json"}
    cases: list[tuple[str, str, dict[str, object], int]] = [
        ("POST", "/persons", {"content": b'{"firstName": "A",', "headers": json_headers}, 400),
        ("POST", "/persons", {"json": {"firstName": ["A"], "lastName": "B"}}, 422),
        ("POST", "/persons", {"json": {"firstName": "A", "lastName": None}}, 422),
        ("PUT", "/persons", {"json": {"firstName": "A", "lastName": "B"}}, 422),
        ("POST", "/persons", {"content": b"x" * 200_000, "headers": json_headers}, 413),
        ("POST", "/persons", {"content": chunked_body(), "headers": json_headers}, 413),
        ("PUT", "/persons/nobody", {"json": {"firstName": "A", "lastName": "B"}}, 404),
        ("DELETE", "/persons/nobody", {}, 404),
        ("GET", "/persons/nobody", {}, 404),
        ("GET", "/api/changes", {"params": {"after": -1}}, 422),
    ]
    with httpx.Client(base_url=leader.url, timeout=10) as client:
        for method, path, kwargs, status in cases:
            response = client.request(method, path, **kwargs)  # type: ignore[arg-type]
            assert response.status_code == status, (method, path, response.text)
            assert response.json()["detail"], (method, path)

        assert client.get("/readyz").status_code == 200
    assert leader.checksum() == before
