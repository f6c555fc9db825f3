"""What a finished backup_runner container says about itself: its termination message.

The runner writes one JSON line (docs/contracts.md, "Result line") to its termination-message file;
the kubelet copies it into the pod's status, where the hooks read it. Anything else found there (a
log tail, a truncated line) is kept as a plain message, never trusted as a result.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = ["REPORT_FIELDS", "container_state", "parse_report"]

# The fields of a result line that status shows; nothing else is copied from a pod.
REPORT_FIELDS = (
    "result",
    "reason",
    "message",
    "repo",
    "bucket",
    "objectKey",
    "manifestKey",
    "bytes",
    "sha256",
    "records",
    "sequence",
    "sourcePod",
    "startTime",
    "completionTime",
)
_MAX_MESSAGE = 512


def parse_report(message: Any) -> dict[str, Any]:
    if not isinstance(message, str) or not message.strip():
        return {}
    try:
        report = json.loads(message.strip().splitlines()[-1])
    except (json.JSONDecodeError, IndexError):
        return {"message": message.strip()[-_MAX_MESSAGE:]}
    if not isinstance(report, dict):
        return {"message": message.strip()[-_MAX_MESSAGE:]}
    kept = {k: report[k] for k in REPORT_FIELDS if k in report and report[k] is not None}
    if isinstance(kept.get("message"), str):
        kept["message"] = kept["message"][:_MAX_MESSAGE]
    return kept


def container_state(
    pod: Mapping[str, Any], container: str, *, init: bool = False
) -> dict[str, Any]:
    """The named container's state (running/waiting/terminated), preferring the current one."""
    key = "initContainerStatuses" if init else "containerStatuses"
    for item in pod.get("status", {}).get(key, []) or []:
        if isinstance(item, Mapping) and item.get("name") == container:
            state = item.get("state") or {}
            last = item.get("lastState") or {}
            if "terminated" not in state and "terminated" in last:
                # Restarting after a failure: the last termination says why.
                return {**state, "lastTerminated": last["terminated"]}
            return dict(state)
    return {}
