"""`python -m backup_runner backup|restore`: what the backup Jobs and the restore container run.

Reads the environment (`settings.py`), runs the operation, prints the result line (`report.py`) and
exits 0 on success (or a Skipped restore), 1 on failure. Logs go to stderr, through the redacting
filter, so stdout carries nothing but the result line.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from backup_runner.backup import run_backup
from backup_runner.errors import Reason, RunnerError
from backup_runner.report import Redactor, emit, failure
from backup_runner.restore import run_restore
from backup_runner.settings import Operation, Settings
from backup_runner.snapshot import database_pool
from backup_runner.storage import open_storage

log = logging.getLogger("backup_runner")

_SECRET_VARIABLES = ("BACKUP_REPO_ACCESS_KEY_ID", "BACKUP_REPO_SECRET_ACCESS_KEY")
_handler: logging.Handler | None = None


def _now() -> datetime:
    return datetime.now(UTC)


def _configure_logging(redact: Redactor, stream: IO[str]) -> None:
    global _handler  # noqa: PLW0603 - one handler per process, replaced when main() runs again
    root = logging.getLogger()
    if _handler is not None:
        root.removeHandler(_handler)
    _handler = logging.StreamHandler(stream)
    _handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    _handler.addFilter(redact)
    root.addHandler(_handler)
    root.setLevel(logging.INFO)


def _peak_rss_mb() -> float | None:
    """This process's peak resident memory (Linux `VmHWM`), logged for capacity planning."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None


def _run(operation: Operation, settings: Settings, extra: dict[str, object]) -> dict[str, object]:
    storage = open_storage(settings)
    extra.update(repo=settings.repo_name, bucket=storage.bucket)
    if operation is Operation.BACKUP:
        with database_pool() as http:
            return run_backup(settings, storage, http=http, now=_now)
    return run_restore(settings, storage, now=_now)


def main(
    argv: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
    stdout: IO[str] | None = None,
    stderr: IO[str] | None = None,
) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m backup_runner",
        description="Back up a database_service cluster to a repository, or restore from one. "
        "Configured by environment variables: see docs/contracts.md.",
    )
    parser.add_argument("operation", choices=[op.value for op in Operation])
    args = parser.parse_args(argv)
    operation = Operation(args.operation)
    env = os.environ if env is None else env
    stdout = sys.stdout if stdout is None else stdout
    redact = Redactor(tuple(env.get(name, "") for name in _SECRET_VARIABLES))
    _configure_logging(redact, sys.stderr if stderr is None else stderr)

    # Known before the settings parse, so even a configuration error reaches the pod's status.
    raw_path = env.get("BACKUP_TERMINATION_MESSAGE_PATH")
    termination = Path(raw_path) if raw_path else None
    extra: dict[str, object] = {}
    started = _now()
    try:
        settings = Settings.from_env(env, operation)
        result = _run(operation, settings, extra)
        code = 0
    except RunnerError as error:
        log.error("%s failed: %s: %s", operation.value, error.reason.value, error.message)
        result = failure(operation.value, error.reason.value, error.message, **extra)
        code = 1
    except Exception as error:
        log.exception("%s failed unexpectedly", operation.value)
        result = failure(
            operation.value,
            Reason.INTERNAL_ERROR.value,
            f"unexpected {type(error).__name__}: {error} (a bug in backup_runner: see the log)",
            **extra,
        )
        code = 1
    if result["result"] == "Failed":
        result.setdefault(
            "startTime", started.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        )
    peak = _peak_rss_mb()
    if peak is not None:
        log.info("peak RSS %.0f MB", peak)
    emit(result, redact, stdout, termination)
    return code


if __name__ == "__main__":
    sys.exit(main())
