"""`python -m hooks render FILE...`: the children the hooks would create, as YAML.

The operator's `helm template`: it reads DatabaseClusters and DatabaseBackups from the files, sends
each through the same sync function Metacontroller calls (as if nothing existed yet), and prints the
children. The resources found in the files are the related objects of those in their namespace
(the cluster a backup targets, the backup a cluster restores from).
"""

from __future__ import annotations

import pathlib
from collections.abc import Iterable
from typing import Any

import yaml

from hooks import backup, cluster, names
from hooks.envelope import SyncRequest, SyncResponse

__all__ = ["load_documents", "render", "render_files"]

KINDS = {"DatabaseCluster": cluster.sync, "DatabaseBackup": backup.sync}


class _Dumper(yaml.SafeDumper):
    """Writes shared dicts out in full: anchors and aliases would puzzle a reader."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def load_documents(paths: Iterable[pathlib.Path]) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in paths:
        for doc in yaml.safe_load_all(path.read_text()):
            if isinstance(doc, dict):
                docs.append(doc)
    return docs


def _related(docs: list[dict[str, Any]], namespace: str) -> dict[str, dict[str, Any]]:
    """Our resources of the namespace, as the customize hooks would deliver them."""
    related: dict[str, dict[str, Any]] = {}
    for doc in docs:
        metadata = doc.get("metadata", {})
        if doc.get("kind") in KINDS and metadata.get("namespace", "default") == namespace:
            group = related.setdefault(f"{doc['kind']}.{names.API_VERSION}", {})
            group[f"{namespace}/{metadata['name']}"] = doc
    return related


def render(docs: list[dict[str, Any]]) -> list[tuple[dict[str, Any], SyncResponse]]:
    """Each parent of ours with the hook's answer for it."""
    answers = []
    for doc in docs:
        sync = KINDS.get(str(doc.get("kind")))
        if sync is None or doc.get("apiVersion") != names.API_VERSION:
            continue
        namespace = doc.get("metadata", {}).get("namespace", "default")
        parent = {**doc, "metadata": {"namespace": namespace, **doc.get("metadata", {})}}
        request = SyncRequest(parent=parent, related=_related(docs, namespace))
        answers.append((parent, sync(request)))
    return answers


def render_files(paths: list[pathlib.Path]) -> str:
    out = []
    for parent, answer in render(load_documents(paths)):
        meta = parent["metadata"]
        header = f"# {parent['kind']} {meta['namespace']}/{meta['name']}"
        problems = [
            c["message"]
            for c in answer.status.get("conditions", [])
            if c.get("type") in ("Reconciled", "Restored") and c.get("status") == "False"
        ]
        for problem in problems:
            header += f"\n# warning: {problem}"
        if not answer.children:
            out.append(f"{header}\n# (no children)\n")
        for child in answer.children:
            out.append(f"{header}\n{yaml.dump(child, Dumper=_Dumper, sort_keys=False)}")
    return "---\n".join(out)
