"""Hooks benchmark: DatabaseCluster sync vs. a bare FastAPI echo, both served by uvicorn.

The request is the recorded v2 sync of a 3-pod cluster with its observed children
(tests/fixtures/sync-databasecluster-v2-observed.json). Each server runs alone, in its own
process, with one uvicorn worker; the load generator is a separate process on 127.0.0.1.
"""

from __future__ import annotations

import os
import pathlib
import platform
import sys

from bench.http_load import LoadResult, run_load
from tests.support.processes import free_port, running

ROOT = pathlib.Path(__file__).parent.parent
REQUEST = ROOT / "tests" / "fixtures" / "sync-databasecluster-v2-observed.json"
TOTAL = int(os.environ.get("BENCH_HOOK_REQUESTS", "4000"))
CONCURRENCY = 8


def measure(app: str, path: str, health: str) -> LoadResult:
    """Serve `app` alone with uvicorn, warm it up, then load it."""
    port = free_port()
    body = REQUEST.read_bytes()
    args = [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port)]
    args += ["--log-level", "warning", "--no-access-log"]
    with running(args, f"http://127.0.0.1:{port}{health}"):
        run_load("127.0.0.1", port, path, body, 400, CONCURRENCY)
        return run_load("127.0.0.1", port, path, body, TOTAL, CONCURRENCY)


def main() -> str:
    sync = measure("hooks.app:app", "/sync/databasecluster", "/healthz")
    echo = measure("bench.echo_app:app", "/echo", "/docs")
    ratio = sync.throughput / echo.throughput
    rows = [
        ("bare FastAPI echo (baseline)", echo),
        ("sync/databasecluster", sync),
    ]
    lines = [
        "### Hooks: sync of a 3-pod DatabaseCluster with observed children",
        "",
        f"{TOTAL} requests, {CONCURRENCY} in flight, request body {REQUEST.stat().st_size} bytes,"
        f" one uvicorn worker, {platform.python_implementation()} {platform.python_version()},"
        f" {os.cpu_count()} cores shared with the load generator.",
        "",
        "| server | requests/s | p50 ms | p99 ms |",
        "|---|---:|---:|---:|",
    ]
    for label, result in rows:
        lines.append(
            f"| {label} | {result.throughput:,.0f} | {result.median * 1000:.2f}"
            f" | {result.percentile(99) * 1000:.2f} |"
        )
    lines += ["", f"Sync throughput is **{ratio:.2f}x** the echo's (target: at least 0.6x)."]
    return "\n".join(lines)


if __name__ == "__main__":
    print(main())
