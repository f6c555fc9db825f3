"""Where the tests find the third-party programs that `scripts/build-tools.sh` builds.

The binaries live outside the repository, under `$CACHE_DIR/bin` (default
`~/.cache/database-operator/bin`), as symlinks into versioned build directories. A missing tool is
an error, never a reason to skip: a test that needs the real etcd or MinIO and cannot find it must
fail and say how to get it.
"""

from __future__ import annotations

import os
import pathlib

__all__ = ["ToolMissingError", "cache_dir", "metacontroller_manifests", "tool_path"]

DEFAULT_CACHE_DIR = pathlib.Path.home() / ".cache" / "database-operator"


class ToolMissingError(RuntimeError):
    """A tool that `make tools` builds is not in the cache."""


def cache_dir() -> pathlib.Path:
    """The cache root shared with the Makefile and build-tools.sh (`$CACHE_DIR`)."""
    configured = os.environ.get("CACHE_DIR")
    return pathlib.Path(configured) if configured else DEFAULT_CACHE_DIR


def tool_path(name: str) -> pathlib.Path:
    """The cached binary `name` (e.g. "minio", "kube-apiserver"), resolved to its real file."""
    link = cache_dir() / "bin" / name
    target = link.resolve()
    if not target.is_file() or not os.access(target, os.X_OK):
        raise ToolMissingError(
            f"{name} is not built: no executable at {link}. Run `make tools` "
            f"(or `scripts/build-tools.sh {name}`) to build it from source into {cache_dir()}."
        )
    return target


def metacontroller_manifests() -> pathlib.Path:
    """Metacontroller's own `manifests/production` (CRDs, RBAC), kept beside its binary."""
    manifests = tool_path("metacontroller").parent / "manifests"
    if not manifests.is_dir():
        raise ToolMissingError(
            f"Metacontroller's manifests are missing at {manifests}. Run "
            "`scripts/build-tools.sh metacontroller` again."
        )
    return manifests
