"""Status conditions that stay a pure function of the request.

A condition's `lastTransitionTime` must not be "now": the hooks read no clock, and a status that
changes on every call makes Metacontroller loop. So a condition keeps its previous time while its
status is unchanged, and on a transition takes the time of the observed evidence for it (a pod
becoming ready, a Job finishing), falling back to the parent's creation time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["condition", "find_condition", "merge_conditions"]


def condition(kind: str, status: bool | None, reason: str, message: str) -> dict[str, str]:
    """A condition without its transition time; `merge_conditions` adds that."""
    value = "Unknown" if status is None else ("True" if status else "False")
    return {"type": kind, "status": value, "reason": reason, "message": message}


def find_condition(conditions: Any, kind: str) -> Mapping[str, Any] | None:
    if not isinstance(conditions, list):
        return None
    for item in conditions:
        if isinstance(item, Mapping) and item.get("type") == kind:
            return item
    return None


def merge_conditions(
    previous: Any,
    current: Iterable[dict[str, str]],
    evidence_time: str,
    generation: int,
) -> list[dict[str, Any]]:
    """Attach transition times (carried forward or from the evidence) and the generation."""
    merged: list[dict[str, Any]] = []
    for cond in current:
        before = find_condition(previous, cond["type"])
        time = evidence_time
        if before is not None and before.get("status") == cond["status"]:
            kept = before.get("lastTransitionTime")
            if isinstance(kept, str) and kept:
                time = kept
        merged.append({**cond, "lastTransitionTime": time, "observedGeneration": generation})
    return merged
