"""Consistent reads of the whole table, the snapshot stream format, and loading a snapshot.

The stream format is the contract in `docs/contracts.md`:

    {"format": "database-service/snapshot", "version": 1, "sequence": S}
    {"id": "…", "firstName": "…", "lastName": "…"}      one line per person, ordered by id
    {"end": true, "records": N}

Reading: `ConsistentRead` opens a read transaction on its own connection; in WAL mode every row it
returns comes from the same moment (sequence S), however long the client takes and whatever the
writer commits meanwhile. Rows are fetched and encoded a chunk at a time, so memory stays flat for
any number of persons. The same read serves `GET /persons` as one streamed JSON array.

Loading: `SnapshotReader` checks the header, the order and shape of every line and the trailer; a
stream without the trailer, or with a different count, is refused. `load_snapshot` builds a new
database from it in a temporary file and renames it into place only when complete.

`checksum` hashes the same canonical person lines, so two replicas at the same sequence with the
same content have the same checksum.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import uuid
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass
from json.encoder import encode_basestring_ascii as _quote
from pathlib import Path
from typing import Any

from database_service import store
from database_service.errors import SnapshotError, TargetNotEmpty
from database_service.models import Checksum
from database_service.settings import DATABASE_FILENAME
from database_service.store import Meta, PersonRow

__all__ = [
    "FORMAT",
    "VERSION",
    "ConsistentRead",
    "LoadResult",
    "SnapshotReader",
    "checksum",
    "database_present",
    "header_line",
    "load_snapshot",
    "person_lines",
    "replace_content",
    "trailer_line",
]

FORMAT = "database-service/snapshot"
VERSION = 1
_PERSON_KEYS = frozenset(("id", "firstName", "lastName"))


def header_line(sequence: int) -> bytes:
    return (
        json.dumps({"format": FORMAT, "version": VERSION, "sequence": sequence}) + "\n"
    ).encode()


def trailer_line(records: int) -> bytes:
    return (json.dumps({"end": True, "records": records}) + "\n").encode()


def _person_json(row: PersonRow) -> str:
    # Same bytes as json.dumps({"id": …, "firstName": …, "lastName": …}) with its defaults, about
    # four times faster: this runs once per person on every snapshot of millions of rows.
    person_id, first_name, last_name = row
    return (
        f'{{"id": {_quote(person_id)}, "firstName": {_quote(first_name)}, '
        f'"lastName": {_quote(last_name)}}}'
    )


def person_lines(rows: Iterable[PersonRow]) -> bytes:
    """Snapshot lines for `rows` (ASCII: non-ASCII characters are escaped)."""
    return "".join([_person_json(row) + "\n" for row in rows]).encode("ascii")


class ConsistentRead:
    """One read transaction on its own connection; close it (or exhaust a stream) when done."""

    def __init__(self, path: Path, *, chunk_rows: int = 2000) -> None:
        self._chunk_rows = chunk_rows
        self._conn = store.connect(path, reader=True)
        try:
            self._conn.execute("BEGIN")
            # The first read fixes the snapshot: everything below sees the database as of here.
            self.meta: Meta = store.read_meta(self._conn)
        except BaseException:
            self._conn.close()
            raise

    @property
    def sequence(self) -> int:
        return self.meta.sequence

    def close(self) -> None:
        self._conn.close()

    def snapshot_chunks(self) -> Generator[bytes, None, None]:
        """The snapshot stream, header to trailer, a chunk of lines at a time."""
        try:
            yield header_line(self.meta.sequence)
            records = 0
            for rows in store.iter_person_chunks(self._conn, self._chunk_rows):
                records += len(rows)
                yield person_lines(rows)
            yield trailer_line(records)
        finally:
            self.close()

    def json_array_chunks(self) -> Generator[bytes, None, None]:
        """All persons as one JSON array (the original GET /persons body), a chunk at a time."""
        try:
            separator = "["
            for rows in store.iter_person_chunks(self._conn, self._chunk_rows):
                yield (separator + ", ".join([_person_json(row) for row in rows])).encode("ascii")
                separator = ", "
            yield b"[]" if separator == "[" else b"]"
        finally:
            self.close()

    def checksum(self) -> Checksum:
        try:
            digest = hashlib.sha256()
            records = 0
            for rows in store.iter_person_chunks(self._conn, self._chunk_rows):
                records += len(rows)
                digest.update(person_lines(rows))
            digest.update(f'{{"records": {records}, "sequence": {self.meta.sequence}}}\n'.encode())
            return Checksum(sha256=digest.hexdigest(), records=records, sequence=self.meta.sequence)
        finally:
            self.close()


def checksum(path: Path) -> Checksum:
    """sha256 over the ordered content, the count and the sequence, as of one moment."""
    return ConsistentRead(path).checksum()


class SnapshotReader:
    """Parses a snapshot stream line by line; `rows()` yields persons and checks the trailer.

    Raises `SnapshotError` naming the line at fault. `rows()` raises at the end, not the start, when
    the trailer is missing or wrong, so consume it inside a transaction that the error rolls back.
    """

    def __init__(self, lines: Iterable[bytes | str]) -> None:
        self._lines = iter(lines)
        self._number = 1
        first = next(self._lines, None)
        if first is None:
            raise SnapshotError("the snapshot is empty: no header line")
        header = self._parse(first)
        version = header.get("version")
        if header.get("format") != FORMAT or type(version) is not int or version != VERSION:
            raise SnapshotError(
                f"line 1: not a snapshot header (expected format {FORMAT!r} version {VERSION})"
            )
        sequence = header.get("sequence")
        if not isinstance(sequence, int) or isinstance(sequence, bool) or sequence < 0:
            raise SnapshotError("line 1: the header's sequence must be a non-negative integer")
        self.sequence: int = sequence
        self.records = 0
        self.complete = False

    def _parse(self, line: bytes | str) -> dict[str, Any]:
        try:
            value = json.loads(line)
        except ValueError:
            raise SnapshotError(f"line {self._number}: not valid JSON") from None
        if not isinstance(value, dict):
            raise SnapshotError(f"line {self._number}: not a JSON object")
        return value

    def rows(self) -> Iterator[PersonRow]:
        previous = ""
        for line in self._lines:
            self._number += 1
            if not line.strip():
                raise SnapshotError(f"line {self._number}: empty line")
            value = self._parse(line)
            if "end" in value:
                self._check_trailer(value)
                return
            if value.keys() != _PERSON_KEYS or not all(isinstance(v, str) for v in value.values()):
                raise SnapshotError(
                    f"line {self._number}: a person must have exactly the string fields "
                    "id, firstName and lastName"
                )
            person_id = value["id"]
            # Strictly increasing ids: the order the contract promises, and no duplicates.
            if not person_id or person_id <= previous:
                raise SnapshotError(f"line {self._number}: id {person_id!r} is out of order")
            previous = person_id
            self.records += 1
            yield person_id, value["firstName"], value["lastName"]
        raise SnapshotError(
            f"the snapshot ends after {self.records} records without its trailer: it is truncated"
        )

    def _check_trailer(self, value: dict[str, Any]) -> None:
        records = value.get("records")
        if (
            value.keys() != {"end", "records"}
            or value["end"] is not True
            or type(records) is not int
        ):
            raise SnapshotError(
                f'line {self._number}: malformed trailer (expected {{"end": true, "records": N}})'
            )
        if records != self.records:
            raise SnapshotError(
                f"the trailer counts {records} records but the snapshot holds {self.records}: "
                "it is incomplete"
            )
        for line in self._lines:
            self._number += 1
            if line.strip():
                raise SnapshotError(f"line {self._number}: data after the trailer")
        self.complete = True


@dataclass(frozen=True)
class LoadResult:
    records: int
    sequence: int


def database_present(directory: Path) -> bool:
    target = directory / DATABASE_FILENAME
    return target.exists() or target.with_name(DATABASE_FILENAME + "-wal").exists()


def replace_content(conn: sqlite3.Connection, reader: SnapshotReader) -> int:
    """Inside the caller's transaction: make the persons table exactly the snapshot's."""
    conn.execute("DELETE FROM persons")
    conn.executemany(
        "INSERT INTO persons (id, first_name, last_name) VALUES (?, ?, ?)", reader.rows()
    )
    return reader.records


def load_snapshot(directory: Path, lines: Iterable[bytes | str]) -> LoadResult:
    """Create the database in `directory` from a snapshot stream, atomically.

    Raises `TargetNotEmpty` when a database is already there and `SnapshotError` when the stream is
    malformed or incomplete; either way the directory is left as it was.
    """
    directory.mkdir(parents=True, exist_ok=True)
    if database_present(directory):
        raise TargetNotEmpty(f"{directory} already holds a database ({DATABASE_FILENAME})")
    temporary = directory / f".{DATABASE_FILENAME}.load-{uuid.uuid4().hex}"
    try:
        reader = SnapshotReader(lines)
        conn = sqlite3.connect(temporary, isolation_level=None)
        try:
            # No journal while building: the file is not the database until the rename below,
            # and a failure deletes it, so there is nothing to roll back to.
            conn.execute("PRAGMA journal_mode = OFF")
            conn.execute("PRAGMA synchronous = OFF")
            conn.execute("BEGIN")
            store.create_schema(
                conn, sequence=reader.sequence, history=store.new_history(), seed_pending=False
            )
            replace_content(conn, reader)
            conn.execute("COMMIT")
            store.enable_wal(conn)
        finally:
            conn.close()
        _fsync(temporary)
        if database_present(directory):
            raise TargetNotEmpty(f"{directory} gained a database while loading; not replacing it")
        temporary.rename(directory / DATABASE_FILENAME)
        _fsync(directory)
        return LoadResult(records=reader.records, sequence=reader.sequence)
    finally:
        for leftover in directory.glob(temporary.name + "*"):
            leftover.unlink(missing_ok=True)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
