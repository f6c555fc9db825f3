"""The SQLite database: schema, connections, and the statements on persons and metadata.

Rules this module keeps:
- WAL mode, `synchronous=FULL`: in WAL mode FULL fsyncs the log on every commit, which is what makes
  a commit survive power loss (NORMAL only survives a crash of the process). Throughput comes from
  committing many writes per transaction (see `writer.py`), not from weakening the sync.
- Connections run in autocommit mode (`isolation_level=None`); every transaction is an explicit
  `BEGIN`, so no statement ever runs in a transaction the code did not ask for.
- Only the writer thread writes. Readers open their own connections; WAL gives each read
  transaction a consistent snapshot while the writer goes on.
- `meta` holds the replica's position: `sequence` (last change applied), `floor` (changes after it
  are all still in the log), `history` (id of the chain of changes this database belongs to).
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "SCHEMA_VERSION",
    "Meta",
    "PersonRow",
    "ThreadReaders",
    "connect",
    "create_schema",
    "delete_person",
    "enable_wal",
    "get_person",
    "insert_person",
    "is_initialized",
    "iter_person_chunks",
    "new_history",
    "put_person",
    "read_meta",
    "take_person",
    "update_person",
    "write_meta",
]

SCHEMA_VERSION = 1

# WITHOUT ROWID: the id is the key, so the table is one B-tree ordered by id; snapshots and
# GET /persons read it in order without a sort. `changes` keeps the integer key so appends land at
# the end of its B-tree and compaction deletes a prefix.
_SCHEMA = """
CREATE TABLE persons (
    id TEXT PRIMARY KEY NOT NULL,
    first_name TEXT NOT NULL,
    last_name TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE changes (
    sequence INTEGER PRIMARY KEY,
    operation TEXT NOT NULL CHECK (operation IN ('put', 'delete')),
    id TEXT NOT NULL,
    first_name TEXT,
    last_name TEXT,
    committed_at REAL NOT NULL
);
CREATE TABLE meta (
    key TEXT PRIMARY KEY NOT NULL,
    value NOT NULL
) WITHOUT ROWID;
"""

# (id, firstName, lastName), as stored.
PersonRow = tuple[str, str, str]


@dataclass(frozen=True)
class Meta:
    sequence: int
    floor: int
    history: str
    seed_pending: bool = False


def new_history() -> str:
    return uuid.uuid4().hex


def connect(path: Path, *, reader: bool = False) -> sqlite3.Connection:
    """Open the database. A reader connection refuses writes: only the writer thread writes."""
    conn = sqlite3.connect(
        path,
        isolation_level=None,
        # Streaming responses advance their cursor from whichever worker thread is free; each
        # connection is still used by one thread at a time.
        check_same_thread=False,
        timeout=30.0,
    )
    conn.execute("PRAGMA synchronous = FULL")
    if reader:
        conn.execute("PRAGMA query_only = 1")
    return conn


def enable_wal(conn: sqlite3.Connection) -> None:
    """Switch the file to WAL mode (persistent, so once per file; a no-op afterwards).

    Must run outside a transaction: SQLite ignores a journal mode change inside one.
    """
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if mode != "wal":
        raise RuntimeError(f"SQLite refused WAL mode (journal_mode is {mode!r})")


def is_initialized(conn: sqlite3.Connection) -> bool:
    row = conn.execute(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
    ).fetchone()
    if not row or not row[0]:
        return False
    return conn.execute("SELECT 1 FROM meta WHERE key = 'schema_version'").fetchone() is not None


def create_schema(
    conn: sqlite3.Connection, *, sequence: int, history: str, seed_pending: bool
) -> None:
    """Create the tables inside the caller's transaction; the log starts empty at `sequence`."""
    for statement in _SCHEMA.split(";"):
        if statement.strip():
            conn.execute(statement)
    write_meta(
        conn,
        schema_version=SCHEMA_VERSION,
        sequence=sequence,
        floor=sequence,
        history=history,
        seed_pending=int(seed_pending),
    )


def read_meta(conn: sqlite3.Connection) -> Meta:
    values = dict(conn.execute("SELECT key, value FROM meta").fetchall())
    version = values.get("schema_version")
    if version != SCHEMA_VERSION:
        raise RuntimeError(
            f"database schema version {version!r}, this service reads {SCHEMA_VERSION}"
        )
    return Meta(
        sequence=int(values["sequence"]),
        floor=int(values["floor"]),
        history=str(values["history"]),
        seed_pending=bool(values.get("seed_pending", 0)),
    )


def write_meta(conn: sqlite3.Connection, **values: int | str) -> None:
    rows = ", ".join(["(?, ?)"] * len(values))
    conn.execute(
        # One statement for all keys (see writer.py on statements per batch); only placeholders
        # are formatted in.
        f"INSERT INTO meta (key, value) VALUES {rows} "  # noqa: S608
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [item for pair in values.items() for item in pair],
    )


def get_person(conn: sqlite3.Connection, person_id: str) -> PersonRow | None:
    row: PersonRow | None = conn.execute(
        "SELECT id, first_name, last_name FROM persons WHERE id = ?", (person_id,)
    ).fetchone()
    return row


def insert_person(conn: sqlite3.Connection, row: PersonRow) -> bool:
    """Insert a new person; False (and nothing written) when the id is taken."""
    cursor = conn.execute(
        "INSERT INTO persons (id, first_name, last_name) VALUES (?, ?, ?) "
        "ON CONFLICT (id) DO NOTHING",
        row,
    )
    return cursor.rowcount == 1


def update_person(conn: sqlite3.Connection, row: PersonRow) -> bool:
    """Change an existing person; False (and nothing written) when there is none."""
    person_id, first_name, last_name = row
    cursor = conn.execute(
        "UPDATE persons SET first_name = ?, last_name = ? WHERE id = ?",
        (first_name, last_name, person_id),
    )
    return cursor.rowcount == 1


def take_person(conn: sqlite3.Connection, person_id: str) -> PersonRow | None:
    """Delete a person and return it as it was; None (nothing written) when there is none."""
    rows: list[PersonRow] = conn.execute(
        "DELETE FROM persons WHERE id = ? RETURNING id, first_name, last_name", (person_id,)
    ).fetchall()
    return rows[0] if rows else None


def put_person(conn: sqlite3.Connection, row: PersonRow) -> None:
    conn.execute(
        "INSERT INTO persons (id, first_name, last_name) VALUES (?, ?, ?) "
        "ON CONFLICT (id) DO UPDATE SET first_name = excluded.first_name, "
        "last_name = excluded.last_name",
        row,
    )


def delete_person(conn: sqlite3.Connection, person_id: str) -> bool:
    return conn.execute("DELETE FROM persons WHERE id = ?", (person_id,)).rowcount > 0


def iter_person_chunks(conn: sqlite3.Connection, chunk_rows: int) -> Iterator[list[PersonRow]]:
    """All persons ordered by id, `chunk_rows` at a time, from one statement.

    The caller owns the transaction: run this inside a `BEGIN` so every chunk comes from the same
    snapshot. Memory stays at one chunk however large the table.
    """
    cursor = conn.execute("SELECT id, first_name, last_name FROM persons ORDER BY id")
    try:
        while rows := cursor.fetchmany(chunk_rows):
            yield rows
    finally:
        cursor.close()


class ThreadReaders:
    """One reader connection per worker thread, opened on first use, for short point reads."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._local = threading.local()
        self._lock = threading.Lock()
        self._opened: list[sqlite3.Connection] = []

    def get(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self._path, reader=True)
            self._local.conn = conn
            with self._lock:
                self._opened.append(conn)
        return conn

    def close(self) -> None:
        with self._lock:
            for conn in self._opened:
                conn.close()
            self._opened.clear()
