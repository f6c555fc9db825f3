"""Backup benchmark: `python -m backup_runner` beside plain `minio` transfers of the same bytes.

One run, one MinIO server (built from source, on 127.0.0.1, fresh data directory), one
database_service leader holding `BENCH_BACKUP_PEOPLE` people (default 1M), built in seconds with
`python -m database_service load` from a generated snapshot. Rows:

- plain snapshot read: `GET /api/snapshot` to nowhere (how fast the database can serve it);
- plain upload: `Minio.fput_object` of the stored backup object (the same compressed bytes): the
  limit for the backup;
- backup: `python -m backup_runner backup` (snapshot -> gzip -> SHA-256 -> multipart upload ->
  manifest -> retention), as a child process, peak RSS from `wait4`;
- plain download: `Minio.fget_object` of the same object: the limit for the restore's transfer;
- restore, download + verify: the restore's own log of that phase;
- restore: `python -m backup_runner restore` in all, including `database_service load`.

MB/s is always the stored (compressed) object's size over the time, so the rows compare directly.
"""

from __future__ import annotations

import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.database import REPO_ROOT, Cluster
from tests.support.minio import start_minio

PEOPLE = int(os.environ.get("BENCH_BACKUP_PEOPLE", "1000000"))
REPEAT = 3
RESTORE_REPEAT = 2
MB = 1_000_000


@dataclass(frozen=True)
class Row:
    label: str
    seconds: float
    rss_mb: float | None = None


@dataclass(frozen=True)
class ChildRun:
    seconds: float
    rss_mb: float  # the runner's own peak (VmHWM, from its log)
    tree_rss_mb: float  # largest of the runner and its children (wait4), e.g. the load command
    result: dict[str, object]
    stderr: str


def run_child(operation: str, env: dict[str, str], work: Path) -> ChildRun:
    """Run the runner and measure its wall time and peak RSS (wait4: this child alone)."""
    full_env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(REPO_ROOT),
        "BACKUP_TERMINATION_MESSAGE_PATH": str(work / "termination"),
        **env,
    }
    out, err = work / f"{operation}.out", work / f"{operation}.err"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        start = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-m", "backup_runner", operation],
            env=full_env,
            stdout=stdout,
            stderr=stderr,
            cwd=work,
        )
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
    result = json.loads(out.read_text())
    if result["result"] != "Succeeded":
        raise RuntimeError(f"{operation} failed: {result}\n{err.read_text()}")
    log = err.read_text()
    own = phase_value(log, r"peak RSS ([0-9.]+) MB")
    return ChildRun(seconds, own, usage.ru_maxrss / 1024, result, log)


def read_snapshot(url: str) -> float:
    start = time.perf_counter()
    with httpx.stream("GET", f"{url}/api/snapshot", timeout=120) as response:
        for _ in response.iter_bytes():
            pass
    return time.perf_counter() - start


def phase_value(stderr: str, pattern: str) -> float:
    match = re.search(pattern, stderr)
    if match is None:
        raise RuntimeError(f"no '{pattern}' in the runner's log:\n{stderr}")
    return float(match.group(1))


def make_database(work: Path, directory: Path) -> tuple[int, float]:
    """Generate and load the people in child processes: this process stays small, so the
    runner it starts does not inherit a large image (which would show in its RSS)."""
    snapshot = work / "people.ndjson"
    code = (
        "import sys; from tests.integration.backup_runner.conftest import write_snapshot;"
        f" print(write_snapshot(__import__('pathlib').Path({str(snapshot)!r}), {PEOPLE}))"
    )
    made = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=REPO_ROOT
    )
    subprocess.run(
        [sys.executable, "-m", "database_service", "load", "--data-directory", str(directory),
         str(snapshot)],
        check=True, capture_output=True, cwd=REPO_ROOT,
    )  # fmt: skip
    size = snapshot.stat().st_size / MB
    snapshot.unlink()
    return int(made.stdout), size


def median(values: list[float]) -> float:
    return statistics.median(values)


def main() -> str:
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-backup-") as scratch:
        work = Path(scratch)
        records, raw_mb = make_database(work, work / "cluster" / "bench-0")
        cluster = Cluster(work / "cluster", name="bench")
        minio = start_minio(work / "minio")
        try:
            leader = cluster.add_replica(wait=False).wait_ready(timeout=120)
            env = {
                "BACKUP_CLUSTER": "bench",
                "BACKUP_NAMESPACE": "default",
                "BACKUP_REPO_NAME": "minio",
                "BACKUP_DATABASE_URLS": leader.url,
                "RESTORE_WORK_DIRECTORY": str(work / "scratch"),
                **minio.runner_env(),
            }
            client = minio.client()
            local = work / "object.gz"
            reads, uploads, downloads, backups, restores = [], [], [], [], []
            for _ in range(REPEAT):
                reads.append(read_snapshot(leader.url))
                backups.append(run_child("backup", env, work))
                key = str(backups[-1].result["objectKey"])
                start = time.perf_counter()
                client.fget_object("default-bench", key, str(local))
                downloads.append(time.perf_counter() - start)
                start = time.perf_counter()
                client.fput_object("default-bench", "plain/object.gz", str(local))
                uploads.append(time.perf_counter() - start)
            local.unlink()
            for number in range(RESTORE_REPEAT):
                target = {"RESTORE_DATA_DIRECTORY": str(work / f"restored-{number}")}
                restores.append(run_child("restore", {**env, **target}, work))
        finally:
            cluster.stop()
            minio.stop()

    size_mb = int(str(backups[-1].result["bytes"])) / MB
    upload_phase = median(
        [phase_value(b.stderr, r"uploaded \d+ bytes in ([0-9.]+)s") for b in backups]
    )
    verify_phase = median(
        [
            phase_value(r.stderr, r"downloaded and verified \d+ bytes in ([0-9.]+)s")
            for r in restores
        ]
    )
    backup_s = median([b.seconds for b in backups])
    restore_s = median([r.seconds for r in restores])
    backup_rss = max(b.rss_mb for b in backups)
    restore_rss = max(r.rss_mb for r in restores)
    load_rss = max(r.tree_rss_mb for r in restores)
    rows = [
        Row("plain snapshot read (`GET /api/snapshot`, discarded)", median(reads)),
        Row("plain upload (`fput_object` of the stored object: the limit)", median(uploads)),
        Row("backup, snapshot -> gzip -> upload phase (runner's log)", upload_phase),
        Row("**backup**, whole run (`python -m backup_runner backup`)", backup_s, backup_rss),
        Row("plain download (`fget_object`: the limit)", median(downloads)),
        Row("restore, download + verify phase (runner's log)", verify_phase),
        Row("**restore**, whole run, incl. `database_service load`", restore_s, restore_rss),
    ]
    lines = [
        f"### Backup and restore of {records:,} people",
        "",
        f"Snapshot {raw_mb:,.1f} MB, stored gzip object {size_mb:,.1f} MB. One MinIO on 127.0.0.1"
        f" (fresh data directory), one database_service leader; {platform.python_implementation()}"
        f" {platform.python_version()}, {os.cpu_count()} cores shared by all processes. Medians of"
        f" {REPEAT} runs ({RESTORE_REPEAT} for the restore); MB/s = stored object size / time."
        f" Load average before / after: {load_before:.1f} / {os.getloadavg()[0]:.1f}.",
        "",
        "| operation | seconds | MB/s | peak RSS MB |",
        "|---|---:|---:|---:|",
    ]
    for row in rows:
        rss = f"{row.rss_mb:,.0f}" if row.rss_mb is not None else ""
        lines.append(f"| {row.label} | {row.seconds:.2f} | {size_mb / row.seconds:,.1f} | {rss} |")
    lines += [
        "",
        f"Backup throughput is **{median(uploads) / backup_s:.2f}x** the plain upload's (target:"
        f" at least 0.8x); its upload phase runs at {median(reads) / upload_phase:.2f}x the speed"
        f" of merely reading the snapshot from the database. The restore's download + verify runs"
        f" at {median(downloads) / verify_phase:.2f}x the plain download. Peak RSS of the runner:"
        f" backup {backup_rss:.0f} MB, restore {restore_rss:.0f} MB (target: under 200 MB); the"
        f" `database_service load` it starts peaks at {load_rss:.0f} MB.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(main())
