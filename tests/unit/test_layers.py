"""The packages meet only through HTTP, Kubernetes objects and the backup format: none imports
another, and `hooks` imports no Kubernetes or storage client (it cannot touch the cluster)."""

from __future__ import annotations

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
PACKAGES = ("hooks", "database_service", "backup_runner")
# What each package must never import, beyond the other packages.
FORBIDDEN = {
    "hooks": ("kubernetes", "kr8s", "lightkube", "minio", "boto3", "httpx", "sqlite3"),
    "database_service": ("minio", "kubernetes"),
    "backup_runner": ("kubernetes", "sqlite3"),
}


def imported_modules(path: pathlib.Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("package", PACKAGES)
def test_a_package_imports_no_other_package_and_no_forbidden_client(package: str) -> None:
    forbidden = set(FORBIDDEN[package]) | (set(PACKAGES) - {package})
    offenders = {
        f"{path.relative_to(ROOT)}: {module}"
        for path in sorted((ROOT / package).rglob("*.py"))
        for module in imported_modules(path) & forbidden
    }
    assert not offenders, sorted(offenders)
