"""Benchmark of database_service: durable writes, replication lag, catch-up and streaming memory.

Everything runs as real processes on 127.0.0.1 (started like the StatefulSet's pods, through
`tests/support/database.py`) in one temporary directory, so every number below is on the same disk:

- durable acknowledged writes/s through HTTP at concurrency 32, with two followers replicating,
  next to what the disk allows (raw SQLite insert+commit, WAL, synchronous=FULL) and the original's
  approach (rewrite the whole JSON file and fsync it on every write, at 10k records);
- follower lag under that load: from the leader's acknowledgement of a write (its `X-Sequence`) to
  the first sample of the follower's `/api/replication` at or past that sequence (sampled every
  10 ms, so each figure is an upper bound);
- time for a new follower to catch up: through the log (the writes above), and through a snapshot
  (100k records, leader built with `load`);
- peak RSS (the kernel's VmHWM) of a leader holding 1M records while it streams `GET /persons` and
  `GET /api/snapshot` to a client.

The write client is a minimal keep-alive HTTP/1.1 client on asyncio streams, so the client is not
what limits the measured rate.
"""

from __future__ import annotations

import asyncio
import bisect
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.support.database import Cluster, Replica, free_port, start_replica, wait_until

CONCURRENCY = 32
WRITE_SECONDS = 10.0
LAG_SAMPLE_SECONDS = 0.01
RAW_SECONDS = 3.0
ORIGINAL_RECORDS = 10_000
ORIGINAL_SECONDS = 4.0
CATCH_UP_RECORDS = 100_000
STREAM_RECORDS = 1_000_000


# -- the limit and the original ------------------------------------------------------------------


def raw_sqlite(path: Path, rows_per_commit: int) -> float:
    """Rows/s of plain INSERT + COMMIT on this disk: WAL, synchronous=FULL, like the service."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("CREATE TABLE persons (id TEXT PRIMARY KEY, first_name TEXT, last_name TEXT)")
    rows = 0
    started = time.perf_counter()
    while time.perf_counter() - started < RAW_SECONDS:
        conn.execute("BEGIN")
        for _ in range(rows_per_commit):
            conn.execute("INSERT INTO persons VALUES (?, ?, ?)", (uuid.uuid4().hex, "F", "L"))
        conn.execute("COMMIT")
        rows += rows_per_commit
    elapsed = time.perf_counter() - started
    conn.close()
    return rows / elapsed


def original_approach(path: Path) -> float:
    """Writes/s when every write rewrites the whole JSON file and fsyncs it (the original)."""
    people = [
        {"id": str(uuid.uuid4()), "firstName": f"First{n}", "lastName": f"Last{n}"}
        for n in range(ORIGINAL_RECORDS)
    ]
    writes = 0
    started = time.perf_counter()
    while time.perf_counter() - started < ORIGINAL_SECONDS:
        people.append({"id": str(uuid.uuid4()), "firstName": "F", "lastName": "L"})
        with path.open("w") as file:
            json.dump(people, file)
            file.flush()
            os.fsync(file.fileno())
        writes += 1
    return writes / (time.perf_counter() - started)


# -- durable writes and lag -----------------------------------------------------------------------


async def _post_loop(
    port: int, deadline: float, acks: list[tuple[float, int]], errors: list[int]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < deadline:
            body = json.dumps(
                {"id": uuid.uuid4().hex, "firstName": "Bench", "lastName": "Mark"}
            ).encode()
            writer.write(
                b"POST /persons HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
            )
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            headers = dict(
                line.split(b": ", 1) for line in head.split(b"\r\n")[1:] if b": " in line
            )
            length = int(headers.get(b"content-length", b"0"))
            await reader.readexactly(length)
            if status == 201:
                acks.append((time.perf_counter(), int(headers[b"x-sequence"])))
            else:
                errors.append(status)
    finally:
        writer.close()


async def _sample_sequence(url: str, stop: asyncio.Event, samples: list[tuple[float, int]]) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        while not stop.is_set():
            response = await client.get("/api/replication")
            samples.append((time.perf_counter(), int(response.json()["sequence"])))
            await asyncio.sleep(LAG_SAMPLE_SECONDS)


async def _write_load(
    cluster: Cluster,
) -> tuple[list[tuple[float, int]], list[int], list[list[tuple[float, int]]], float]:
    acks: list[tuple[float, int]] = []
    errors: list[int] = []
    samples: list[list[tuple[float, int]]] = [[] for _ in cluster.followers]
    stop = asyncio.Event()
    samplers = [
        asyncio.create_task(_sample_sequence(f.url, stop, s))
        for f, s in zip(cluster.followers, samples, strict=True)
    ]
    started = time.perf_counter()
    deadline = started + WRITE_SECONDS
    await asyncio.gather(
        *(_post_loop(cluster.leader.port, deadline, acks, errors) for _ in range(CONCURRENCY))
    )
    elapsed = time.perf_counter() - started
    last = max(sequence for _, sequence in acks)
    # Keep sampling until every follower has the last write, so each write gets a lag.
    while any(not s or s[-1][1] < last for s in samples):
        await asyncio.sleep(LAG_SAMPLE_SECONDS)
    stop.set()
    await asyncio.gather(*samplers)
    return acks, errors, samples, elapsed


def _lags(acks: list[tuple[float, int]], samples: list[tuple[float, int]]) -> list[float]:
    times = [t for t, _ in samples]
    sequences = [s for _, s in samples]
    lags = []
    for acked_at, sequence in acks:
        # The first sample taken after the ack that shows the follower at or past the write.
        start = bisect.bisect_left(times, acked_at)
        index = bisect.bisect_left(sequences, sequence, lo=start)
        if index < len(samples):
            lags.append(max(0.0, times[index] - acked_at))
    return lags


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _batch_mean(replica: Replica) -> float:
    metrics = replica.get("/metrics").text
    values = {
        line.split(" ")[0]: float(line.split(" ")[1])
        for line in metrics.splitlines()
        if line.startswith("database_commit_batch_operations_")
    }
    count = values.get("database_commit_batch_operations_count", 0.0)
    return values.get("database_commit_batch_operations_sum", 0.0) / count if count else 0.0


# -- catch-up and streaming ------------------------------------------------------------------------


def _time_until_caught_up(follower: Replica, leader: Replica, started: float) -> float:
    target = leader.replication()["sequence"]
    wait_until(
        lambda: follower.replication()["sequence"] >= target,
        timeout=300,
        interval=0.02,
        what=f"{follower.pod_name} to catch up",
    )
    return time.perf_counter() - started


def write_snapshot(path: Path, records: int, sequence: int) -> None:
    with path.open("w") as file:
        file.write(
            json.dumps({"format": "database-service/snapshot", "version": 1, "sequence": sequence})
            + "\n"
        )
        batch = []
        for n in range(records):
            batch.append(
                f'{{"id": "p{n:08d}", "firstName": "First{n % 977}", "lastName": "Last{n}"}}\n'
            )
            if len(batch) == 10_000:
                file.write("".join(batch))
                batch.clear()
        file.write("".join(batch))
        file.write(json.dumps({"end": True, "records": records}) + "\n")


def load(directory: Path, snapshot: Path) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "database_service", "load", "--data-directory", str(directory)],
        stdin=snapshot.open("rb"),
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


def _rss_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for pid {pid}")


def stream_peak_rss(replica: Replica, path: str, check: Callable[[bytes], None]) -> dict[str, Any]:
    """Stream `path` from the replica, discarding the body; the server's peak RSS meanwhile."""
    assert replica.pid is not None
    pid = replica.pid
    peak = _rss_kib(pid, "VmRSS")
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, _rss_kib(pid, "VmRSS"))
            time.sleep(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    size = 0
    tail = b""
    started = time.perf_counter()
    with httpx.stream("GET", f"{replica.url}{path}", timeout=120) as response:
        response.raise_for_status()
        for chunk in response.iter_raw():
            size += len(chunk)
            tail = (tail + chunk)[-200:]
    seconds = time.perf_counter() - started
    stop.set()
    sampler.join()
    check(tail)
    # VmHWM is the kernel's own high-water mark: no spike between samples can hide from it.
    peak = max(peak, _rss_kib(pid, "VmHWM"))
    return {"peak_mib": peak / 1024, "mib": size / 2**20, "seconds": seconds}


# -- the run ---------------------------------------------------------------------------------------


def main() -> str:
    with tempfile.TemporaryDirectory(prefix="bench-database-service-") as temporary:
        return _run(Path(temporary))


def _run(base: Path) -> str:
    load_before = os.getloadavg()[0]
    rows: list[tuple[str, str, str]] = []
    print("database_service: raw SQLite and the original's approach ...", flush=True)
    raw_one = raw_sqlite(base / "raw-1.sqlite3", 1)
    raw_batch = raw_sqlite(base / "raw-32.sqlite3", 32)
    original = original_approach(base / "original.json")

    print("database_service: durable writes with two followers ...", flush=True)
    cluster = Cluster(base / "cluster")
    try:
        for _ in range(3):
            cluster.add_replica(wait=False)
        for replica in cluster.replicas:
            replica.wait_ready()
        acks, errors, samples, elapsed = asyncio.run(_write_load(cluster))
        batch = _batch_mean(cluster.leader)
        converged = cluster.wait_converged(timeout=120)
        lags = [lag for s in samples for lag in _lags(acks, s)]

        print("database_service: a new follower catches up through the log ...", flush=True)
        started = time.perf_counter()
        newcomer = cluster.add_replica(wait=False)
        log_catch_up = _time_until_caught_up(newcomer, cluster.leader, started)
        log_changes = cluster.leader.replication()["sequence"]
        resyncs = newcomer.replication()["snapshotResyncs"]
    finally:
        cluster.stop()

    rate = len(acks) / elapsed
    rows += [
        (
            f"durable writes/s, HTTP, {CONCURRENCY} concurrent clients, 2 followers replicating",
            f"**{rate:,.0f}/s** ({len(acks):,} acknowledged in {elapsed:.0f} s, "
            f"{len(errors)} errors; {batch:.1f} writes per commit)",
            "≥ 1,000/s",
        ),
        (
            "raw SQLite on the same disk, INSERT + COMMIT (WAL, synchronous=FULL), 1 row/commit",
            f"{raw_one:,.0f}/s",
            "the limit for one fsync per write",
        ),
        ("raw SQLite, 32 rows/commit", f"{raw_batch:,.0f} rows/s", "the limit with batching"),
        (
            f"original: rewrite the whole JSON file + fsync per write, {ORIGINAL_RECORDS // 1000}k "
            "records (no replication)",
            f"{original:,.0f}/s",
            "",
        ),
        (
            "follower lag under that load, ack on leader → visible on follower, p50 / p99 "
            f"({len(lags):,} samples, 10 ms sampling)",
            f"**{_percentile(lags, 0.5) * 1000:.0f} ms / {_percentile(lags, 0.99) * 1000:.0f} ms**"
            f" (max {max(lags) * 1000:.0f} ms, mean {statistics.mean(lags) * 1000:.0f} ms)",
            "p99 < 500 ms",
        ),
        (
            "replicas identical after the run (checksum of content, count, sequence)",
            f"yes: {converged['records']:,} records at sequence {converged['sequence']:,}",
            "identical",
        ),
        (
            f"new follower catches up through the log ({log_changes:,} changes), "
            "from process start",
            f"{log_catch_up:.1f} s ({resyncs} snapshot resyncs)",
            "",
        ),
    ]

    print(f"database_service: a new follower catches up on {CATCH_UP_RECORDS:,} ...", flush=True)
    snapshot_100k = base / "100k.ndjson"
    write_snapshot(snapshot_100k, CATCH_UP_RECORDS, CATCH_UP_RECORDS)
    load(base / "c100k" / "db-0", snapshot_100k)
    leader = start_replica("db-0", base / "c100k" / "db-0", free_port()).wait_ready()
    try:
        started = time.perf_counter()
        follower = start_replica(
            "db-1", base / "c100k" / "db-1", free_port(), leader_url=leader.url
        )
        try:
            snapshot_catch_up = _time_until_caught_up(follower, leader, started)
            same = follower.checksum() == leader.checksum()
        finally:
            follower.terminate()
    finally:
        leader.terminate()
    rows.append(
        (
            f"new follower catches up on {CATCH_UP_RECORDS // 1000}k records (leader built with "
            "`load`, so by snapshot), from process start",
            f"**{snapshot_catch_up:.1f} s** (identical: {'yes' if same else 'NO'})",
            "",
        )
    )

    print(f"database_service: streaming {STREAM_RECORDS:,} records ...", flush=True)
    snapshot_1m = base / "1m.ndjson"
    write_snapshot(snapshot_1m, STREAM_RECORDS, STREAM_RECORDS)
    load_seconds = load(base / "c1m" / "db-0", snapshot_1m)
    snapshot_1m.unlink()
    leader = start_replica("db-0", base / "c1m" / "db-0", free_port()).wait_ready()
    try:
        idle = _rss_kib(leader.pid or 0, "VmRSS") / 1024

        def persons_complete(tail: bytes) -> None:
            assert tail.endswith(b'"lastName": "Last999999"}]'), tail[-80:]

        def snapshot_complete(tail: bytes) -> None:
            assert tail.endswith(b'{"end": true, "records": 1000000}\n'), tail[-80:]

        persons = stream_peak_rss(leader, "/persons", persons_complete)
        snapshot = stream_peak_rss(leader, "/api/snapshot", snapshot_complete)
    finally:
        leader.terminate()
    rows += [
        (
            f"`load` of {STREAM_RECORDS // 1_000_000}M records (snapshot → new database)",
            f"{load_seconds:.1f} s",
            "",
        ),
        (
            f"peak RSS of the leader during GET /persons over {STREAM_RECORDS // 1_000_000}M "
            f"records (idle {idle:.0f} MiB)",
            f"**{persons['peak_mib']:.0f} MiB** ({persons['mib']:.0f} MiB JSON in "
            f"{persons['seconds']:.1f} s)",
            "< 150 MB",
        ),
        (
            f"peak RSS of the leader during GET /api/snapshot over {STREAM_RECORDS // 1_000_000}M "
            "records",
            f"**{snapshot['peak_mib']:.0f} MiB** ({snapshot['mib']:.0f} MiB NDJSON in "
            f"{snapshot['seconds']:.1f} s)",
            "< 150 MB",
        ),
    ]
    lines = [
        "### database_service",
        "",
        f"{os.cpu_count()} CPUs, load average {load_before:.1f} at the start (other work on the "
        f"machine), Python {sys.version.split()[0]}, SQLite {sqlite3.sqlite_version}; all "
        "processes on 127.0.0.1, data in one temporary directory.",
        "",
        "| measurement | result | target |",
        "|---|---|---|",
        *(f"| {what} | {result} | {target} |" for what, result, target in rows),
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(main())
