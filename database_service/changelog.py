"""The leader's ordered change log: what followers pull to stay identical to the leader.

Each data change appends one entry, numbered by `sequence`, in the same transaction as the change
itself, so the log and the data can never disagree. Only the last `retain` entries are kept;
`floor` (in `meta`) records the oldest position the log can still continue from. A follower
positioned below the floor needs a full snapshot.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from database_service.models import Change

__all__ = ["append", "compact", "read_after"]

# 6 parameters a row; SQLite allows 32766 parameters per statement.
_ROWS_PER_STATEMENT = 500


def append(conn: sqlite3.Connection, changes: Sequence[Change]) -> None:
    """Insert entries, many rows per statement (one SQLite call, not one per row)."""
    for start in range(0, len(changes), _ROWS_PER_STATEMENT):
        part = changes[start : start + _ROWS_PER_STATEMENT]
        values = ", ".join(["(?, ?, ?, ?, ?, ?)"] * len(part))
        conn.execute(
            # Only placeholders are formatted in; every value is bound.
            "INSERT INTO changes (sequence, operation, id, first_name, last_name, committed_at) "  # noqa: S608
            f"VALUES {values}",
            [
                value
                for c in part
                for value in (c.sequence, c.operation, c.id, c.firstName, c.lastName, c.committedAt)
            ],
        )


def read_after(conn: sqlite3.Connection, after: int, limit: int) -> list[Change]:
    rows = conn.execute(
        "SELECT sequence, operation, id, first_name, last_name, committed_at FROM changes "
        "WHERE sequence > ? ORDER BY sequence LIMIT ?",
        (after, limit),
    ).fetchall()
    # The rows were validated on the way in; model_construct skips validating them again.
    return [
        Change.model_construct(
            sequence=sequence,
            operation=operation,
            id=person_id,
            firstName=first_name,
            lastName=last_name,
            committedAt=committed_at,
        )
        for sequence, operation, person_id, first_name, last_name, committed_at in rows
    ]


def compact(conn: sqlite3.Connection, *, sequence: int, floor: int, retain: int) -> int:
    """Drop entries older than the last `retain`; return the new floor."""
    new_floor = sequence - retain
    if new_floor <= floor:
        return floor
    conn.execute("DELETE FROM changes WHERE sequence <= ?", (new_floor,))
    return new_floor
