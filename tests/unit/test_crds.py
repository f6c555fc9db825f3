"""The CRDs: structural apiextensions/v1 schemas that accept the samples and reject bad input
with the messages we wrote; and the hooks' models agree with the CRD defaults."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from hooks.models import DatabaseBackupSpec, DatabaseClusterSpec
from tests.support.crd_validation import (
    apply_defaults,
    load_crds,
    schema_of,
    structural_problems,
    validate,
)
from tests.support.hook_requests import sample_documents
from tests.support.invalid_resources import TABLE, build_case

CRDS = load_crds()


@pytest.mark.parametrize("kind", sorted(CRDS))
def test_crd_is_structural_and_has_status_and_printer_columns(kind: str) -> None:
    crd = CRDS[kind]
    assert crd["apiVersion"] == "apiextensions.k8s.io/v1"
    assert crd["spec"]["group"] == "database.sample.third.party"
    version = crd["spec"]["versions"][0]
    assert version["name"] == "v1alpha1"
    assert version["subresources"] == {"status": {}}
    assert crd["spec"]["names"]["shortNames"]
    assert len(version["additionalPrinterColumns"]) >= 4
    assert structural_problems(schema_of(crd)) == []


def test_printer_columns() -> None:
    cluster = [
        c["name"]
        for c in CRDS["DatabaseCluster"]["spec"]["versions"][0]["additionalPrinterColumns"]
    ]
    backup = [
        c["name"] for c in CRDS["DatabaseBackup"]["spec"]["versions"][0]["additionalPrinterColumns"]
    ]
    assert {"Ready", "Leader"} <= set(cluster)
    assert {"Last Backup", "Result"} <= set(backup)


@pytest.mark.parametrize(
    "resource",
    [d for d in sample_documents() if d.get("kind") in CRDS],
    ids=lambda d: d["metadata"]["name"],
)
def test_samples_are_accepted(resource: dict[str, Any]) -> None:
    assert validate(resource, CRDS[resource["kind"]]) == []


@pytest.mark.parametrize("case", TABLE["cases"], ids=lambda c: c["name"])
def test_bad_resources_are_rejected_with_our_message(case: dict[str, Any]) -> None:
    resource = build_case(case)
    errors = validate(resource, CRDS[resource["kind"]])
    assert errors, f"accepted: {resource}"
    assert any(case["expect"] in error for error in errors), errors


def test_each_bad_base_is_valid_on_its_own() -> None:
    for base in TABLE["bases"].values():
        assert validate(base, CRDS[base["kind"]]) == []


@pytest.mark.parametrize(
    ("kind", "model"),
    [("DatabaseCluster", DatabaseClusterSpec), ("DatabaseBackup", DatabaseBackupSpec)],
)
def test_model_defaults_equal_crd_defaults(kind: str, model: Any) -> None:
    """A spec defaulted by the API server and one defaulted by the hooks' models are the same."""
    base = copy.deepcopy(TABLE["bases"]["cluster" if kind == "DatabaseCluster" else "backup"])
    defaulted = apply_defaults(schema_of(CRDS[kind]), base)["spec"]
    from_model = model.model_validate(base["spec"]).model_dump(exclude_none=True)
    from_crd = model.model_validate(defaulted).model_dump(exclude_none=True)
    assert from_model == from_crd
