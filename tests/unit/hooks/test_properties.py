"""Properties of the hooks over the HTTP edge, for many generated and mangled requests.

- The same request gives a byte-identical response.
- No observed child is left out unless its removal is intended (an old finished manual Job past the
  history limit, the CronJob of a removed scheduledTrigger).
- Malformed or odd input never gives a 500 and never drops a child.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hooks.app import create_app
from tests.support.hook_requests import (
    as_observed,
    backup_parent,
    cluster_parent,
    fixture,
    related_clusters,
)

client = TestClient(create_app())
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
cluster_fields = st.sampled_from(["amountPods", "image", "storage", "resources", "restore", "x"])
backup_fields = st.sampled_from(
    ["image", "repos", "manualTrigger", "scheduledTrigger", "suspend", "retention", "cluster", "y"]
)


def post(path: str, body: Any) -> Any:
    response = client.post(path, content=json.dumps(body))
    assert response.status_code != 500, response.text
    return response


def child_names(answer: dict[str, Any]) -> set[str]:
    return {f"{c['kind']}/{c['metadata']['name']}" for c in answer["children"]}


def observed_names(request: dict[str, Any]) -> set[str]:
    return {
        f"{obj['kind']}/{obj['metadata']['name']}"
        for group in request["children"].values()
        for obj in group.values()
    }


@st.composite
def cluster_requests(draw: st.DrawFn) -> dict[str, Any]:
    old = cluster_parent(amountPods=draw(st.integers(0, 6)), storage={"size": "1Gi"})
    first = post("/sync/databasecluster", {"parent": old, "children": {}}).json()
    new = cluster_parent(
        amountPods=draw(st.integers(0, 6)),
        image=draw(st.sampled_from(["db:1", "db:2"])),
        storage={"size": draw(st.sampled_from(["1Gi", "2Gi"]))},
    )
    return {"parent": new, "children": as_observed(first["children"])}


@st.composite
def backup_requests(draw: st.DrawFn) -> dict[str, Any]:
    def spec() -> dict[str, Any]:
        out: dict[str, Any] = {"suspend": draw(st.booleans())}
        if draw(st.booleans()):
            out["manualTrigger"] = {"time": draw(st.sampled_from("abcdef")), "repo": "s3-repo"}
        else:
            out["manualTrigger"] = None
        if out["manualTrigger"] is None or draw(st.booleans()):
            out["scheduledTrigger"] = {"schedule": "0 2 * * *", "repo": "s3-repo"}
        else:
            out["scheduledTrigger"] = None
        return {k: v for k, v in out.items() if v is not None}

    related = related_clusters(cluster_parent())
    rendered: list[dict[str, Any]] = []
    for _ in range(draw(st.integers(1, 6))):
        parent = backup_parent()
        parent["spec"] = {**parent["spec"], **spec()}
        answer = post("/sync/databasebackup", {"parent": parent, "related": related}).json()
        rendered += [c for c in answer["children"] if c not in rendered]
    observed = as_observed(rendered)
    for job in observed.get("Job.batch/v1", {}).values():
        job["status"] = draw(
            st.sampled_from(
                [{"active": 1}, {"conditions": [{"type": "Complete", "status": "True"}]}]
            )
        )
    parent = backup_parent()
    base = {
        k: v for k, v in parent["spec"].items() if k not in ("manualTrigger", "scheduledTrigger")
    }
    parent["spec"] = {**base, **spec()}
    return {"parent": parent, "children": observed, "related": related}


@SETTINGS
@given(request=cluster_requests())
def test_cluster_answers_are_deterministic_and_keep_children(request: dict[str, Any]) -> None:
    first = post("/sync/databasecluster", request)
    second = post("/sync/databasecluster", copy.deepcopy(request))
    assert first.status_code == 200
    assert first.content == second.content
    assert observed_names(request) <= child_names(first.json())


def intended_removals(request: dict[str, Any], answer: dict[str, Any]) -> set[str]:
    spec = request["parent"]["spec"]
    allowed = set()
    if "scheduledTrigger" not in spec:
        allowed.add("CronJob/nightly-scheduled")
    jobs = request["children"].get("Job.batch/v1", {}).values()
    finished = [j for j in jobs if "conditions" in j.get("status", {})]
    kept = {c["metadata"]["name"] for c in answer["children"] if c["kind"] == "Job"}
    finished_kept = [j for j in finished if j["metadata"]["name"] in kept]
    if len(finished_kept) >= 3:
        allowed |= {f"Job/{j['metadata']['name']}" for j in finished}
    return allowed


@SETTINGS
@given(request=backup_requests())
def test_backup_answers_are_deterministic_and_keep_children(request: dict[str, Any]) -> None:
    first = post("/sync/databasebackup", request)
    second = post("/sync/databasebackup", copy.deepcopy(request))
    assert first.status_code == 200
    assert first.content == second.content
    answer = first.json()
    missing = observed_names(request) - child_names(answer)
    assert missing <= intended_removals(request, answer)
    running = {
        f"Job/{j['metadata']['name']}"
        for j in request["children"].get("Job.batch/v1", {}).values()
        if "active" in j.get("status", {})
    }
    assert running <= child_names(answer), "a running Job is never deleted"


@SETTINGS
@given(field=cluster_fields, value=json_values)
def test_odd_cluster_specs_never_drop_children(field: str, value: Any) -> None:
    request = fixture("sync-databasecluster-v2-observed.json")
    request["parent"]["spec"][field] = value
    response = post("/sync/databasecluster", request)
    assert response.status_code == 200
    assert observed_names(request) <= child_names(response.json())
    assert response.json()["status"]["conditions"]


@SETTINGS
@given(field=backup_fields, value=json_values)
def test_odd_backup_specs_never_drop_children(field: str, value: Any) -> None:
    request = fixture("sync-databasebackup-v2-observed.json")
    request["parent"]["spec"][field] = value
    response = post("/sync/databasebackup", request)
    assert response.status_code == 200
    answer = response.json()
    assert answer["status"]["conditions"]
    missing = observed_names(request) - child_names(answer)
    if field == "scheduledTrigger":
        missing.discard("CronJob/databasebackup-manual-scheduled")
    assert not missing


@SETTINGS
@given(body=json_values)
def test_garbage_envelopes_are_refused_with_a_4xx(body: Any) -> None:
    for path in ("/sync/databasecluster", "/sync/databasebackup", "/customize/databasebackup"):
        response = post(path, body)
        if response.status_code != 200:
            assert 400 <= response.status_code < 500
            assert response.json()["error"]


@SETTINGS
@given(mangle=st.sampled_from(["children", "related", "status", "metadata"]), value=json_values)
def test_odd_envelope_parts_never_500(mangle: str, value: Any) -> None:
    request = fixture("sync-databasebackup-v2-observed.json")
    if mangle == "status":
        request["parent"]["status"] = value
    elif mangle == "metadata":
        request["parent"]["metadata"]["labels"] = value
    else:
        request[mangle] = value
    response = post("/sync/databasebackup", request)
    assert response.status_code in (200, 422)


def test_malformed_observed_children_are_refused_not_dropped() -> None:
    """A child the hook cannot read would be missing from its answer, and Metacontroller deletes
    what is missing: such a request gets a 422 (nothing applied, retried), never a 200."""
    for junk in ("a string", {"metadata": "no name"}, {"kind": "Service"}):
        request = fixture("sync-databasecluster-v2-observed.json")
        request["children"]["Service.v1"]["database/odd"] = junk
        response = client.post("/sync/databasecluster", content=json.dumps(request))
        assert response.status_code == 422
        assert "Service.v1" in response.json()["error"]
    request = fixture("sync-databasebackup-v2-observed.json")
    request["children"]["Job.batch/v1"] = ["not", "a", "map"]
    assert client.post("/sync/databasebackup", content=json.dumps(request)).status_code == 422
