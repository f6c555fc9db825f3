"""Command line: `python -m database_service serve` and `python -m database_service load`.

`serve` runs the replica described by the environment (see `settings.py`). `load` builds a database
from a snapshot stream, as `docs/contracts.md` defines: exit 0 and one JSON line on success, 1 when
the snapshot is malformed or incomplete, 2 when the directory already holds a database (or the
command line is wrong); the directory is unchanged unless it succeeded.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

from database_service.errors import SnapshotError, TargetNotEmpty
from database_service.settings import SettingsError, get_settings

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m database_service", description="The replicated person database."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="run this replica's HTTP server (configured by environment)")
    load = commands.add_parser("load", help="create a database from a snapshot stream")
    load.add_argument("--data-directory", required=True, type=Path, metavar="DIR")
    load.add_argument("file", nargs="?", default="-", help="snapshot file; stdin when - or omitted")
    return parser


@contextlib.contextmanager
def _open(name: str) -> Iterator[BinaryIO]:
    if name == "-":
        yield sys.stdin.buffer
    else:
        with Path(name).open("rb") as file:
            yield file


def _load(data_directory: Path, file: str) -> int:
    from database_service.snapshot import load_snapshot

    try:
        with _open(file) as stream:
            result = load_snapshot(data_directory, stream)
    except TargetNotEmpty as error:
        print(f"load refused: {error}", file=sys.stderr)
        return 2
    except SnapshotError as error:
        print(f"load failed, {data_directory} unchanged: {error}", file=sys.stderr)
        return 1
    except OSError as error:
        print(f"load failed, {data_directory} unchanged: {error}", file=sys.stderr)
        return 1
    print(json.dumps({"records": result.records, "sequence": result.sequence}), flush=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "load":
        return _load(args.data_directory, args.file)
    try:
        settings = get_settings()
    except SettingsError as error:
        print(f"database_service: {error}", file=sys.stderr)
        return 2
    from database_service.server import serve

    serve(settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
