"""Reading what Metacontroller observed: children and related objects as plain dicts.

Observed objects carry fields the API server owns (uid, resourceVersion, status, managedFields):
`preserved` strips those, so that handing an observed child back leaves it exactly as it is: the way
the hooks keep a child alive when they cannot (or must not) render it anew.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

__all__ = [
    "Object",
    "creation_time",
    "iter_objects",
    "labels_of",
    "name_of",
    "observed",
    "preserved",
]

Object = dict[str, Any]

# Metadata the server or Metacontroller writes; never part of what we desire.
_SERVER_METADATA = (
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
    "ownerReferences",
    "selfLink",
    "finalizers",
)
_APPLY_ANNOTATIONS = (
    "metacontroller.k8s.io/last-applied-configuration",
    "kubectl.kubernetes.io/last-applied-configuration",
)


def iter_objects(groups: Mapping[str, Any] | None) -> Iterator[Object]:
    """Every object of a children/related map, whatever its keys (v1: name, v2: namespace/name)."""
    if not isinstance(groups, Mapping):
        return
    for group in groups.values():
        if not isinstance(group, Mapping):
            continue
        for obj in group.values():
            if isinstance(obj, dict) and isinstance(obj.get("metadata"), dict):
                yield obj


def observed(groups: Mapping[str, Any] | None, kind: str) -> dict[str, Object]:
    """The observed objects of one kind, by name, in name order."""
    found = {name_of(obj): obj for obj in iter_objects(groups) if obj.get("kind") == kind}
    return {name: found[name] for name in sorted(found) if name}


def name_of(obj: Mapping[str, Any]) -> str:
    name = obj.get("metadata", {}).get("name", "")
    return name if isinstance(name, str) else ""


def labels_of(obj: Mapping[str, Any]) -> dict[str, str]:
    labels = obj.get("metadata", {}).get("labels") or {}
    return (
        {k: v for k, v in labels.items() if isinstance(v, str)} if isinstance(labels, dict) else {}
    )


def creation_time(obj: Mapping[str, Any]) -> str:
    value = obj.get("metadata", {}).get("creationTimestamp", "")
    return value if isinstance(value, str) else ""


def preserved(obj: Mapping[str, Any]) -> Object:
    """The observed child as a desired object: what we would have to return to change nothing.

    That is our last answer for it, which Metacontroller keeps in an annotation: handing it back
    leaves the child and Metacontroller's three-way merge exactly as they were. Without the
    annotation (server-side apply), the observed object less the fields the server owns.
    """
    last = _last_applied(obj)
    if last is not None:
        return last
    kept: Object = {k: v for k, v in obj.items() if k != "status"}
    metadata = {k: v for k, v in obj.get("metadata", {}).items() if k not in _SERVER_METADATA}
    annotations = {
        k: v for k, v in (metadata.get("annotations") or {}).items() if k not in _APPLY_ANNOTATIONS
    }
    if annotations:
        metadata["annotations"] = annotations
    else:
        metadata.pop("annotations", None)
    kept["metadata"] = metadata
    return kept


def _last_applied(obj: Mapping[str, Any]) -> Object | None:
    annotations = obj.get("metadata", {}).get("annotations") or {}
    text = annotations.get(_APPLY_ANNOTATIONS[0]) if isinstance(annotations, Mapping) else None
    if not isinstance(text, str):
        return None
    try:
        last = json.loads(text)
    except json.JSONDecodeError:
        return None
    same = isinstance(last, dict) and last.get("kind") == obj.get("kind")
    return last if same and name_of(last) == name_of(obj) else None
