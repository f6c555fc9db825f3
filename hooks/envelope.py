"""Metacontroller's request and response envelopes (hook versions v1 and v2).

v1 keys observed children by name and v2 by `namespace/name`; the hooks never look at the keys, only
at the objects, so one model serves both. v2 decodes responses strictly, so a response carries only
the fields Metacontroller knows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from hooks.conditions import condition, merge_conditions
from hooks.objects import Object

__all__ = [
    "CustomizeRequest",
    "CustomizeResponse",
    "DecoratorRequest",
    "DecoratorResponse",
    "SyncRequest",
    "SyncResponse",
    "describe_error",
]

# The status conditions' fallback time when nothing observed carries one (a hand-written request).
EPOCH = "1970-01-01T00:00:00Z"


def _object_groups(value: Any) -> dict[str, dict[str, Object]]:
    """Related objects: odd entries are ignored rather than failing the call (nothing is deleted
    for a related object the hook did not see)."""
    if not isinstance(value, Mapping):
        return {}
    return {
        str(key): {str(k): v for k, v in group.items() if isinstance(v, dict)}
        for key, group in value.items()
        if isinstance(group, Mapping)
    }


def _observed_groups(value: Any) -> dict[str, dict[str, Object]]:
    """Observed children must be well-formed: a child the hook failed to read would be missing
    from its answer, and Metacontroller deletes what is missing. Refusing the call (a 422) makes
    Metacontroller apply nothing and retry instead."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValueError("must be a map of child groups")
    for key, group in value.items():
        if not isinstance(group, Mapping):
            raise ValueError(f"group {key!r} must be a map of objects")
        for name, obj in group.items():
            metadata = obj.get("metadata") if isinstance(obj, Mapping) else None
            if not isinstance(metadata, Mapping) or not isinstance(metadata.get("name"), str):
                raise ValueError(f"{key} {name!r} is not an object with metadata.name")
    return {str(key): dict(group) for key, group in value.items()}


class SyncRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    controller: dict[str, Any] = Field(default_factory=dict)
    parent: dict[str, Any]
    children: dict[str, dict[str, Object]] = Field(default_factory=dict)
    related: dict[str, dict[str, Object]] = Field(default_factory=dict)
    finalizing: bool = False

    _children = field_validator("children", mode="before")(_observed_groups)
    _related = field_validator("related", mode="before")(_object_groups)

    @field_validator("parent")
    @classmethod
    def _parent_has_identity(cls, parent: dict[str, Any]) -> dict[str, Any]:
        metadata = parent.get("metadata")
        if not isinstance(metadata, dict) or not isinstance(metadata.get("name"), str):
            raise ValueError("parent.metadata.name is missing")
        if not isinstance(metadata.get("namespace", ""), str):
            raise ValueError("parent.metadata.namespace must be a string")
        return parent

    def parent_name(self) -> str:
        return str(self.parent["metadata"]["name"])

    def parent_namespace(self) -> str:
        return str(self.parent["metadata"].get("namespace") or "default")

    def generation(self) -> int:
        value = self.parent["metadata"].get("generation", 0)
        return value if isinstance(value, int) else 0

    def previous_status(self) -> dict[str, Any]:
        status = self.parent.get("status")
        return dict(status) if isinstance(status, dict) else {}

    def evidence_fallback(self) -> str:
        created = self.parent["metadata"].get("creationTimestamp")
        return created if isinstance(created, str) and created else EPOCH

    def keep_children(self, children: list[Object], reason_message: str) -> SyncResponse:
        """The answer to input we cannot act on: every child unchanged, the reason in status."""
        previous = self.previous_status()
        kept = [
            c
            for c in previous.get("conditions", []) or []
            if isinstance(c, dict) and c.get("type") != "Reconciled"
        ]
        invalid = condition("Reconciled", False, "InvalidSpec", reason_message)
        merged = merge_conditions(
            previous.get("conditions"), [invalid], self.evidence_fallback(), self.generation()
        )
        status = {**previous, "conditions": [*kept, *merged]}
        return SyncResponse(status=status, children=children)


class SyncResponse(BaseModel):
    status: dict[str, Any]
    children: list[Object]
    resyncAfterSeconds: float = 0


class CustomizeRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    controller: dict[str, Any] = Field(default_factory=dict)
    parent: dict[str, Any]


class CustomizeResponse(BaseModel):
    relatedResources: list[Object]


class DecoratorRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    controller: dict[str, Any] = Field(default_factory=dict)
    object: dict[str, Any]
    attachments: dict[str, dict[str, Object]] = Field(default_factory=dict)
    related: dict[str, dict[str, Object]] = Field(default_factory=dict)
    finalizing: bool = False

    _attachments = field_validator("attachments", mode="before")(_observed_groups)
    _related = field_validator("related", mode="before")(_object_groups)


class DecoratorResponse(BaseModel):
    labels: dict[str, str | None] = Field(default_factory=dict)
    annotations: dict[str, str | None] = Field(default_factory=dict)
    attachments: list[Object] = Field(default_factory=list)
    resyncAfterSeconds: float = 0


def describe_error(error: ValidationError) -> str:
    """A pydantic error as one line a user can act on: `field.path: what is wrong`."""
    parts = []
    for item in error.errors(include_url=False):
        where = ".".join(str(p) for p in item["loc"]) or "spec"
        message = str(item["msg"]).removeprefix("Value error, ")
        parts.append(f"spec.{where}: {message}" if where != "spec" else f"spec: {message}")
    return "; ".join(parts)
