"""Starting and stopping real processes for tests: free ports, readiness, clean teardown."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence

import httpx


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def wait_http(
    url: str, timeout: float = 20.0, process: subprocess.Popen[bytes] | None = None
) -> None:
    """Wait until `url` answers 200; fail early if the process died."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before {url} answered")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError as error:
            last = error
        time.sleep(0.05)
    raise TimeoutError(f"{url} did not answer within {timeout}s: {last}")


def stop(process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """Terminate the process group we started, then kill it if it lingers."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@contextlib.contextmanager
def running(
    args: Sequence[str], ready_url: str, env: dict[str, str] | None = None, timeout: float = 20.0
) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(
        list(args),
        env={**os.environ, **(env or {})},
        start_new_session=True,  # its own process group: teardown reaches every child
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_http(ready_url, timeout, process)
        yield process
    finally:
        stop(process)


@contextlib.contextmanager
def hooks_server(host: str = "127.0.0.1") -> Iterator[str]:
    """The hooks served by uvicorn, exactly as `python -m hooks serve` runs them."""
    port = free_port(host)
    args = [sys.executable, "-m", "hooks", "serve", "--host", host, "--port", str(port)]
    base = f"http://{host}:{port}"
    with running([*args, "--log-level", "warning"], f"{base}/healthz"):
        yield base
