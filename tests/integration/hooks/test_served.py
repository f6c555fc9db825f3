"""The hooks served by a real uvicorn process, called with the request files from the docs."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import httpx
import pytest
import yaml

from hooks import backup, cluster
from hooks.envelope import SyncRequest
from tests.support.processes import hooks_server

FIXTURES = pathlib.Path(__file__).parents[2] / "fixtures"
ROOT = pathlib.Path(__file__).parents[3]


@pytest.fixture(scope="module")
def hooks_url() -> object:
    with hooks_server() as url:
        yield url


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("sync-database*.json")))
def test_fixture_requests_get_the_pure_functions_answer(hooks_url: str, name: str) -> None:
    body = (FIXTURES / name).read_bytes()
    kind = "databasecluster" if "databasecluster" in name else "databasebackup"
    response = httpx.post(f"{hooks_url}/sync/{kind}", content=body, timeout=10)
    assert response.status_code == 200, response.text
    sync = cluster.sync if kind == "databasecluster" else backup.sync
    expected = sync(SyncRequest.model_validate(json.loads(body)))
    assert response.json() == json.loads(json.dumps(expected.model_dump()))
    assert set(response.json()) == {"status", "children", "resyncAfterSeconds"}


def test_customize_and_decorator_hooks(hooks_url: str) -> None:
    for path, fixture in (
        ("/customize/databasecluster", "customize-databasecluster.json"),
        ("/customize/databasebackup", "customize-databasebackup.json"),
    ):
        response = httpx.post(hooks_url + path, content=(FIXTURES / fixture).read_bytes())
        assert response.status_code == 200
        assert response.json()["relatedResources"]
    role = httpx.post(
        f"{hooks_url}/sync/pod-role", content=(FIXTURES / "sync-pod-role-v2.json").read_bytes()
    )
    assert role.json()["labels"] == {"database.sample.third.party/role": "follower"}


def test_bad_requests_get_a_4xx_with_a_message(hooks_url: str) -> None:
    not_json = httpx.post(f"{hooks_url}/sync/databasecluster", content=b"{not json")
    assert not_json.status_code == 400
    assert "not JSON" in not_json.json()["error"]
    no_parent = httpx.post(f"{hooks_url}/sync/databasecluster", json={"children": {}})
    assert no_parent.status_code == 422
    assert "parent" in no_parent.json()["error"]


def test_health_and_metrics(hooks_url: str) -> None:
    assert httpx.get(f"{hooks_url}/healthz").json() == {"status": "ok"}
    httpx.post(f"{hooks_url}/sync/databasecluster", content=b"[]")
    metrics = httpx.get(f"{hooks_url}/metrics").text
    assert 'database_operator_hook_calls_total{code="400",hook="sync-databasecluster"}' in metrics
    assert "database_operator_hook_duration_seconds_bucket" in metrics
    assert 'database_operator_hook_errors_total{hook="sync-databasecluster"}' in metrics


def test_render_prints_the_children_of_the_samples() -> None:
    samples = sorted(str(p) for p in (ROOT / "samples").glob("*.yaml"))
    out = subprocess.run(
        [sys.executable, "-m", "hooks", "render", *samples],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout
    docs = [d for d in yaml.safe_load_all(out) if d]
    kinds = sorted(f"{d['kind']}/{d['metadata']['name']}" for d in docs)
    assert "StatefulSet/databasecluster-sample" in kinds
    assert "CronJob/databasebackup-manual-scheduled" in kinds
    assert sum(1 for k in kinds if k.startswith("Job/")) == 3


def test_render_refuses_a_missing_file() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "hooks", "render", "no-such.yaml"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 2
    assert "no such file: no-such.yaml" in result.stderr


RECORDED = FIXTURES / "recorded"


@pytest.mark.parametrize("name", sorted(p.name for p in RECORDED.glob("sync-database*.json")))
def test_recorded_metacontroller_requests_keep_every_child(hooks_url: str, name: str) -> None:
    """Requests captured from the real Metacontroller of the e2e tests (v1 envelope, observed
    children with every server field, related pods with termination messages, the status of an
    earlier pass): answered deterministically, with every observed child still there."""
    body = (RECORDED / name).read_bytes()
    path = "/sync/" + name.removeprefix("sync-").removesuffix(".json")
    first = httpx.post(hooks_url + path, content=body, timeout=10)
    again = httpx.post(hooks_url + path, content=body, timeout=10)
    assert first.status_code == 200, first.text
    assert first.content == again.content
    request, answer = json.loads(body), first.json()
    observed = {
        f"{obj['kind']}/{obj['metadata']['name']}"
        for group in request["children"].values()
        for obj in group.values()
    }
    answered = {f"{c['kind']}/{c['metadata']['name']}" for c in answer["children"]}
    assert observed <= answered
    assert answer["status"]["conditions"]
    # Metacontroller writes this status back: the next identical request must change nothing.
    request["parent"]["status"] = {**answer["status"], "observedGeneration": 1}
    settled = httpx.post(hooks_url + path, json=request, timeout=10).json()
    assert settled["status"] == answer["status"]


@pytest.mark.parametrize("name", sorted(p.name for p in RECORDED.glob("customize-*.json")))
def test_recorded_customize_requests(hooks_url: str, name: str) -> None:
    path = "/customize/" + name.removeprefix("customize-").removesuffix(".json")
    response = httpx.post(hooks_url + path, content=(RECORDED / name).read_bytes(), timeout=10)
    assert response.status_code == 200
    for rule in response.json()["relatedResources"]:
        assert not ("labelSelector" in rule and "namespace" in rule), rule


def test_recorded_decorator_request(hooks_url: str) -> None:
    body = (RECORDED / "sync-pod-role.json").read_bytes()
    pod = json.loads(body)["object"]["metadata"]["name"]
    response = httpx.post(f"{hooks_url}/sync/pod-role", content=body, timeout=10)
    role = "leader" if pod.endswith("-0") else "follower"
    assert response.json()["labels"] == {"database.sample.third.party/role": role}
