"""Building hook requests for tests: canonical parents and the recorded fixtures.

Factory functions instead of fixture chains: each test says what it changes.
"""

from __future__ import annotations

import copy
import json
import pathlib
from typing import Any

import yaml

FIXTURES = pathlib.Path(__file__).parent.parent / "fixtures"
SAMPLES = pathlib.Path(__file__).parent.parent.parent / "samples"
API_VERSION = "database.sample.third.party/v1alpha1"


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return data


def sample_documents() -> list[dict[str, Any]]:
    docs = []
    for path in sorted(SAMPLES.rglob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if isinstance(d, dict)]
    return docs


def cluster_parent(name: str = "db", namespace: str = "shop", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "DatabaseCluster",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": "00000000-0000-4000-8000-000000000001",
            "generation": 1,
            "creationTimestamp": "2026-11-20T08:00:00Z",
        },
        "spec": {"amountPods": 3, "image": "registry.example/database-service:1.0", **spec},
    }


def backup_parent(name: str = "nightly", namespace: str = "shop", **spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "repos": [
            {
                "name": "s3-repo",
                "type": "s3",
                "secretName": "s3-credentials",
                "serviceEndpoint": "s3.example.com",
                "cosRegion": "eu-west-1",
                "bucketNamePrefix": "backups-",
            }
        ],
        "manualTrigger": {"time": "2026-11-20T10:00:00Z", "repo": "s3-repo"},
        "scheduledTrigger": {"schedule": "0 2 * * *", "repo": "s3-repo"},
    }
    base.update(spec)
    return {
        "apiVersion": API_VERSION,
        "kind": "DatabaseBackup",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": "00000000-0000-4000-8000-000000000002",
            "generation": 1,
            "creationTimestamp": "2026-11-20T08:00:00Z",
        },
        "spec": base,
    }


def related_clusters(*clusters: dict[str, Any]) -> dict[str, Any]:
    return {
        f"DatabaseCluster.{API_VERSION}": {
            f"{c['metadata']['namespace']}/{c['metadata']['name']}": c for c in clusters
        }
    }


def as_observed(children: list[dict[str, Any]], uid_prefix: str = "child") -> dict[str, Any]:
    """Children as Metacontroller would hand them back, with fields the server adds."""
    groups: dict[str, Any] = {}
    for i, child in enumerate(children):
        obj = copy.deepcopy(child)
        obj["metadata"].update(
            uid=f"{uid_prefix}-{i}",
            resourceVersion=str(100 + i),
            creationTimestamp=f"2026-11-20T08:00:{i:02d}Z",
            generation=1,
        )
        obj["status"] = {}
        key = f"{child['kind']}.{child['apiVersion']}"
        groups.setdefault(key, {})[
            f"{child['metadata']['namespace']}/{child['metadata']['name']}"
        ] = obj
    return groups
