"""DecoratorController hook: label each database pod with its role, leader or follower.

The role follows from the StatefulSet ordinal (0 leads), so `kubectl get pods -L` shows who leads
and tools can select followers. The decorator only sets labels; it never changes a pod's spec.
"""

from __future__ import annotations

from hooks import names
from hooks.envelope import DecoratorRequest, DecoratorResponse

__all__ = ["role_of", "sync"]


def role_of(pod_name: str) -> str | None:
    _, _, ordinal = pod_name.rpartition("-")
    if not ordinal.isdigit():
        return None
    return "leader" if int(ordinal) == 0 else "follower"


def sync(request: DecoratorRequest) -> DecoratorResponse:
    name = request.object.get("metadata", {}).get("name", "")
    role = role_of(name) if isinstance(name, str) else None
    return DecoratorResponse(labels={names.LABEL_ROLE: role})
