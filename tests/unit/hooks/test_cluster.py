"""DatabaseCluster sync: children, convergence, immutable fields, status."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from hooks import cluster, names
from hooks.envelope import SyncRequest
from tests.support.hook_requests import as_observed, cluster_parent, fixture


def sync(parent: dict[str, Any], **request: Any) -> Any:
    return cluster.sync(SyncRequest(parent=parent, **request))


def by_kind(children: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {f"{c['kind']}/{c['metadata']['name']}": c for c in children}


def test_new_cluster_gets_statefulset_and_two_services() -> None:
    answer = sync(cluster_parent("orders", amountPods=3))
    children = by_kind(answer.children)
    assert set(children) == {"StatefulSet/orders", "Service/orders-pods", "Service/orders-leader"}
    sts = children["StatefulSet/orders"]
    assert sts["spec"]["replicas"] == 3
    assert sts["spec"]["serviceName"] == "orders-pods"
    container = sts["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "registry.example/database-service:1.0"
    assert container["ports"][0]["containerPort"] == 8089
    env = {e["name"]: e for e in container["env"]}
    assert env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert env["LEADER_URL"]["value"] == "http://orders-0.orders-pods.shop.svc:8089"
    assert env["DATA_DIRECTORY"]["value"] == "/data"
    assert {"name": "data", "mountPath": "/data"} in container["volumeMounts"]
    claim = sts["spec"]["volumeClaimTemplates"][0]
    assert claim["spec"]["resources"]["requests"]["storage"] == "1Gi"
    leader = children["Service/orders-leader"]["spec"]["selector"]
    assert leader[names.LABEL_POD_NAME] == "orders-0"
    assert children["Service/orders-pods"]["spec"]["clusterIP"] == "None"


def test_pods_are_restricted() -> None:
    sts = sync(cluster_parent()).children[0]
    pod = sts["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    container = pod["containers"][0]["securityContext"]
    assert container["allowPrivilegeEscalation"] is False
    assert container["readOnlyRootFilesystem"] is True
    assert container["capabilities"] == {"drop": ["ALL"]}
    assert pod["containers"][0]["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert pod["containers"][0]["resources"]["requests"]["memory"] == "128Mi"


def test_two_clusters_in_one_namespace_never_share_a_name() -> None:
    first = {c["metadata"]["name"] for c in sync(cluster_parent("a")).children}
    second = {c["metadata"]["name"] for c in sync(cluster_parent("b")).children}
    assert not first & second


def test_amount_pods_and_image_follow_the_spec() -> None:
    before = sync(cluster_parent(amountPods=2))
    observed = as_observed(before.children)
    after = sync(
        cluster_parent(amountPods=5, image="registry.example/database-service:2.0"),
        children=observed,
    )
    sts = by_kind(after.children)["StatefulSet/db"]
    assert sts["spec"]["replicas"] == 5
    assert sts["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":2.0")


def test_storage_change_keeps_the_volume_claim_templates_and_says_so() -> None:
    first = sync(cluster_parent(storage={"size": "1Gi"}))
    answer = sync(cluster_parent(storage={"size": "5Gi"}), children=as_observed(first.children))
    sts = by_kind(answer.children)["StatefulSet/db"]
    assert (
        sts["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] == "1Gi"
    )
    reconciled = next(c for c in answer.status["conditions"] if c["type"] == "Reconciled")
    assert "storage.size 5Gi is not applied" in reconciled["message"]
    assert answer.status["storageApplied"] == "1Gi"


def test_second_pass_renders_what_the_first_one_did() -> None:
    first = sync(cluster_parent())
    second = sync(cluster_parent(), children=as_observed(first.children))
    assert second.children == first.children


def test_invalid_spec_keeps_every_child_unchanged() -> None:
    request = fixture("sync-databasecluster-v2-observed.json")
    request["parent"]["spec"]["amountPods"] = -3
    answer = cluster.sync(SyncRequest.model_validate(request))
    observed_names = {
        obj["metadata"]["name"] for group in request["children"].values() for obj in group.values()
    }
    assert {c["metadata"]["name"] for c in answer.children} == observed_names
    sts = next(c for c in answer.children if c["kind"] == "StatefulSet")
    assert sts["spec"]["replicas"] == 3, "the observed StatefulSet is handed back as it is"
    assert "status" not in sts
    assert "resourceVersion" not in sts["metadata"]
    reconciled = next(c for c in answer.status["conditions"] if c["type"] == "Reconciled")
    assert reconciled["status"] == "False"
    assert reconciled["reason"] == "InvalidSpec"
    assert "spec.amountPods" in reconciled["message"]
    assert answer.status["ready"] == "2/3", "the rest of the status is carried forward"


def test_status_from_observed_children() -> None:
    request = fixture("sync-databasecluster-v2-observed.json")
    answer = cluster.sync(SyncRequest.model_validate(request))
    assert answer.status["ready"] == "3/3"
    assert answer.status["readyReplicas"] == 3
    assert answer.status["leader"] == "databasecluster-sample-0"
    ready = next(c for c in answer.status["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "True"
    assert ready["reason"] == "AllPodsReady"
    assert ready["observedGeneration"] == 1
    # The transition time is the time the last pod became ready, not a clock reading.
    assert ready["lastTransitionTime"] == "2026-11-20T08:01:02Z"


def test_unchanged_condition_keeps_its_transition_time() -> None:
    request = fixture("sync-databasecluster-v2-observed.json")
    first = cluster.sync(SyncRequest.model_validate(request))
    again = copy.deepcopy(request)
    again["parent"]["status"] = first.status
    for pod in again["related"]["Pod.v1"].values():
        pod["status"]["conditions"][0]["lastTransitionTime"] = "2026-11-22T00:00:00Z"
    second = cluster.sync(SyncRequest.model_validate(again))
    assert second.status == first.status


def test_new_cluster_is_not_ready() -> None:
    answer = sync(cluster_parent())
    ready = next(c for c in answer.status["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "Creating")
    assert answer.status["ready"] == "0/3"


def test_customize_asks_for_pods_and_the_restore_source() -> None:
    plain = cluster.customize(cluster_parent())
    assert [r["resource"] for r in plain] == ["pods"]
    restoring = cluster.customize(cluster_parent(restore={"backup": "nightly"}))
    assert restoring[1] == {
        "apiVersion": names.API_VERSION,
        "resource": "databasebackups",
        "namespace": "shop",
        "names": ["nightly"],
    }


@pytest.mark.parametrize("name", ["2nd", "orders.v2", "x" * 46])
def test_a_name_services_cannot_carry_keeps_children_and_says_why(name: str) -> None:
    first = sync(cluster_parent("orders"))
    parent = cluster_parent(name)
    observed = as_observed(first.children)
    answer = sync(parent, children=observed)
    assert len(answer.children) == 3
    reconciled = next(c for c in answer.status["conditions"] if c["type"] == "Reconciled")
    assert (reconciled["status"], reconciled["reason"]) == ("False", "InvalidSpec")
    assert "DNS-1035" in reconciled["message"]
