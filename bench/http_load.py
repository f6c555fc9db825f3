"""A small closed-loop HTTP/1.1 load generator on raw asyncio streams.

Keep-alive connections, a fixed number of requests in flight, per-request latency. Raw streams
instead of an HTTP client library so the generator's own cost stays small and equal for every
server it measures. Only for 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass

__all__ = ["LoadResult", "run_load"]


@dataclass(frozen=True)
class LoadResult:
    requests: int
    seconds: float
    latencies: list[float]

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]

    @property
    def median(self) -> float:
        return statistics.median(self.latencies)


async def _worker(host: str, port: int, request: bytes, count: int, out: list[float]) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        for _ in range(count):
            started = time.perf_counter()
            writer.write(request)
            length = 0
            status = await reader.readline()
            if b" 200 " not in status:
                raise RuntimeError(f"unexpected answer: {status!r}")
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            out.append(time.perf_counter() - started)
    finally:
        writer.close()


def run_load(
    host: str, port: int, path: str, body: bytes, total: int, concurrency: int
) -> LoadResult:
    request = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body

    async def main() -> LoadResult:
        latencies: list[float] = []
        per_worker = total // concurrency
        started = time.perf_counter()
        await asyncio.gather(
            *(_worker(host, port, request, per_worker, latencies) for _ in range(concurrency))
        )
        return LoadResult(len(latencies), time.perf_counter() - started, latencies)

    return asyncio.run(main())
