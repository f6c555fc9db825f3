"""The writes, as operations for the writer thread (see `writer.py`).

Leader operations change a person and append the change to the log under the next sequence number,
in the same transaction. Follower operations apply what the leader sent together with the new
position, so a follower restarted at any moment resumes exactly after the last change it holds.

An operation that refuses (unknown id, taken id, a gap in the leader's log) raises before it writes;
each leader write is one statement that both applies and tells whether it could (see `writer.py`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from database_service import snapshot, store
from database_service.errors import (
    AlreadyExists,
    NotFound,
    ReplicationError,
    SnapshotRequired,
)
from database_service.models import ChangePage, Person
from database_service.seed import SEED_PEOPLE
from database_service.writer import Transaction

__all__ = [
    "ApplyChanges",
    "CreatePerson",
    "DeletePerson",
    "ReplaceFromSnapshot",
    "Seed",
    "UpdatePerson",
    "Written",
]


@dataclass(frozen=True)
class Written:
    """An acknowledged write: the person as stored (or as deleted) and the change's sequence."""

    person: Person
    sequence: int


def _person(row: store.PersonRow) -> Person:
    return Person.model_construct(id=row[0], firstName=row[1], lastName=row[2])


@dataclass(frozen=True)
class CreatePerson:
    person: Person
    name: str = "create"

    def apply(self, tx: Transaction) -> Written:
        p = self.person
        if not store.insert_person(tx.conn, (p.id, p.firstName, p.lastName)):
            raise AlreadyExists(p.id)
        return Written(p, tx.record("put", p.id, p.firstName, p.lastName))


@dataclass(frozen=True)
class UpdatePerson:
    """Replace one person's names; no other person is touched (the original's PUT bug)."""

    person: Person
    name: str = "update"

    def apply(self, tx: Transaction) -> Written:
        p = self.person
        if not store.update_person(tx.conn, (p.id, p.firstName, p.lastName)):
            raise NotFound(p.id)
        return Written(p, tx.record("put", p.id, p.firstName, p.lastName))


@dataclass(frozen=True)
class DeletePerson:
    person_id: str
    name: str = "delete"

    def apply(self, tx: Transaction) -> Written:
        row = store.take_person(tx.conn, self.person_id)
        if row is None:
            raise NotFound(self.person_id)
        return Written(_person(row), tx.record("delete", self.person_id, None, None))


@dataclass(frozen=True)
class Seed:
    """The leader's first start: the original's four people, as ordinary logged creates."""

    name: str = "seed"

    def apply(self, tx: Transaction) -> int:
        if not tx.meta.seed_pending:
            return 0
        for p in SEED_PEOPLE:
            store.put_person(tx.conn, (p.id, p.firstName, p.lastName))
            tx.record("put", p.id, p.firstName, p.lastName)
        tx.meta = replace(tx.meta, seed_pending=False)
        return len(SEED_PEOPLE)


@dataclass(frozen=True)
class ApplyChanges:
    """Follower: apply a page of the leader's log, and the new position, in one transaction."""

    page: ChangePage
    name: str = "replicate"

    def apply(self, tx: Transaction) -> int:
        page = self.page
        meta = tx.meta
        if meta.history != page.history:
            # A brand-new follower adopts the leader's history when the log goes back to the start.
            if meta.history or meta.sequence != 0 or page.floor != 0:
                raise SnapshotRequired(
                    "the leader's history differs from ours (its database was replaced)"
                )
            meta = replace(meta, history=page.history)
        expected = meta.sequence + 1
        for change in page.changes:
            if change.sequence != expected:
                raise ReplicationError(
                    f"expected change {expected} from the leader, got {change.sequence}"
                )
            expected += 1
        for change in page.changes:
            if change.operation == "put":
                store.put_person(
                    tx.conn, (change.id, change.firstName or "", change.lastName or "")
                )
            else:
                store.delete_person(tx.conn, change.id)
        tx.meta = replace(meta, sequence=expected - 1)
        return len(page.changes)


@dataclass(frozen=True)
class ReplaceFromSnapshot:
    """Follower: replace everything with a snapshot of the leader (file already downloaded)."""

    path: Path
    history: str
    name: str = "resync"

    def apply(self, tx: Transaction) -> int:
        with self.path.open("rb") as stream:
            reader = snapshot.SnapshotReader(stream)
            records = snapshot.replace_content(tx.conn, reader)
        # A follower keeps no log of its own; drop anything a former life may have left.
        tx.conn.execute("DELETE FROM changes")
        tx.meta = replace(
            tx.meta, sequence=reader.sequence, floor=reader.sequence, history=self.history
        )
        return records
