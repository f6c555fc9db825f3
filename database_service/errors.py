"""The errors the database raises, one tree so callers catch exactly what they mean.

    DatabaseError
    ├── NotFound            no person with that id                      -> HTTP 404
    ├── AlreadyExists       a create with an id that is taken            -> HTTP 409
    ├── ReadOnlyReplica     a write sent to a follower                   -> HTTP 409 + leader URL
    ├── SnapshotError       a snapshot stream that is malformed or cut   -> `load` exit code 1
    ├── TargetNotEmpty      `load` into a directory holding a database  -> `load` exit code 2
    └── ReplicationError    the leader's log cannot continue ours       -> follower resyncs
        └── SnapshotRequired  ... and only a full snapshot can fix it

Each carries a message written for the person reading the HTTP response or the log.
"""

from __future__ import annotations

__all__ = [
    "AlreadyExists",
    "DatabaseError",
    "NotFound",
    "ReadOnlyReplica",
    "ReplicationError",
    "SnapshotError",
    "SnapshotRequired",
    "TargetNotEmpty",
]


class DatabaseError(Exception):
    """Base of every error this package raises on purpose."""


class NotFound(DatabaseError):
    def __init__(self, person_id: str) -> None:
        super().__init__(f"no person with id {person_id!r}")
        self.person_id = person_id


class AlreadyExists(DatabaseError):
    def __init__(self, person_id: str) -> None:
        super().__init__(
            f"a person with id {person_id!r} already exists; "
            f"use PUT /persons/{person_id} to change it"
        )
        self.person_id = person_id


class ReadOnlyReplica(DatabaseError):
    def __init__(self, pod_name: str, leader_url: str) -> None:
        super().__init__(
            f"{pod_name} is a read-only follower; send writes to the leader at {leader_url}"
        )
        self.leader_url = leader_url


class SnapshotError(DatabaseError):
    """The snapshot stream is malformed or incomplete."""


class TargetNotEmpty(DatabaseError):
    """`load` was pointed at a directory that already holds a database."""


class ReplicationError(DatabaseError):
    """The follower cannot apply what the leader sent."""


class SnapshotRequired(ReplicationError):
    """The changes the follower needs are gone (compacted, or a different history): resync."""
