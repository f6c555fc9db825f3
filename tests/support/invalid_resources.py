"""The table of resources our CRDs must reject (`tests/fixtures/invalid-resources.yaml`).

One table, two judges: the offline CRD checker (tests/unit/test_crds.py) and the real
kube-apiserver (tests/e2e/test_operator.py).
"""

from __future__ import annotations

import copy
import pathlib
from typing import Any

import yaml

__all__ = ["TABLE", "build_case"]

TABLE: dict[str, Any] = yaml.safe_load(
    (pathlib.Path(__file__).parent.parent / "fixtures" / "invalid-resources.yaml").read_text()
)


def build_case(case: dict[str, Any]) -> dict[str, Any]:
    """The case's resource: its base with the case's spec fields (None removes one) and name."""
    resource: dict[str, Any] = copy.deepcopy(TABLE["bases"][case["base"]])
    for key, value in (case.get("spec") or {}).items():
        if value is None:
            resource["spec"].pop(key, None)
        else:
            resource["spec"][key] = value
    if "resourceName" in case:
        resource["metadata"]["name"] = case["resourceName"]
    return resource
