"""Offline validation of custom resources against our CRDs: schema, defaults and CEL rules.

The real kube-apiserver is the final word (the end-to-end tests apply the same table to it); this
checker gives the same verdicts in milliseconds, with the messages the CRDs define. It evaluates
the OpenAPI schema with jsonschema and the `x-kubernetes-validations` rules with cel-python.
"""

from __future__ import annotations

import copy
import pathlib
from collections.abc import Iterator
from typing import Any

import celpy
import jsonschema
import yaml

CRDS = pathlib.Path(__file__).parent.parent.parent / "crds"


def load_crds() -> dict[str, dict[str, Any]]:
    crds = {}
    for path in sorted(CRDS.glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        crds[crd["spec"]["names"]["kind"]] = crd
    return crds


def schema_of(crd: dict[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


def _json_schema(node: Any) -> Any:
    """The OpenAPI schema as plain JSON Schema (dropping the Kubernetes extensions)."""
    if isinstance(node, dict):
        out = {k: _json_schema(v) for k, v in node.items() if not k.startswith("x-kubernetes")}
        if node.get("x-kubernetes-preserve-unknown-fields"):
            out.pop("properties", None)
        elif out.get("type") == "object" and "properties" in out:
            out.setdefault("additionalProperties", False)
        return out
    if isinstance(node, list):
        return [_json_schema(v) for v in node]
    return node


def _path(parts: Any) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _describe(error: jsonschema.ValidationError) -> str:
    """Phrased like the API server: `spec.image: Required value`."""
    parts = list(error.absolute_path)
    if error.validator == "required":
        parts.append(str(error.message).split("'")[1])
        return f"{_path(parts)}: Required value"
    return f"{_path(parts)}: {error.message}"


def apply_defaults(schema: dict[str, Any], value: Any) -> Any:
    if isinstance(value, dict):
        for key, sub in schema.get("properties", {}).items():
            if key not in value and "default" in sub:
                value[key] = copy.deepcopy(sub["default"])
            if key in value:
                value[key] = apply_defaults(sub, value[key])
    elif isinstance(value, list) and "items" in schema:
        return [apply_defaults(schema["items"], v) for v in value]
    return value


def _rules(schema: dict[str, Any], value: Any, path: str) -> Iterator[tuple[str, str, Any]]:
    for rule in schema.get("x-kubernetes-validations", []):
        yield path, rule, value
    if isinstance(value, dict):
        for key, sub in schema.get("properties", {}).items():
            if key in value:
                yield from _rules(sub, value[key], f"{path}.{key}" if path else key)
    elif isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            yield from _rules(schema["items"], item, f"{path}[{i}]")


def validate(resource: dict[str, Any], crd: dict[str, Any]) -> list[str]:
    """Error messages, empty when the API server would accept the resource."""
    schema = schema_of(crd)
    obj = apply_defaults(schema, copy.deepcopy(resource))
    validator = jsonschema.Draft7Validator(_json_schema(schema))
    errors = [_describe(e) for e in validator.iter_errors(obj)]
    if errors:
        return errors  # like the API server: CEL rules run only on schema-valid objects
    env = celpy.Environment()
    for path, rule, value in _rules(schema, obj, ""):
        program = env.program(env.compile(rule["rule"]))
        if not program.evaluate({"self": celpy.json_to_cel(value)}):
            errors.append(f"{path or '<root>'}: {rule['message']}")
    return errors


def structural_problems(schema: Any, path: str = "") -> list[str]:
    """Where a schema breaks the rules of a structural schema (every node typed, ...)."""
    problems = []
    if not isinstance(schema, dict):
        return problems
    typed = "type" in schema or schema.get("x-kubernetes-int-or-string")
    if not typed and not schema.get("x-kubernetes-preserve-unknown-fields"):
        problems.append(f"{path or '<root>'}: no type")
    if "properties" in schema and "additionalProperties" in schema:
        problems.append(f"{path}: properties and additionalProperties together")
    for key, sub in schema.get("properties", {}).items():
        problems += structural_problems(sub, f"{path}.{key}")
    if isinstance(schema.get("items"), dict):
        problems += structural_problems(schema["items"], f"{path}[]")
    if isinstance(schema.get("additionalProperties"), dict):
        problems += structural_problems(schema["additionalProperties"], f"{path}{{}}")
    return problems
