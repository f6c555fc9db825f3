"""Every child the hooks emit validates, in strict mode, against the official Kubernetes schemas
of every minor version from 1.29 to 1.37: for the samples and for many generated parents."""

from __future__ import annotations

from typing import Any

import kubernetes_validate
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hooks import backup, cluster
from hooks.envelope import SyncRequest
from hooks.render import render
from tests.support.hook_requests import (
    backup_parent,
    cluster_parent,
    related_clusters,
    sample_documents,
)

VERSIONS = [f"1.{minor}.0" for minor in range(29, 38)]


def assert_valid(obj: dict[str, Any], versions: list[str] = VERSIONS) -> None:
    for version in versions:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            name = f"{obj['kind']}/{obj['metadata']['name']}"
            pytest.fail(f"{name} is invalid for Kubernetes {version}: {error.message}")


def sample_children() -> list[dict[str, Any]]:
    return [child for _, answer in render(sample_documents()) for child in answer.children]


@pytest.mark.parametrize(
    "child", sample_children(), ids=lambda c: f"{c['kind']}-{c['metadata']['name']}"
)
def test_sample_children_are_valid_for_every_version(child: dict[str, Any]) -> None:
    assert_valid(child)


def test_samples_render_every_kind() -> None:
    kinds = {child["kind"] for child in sample_children()}
    assert kinds == {"StatefulSet", "Service", "Job", "CronJob"}


names = st.from_regex(r"[a-z]([a-z0-9-]{0,14}[a-z0-9])?", fullmatch=True)
images = st.sampled_from(
    ["db:1", "registry.example:5000/team/db:2.1", "db", "db:latest", "db@sha256:" + "a" * 64]
)
quantities = st.sampled_from(["1Gi", "512Mi", "10G", "100Ki"])


@st.composite
def repos(draw: st.DrawFn) -> list[dict[str, Any]]:
    repo_names = draw(st.lists(names, min_size=1, max_size=3, unique=True))
    out = []
    for name in repo_names:
        kind = draw(st.sampled_from(["ibmcos", "s3", "filesystem"]))
        repo: dict[str, Any] = {"name": name, "type": kind}
        if kind == "filesystem":
            repo["claimName"] = draw(names)
        else:
            repo.update(secretName=draw(names), serviceEndpoint="s3.example.com:9000")
            repo["pathStyle"] = draw(st.booleans())
            if draw(st.booleans()):
                repo["tls"] = {"caConfigMap": {"name": draw(names), "key": "ca.pem"}}
        out.append(repo)
    return out


@st.composite
def backup_specs(draw: st.DrawFn) -> dict[str, Any]:
    spec_repos = draw(repos())
    repo_names = [r["name"] for r in spec_repos]
    spec: dict[str, Any] = {"repos": spec_repos, "suspend": draw(st.booleans())}
    if draw(st.booleans()):
        spec["manualTrigger"] = {
            "time": draw(st.text(min_size=1, max_size=30)),
            "repo": draw(st.sampled_from(repo_names)),
        }
    if "manualTrigger" not in spec or draw(st.booleans()):
        spec["scheduledTrigger"] = {
            "schedule": draw(st.sampled_from(["0 0 * * *", "*/5 * * * *", "@hourly"])),
            "repo": draw(st.sampled_from(repo_names)),
        }
        if draw(st.booleans()):
            spec["scheduledTrigger"]["timeZone"] = "Europe/Berlin"
    if draw(st.booleans()):
        spec["retention"] = {"keepLast": draw(st.integers(1, 50)), "maxAge": "30d"}
    return spec


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=names,
    pods=st.integers(0, 15),
    image=images,
    size=quantities,
    resources=st.sampled_from([None, {"requests": {"cpu": "1", "memory": "1Gi"}}]),
)
def test_generated_clusters_are_valid(
    name: str, pods: int, image: str, size: str, resources: dict[str, Any] | None
) -> None:
    spec: dict[str, Any] = {"amountPods": pods, "image": image, "storage": {"size": size}}
    if resources:
        spec["resources"] = resources
    answer = cluster.sync(SyncRequest(parent=cluster_parent(name, **spec)))
    for child in answer.children:
        assert_valid(child, [VERSIONS[0], VERSIONS[-1]])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=names, spec=backup_specs(), pods=st.integers(0, 5))
def test_generated_backups_are_valid(name: str, spec: dict[str, Any], pods: int) -> None:
    related = related_clusters(cluster_parent(amountPods=pods))
    parent = backup_parent(name)
    parent["spec"] = spec
    answer = backup.sync(SyncRequest(parent=parent, related=related))
    assert answer.children, answer.status
    for child in answer.children:
        assert_valid(child, [VERSIONS[0], VERSIONS[-1]])
