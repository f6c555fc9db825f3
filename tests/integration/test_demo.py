"""`make demo` runs as a test: it exits 0 and prints what a newcomer should see."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXPECTED = [
    "==> Serving the hooks",
    "StatefulSet databasecluster-sample",
    "pod databasecluster-sample-0 runs at http://127.0.0.10:8089 (leader)",
    "read it back from databasecluster-sample-1: True",
    ": Succeeded, 5 records",
    "init container of databasecluster-restored-0: Succeeded",
    "init container of databasecluster-restored-1: Skipped NotLeader",
    "the restored cluster serves the same 5 people: True",
    "everything started was stopped and removed",
    "Try next:",
]


@pytest.mark.parametrize("storage", ["minio", "filesystem"])
def test_demo_runs_the_whole_system(storage: str, tmp_path: pathlib.Path) -> None:
    env = dict(os.environ)
    if storage == "filesystem":
        env["CACHE_DIR"] = str(tmp_path)  # no MinIO built there: the demo uses a volume repo
    result = subprocess.run(
        [sys.executable, "scripts/demo.py"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for line in EXPECTED:
        assert line in result.stdout, f"missing {line!r} in:\n{result.stdout}"
    where = "MinIO at 127.0.0.1" if storage == "minio" else "a filesystem repo"
    assert f"into {where}" in result.stdout
