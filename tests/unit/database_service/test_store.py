"""The storage layer: schema, the writer's group commit, the operations and the change log."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from database_service import changelog, store
from database_service.errors import (
    AlreadyExists,
    NotFound,
    ReplicationError,
    SnapshotError,
    SnapshotRequired,
)
from database_service.models import ChangePage, Person
from database_service.operations import (
    ApplyChanges,
    CreatePerson,
    DeletePerson,
    Seed,
    UpdatePerson,
)
from database_service.replica import open_database
from database_service.seed import SEED_PEOPLE
from database_service.settings import Settings
from database_service.writer import CommitInfo, Transaction, Writer
from tests.unit.database_service.builders import (
    follower_settings,
    leader_settings,
    person,
    read_all,
    run,
    started_writer,
)


@pytest.fixture
def leader(tmp_path: Path) -> Settings:
    return leader_settings(tmp_path / "leader")


@pytest.fixture
def writer(leader: Settings) -> Iterator[Writer]:
    writer = started_writer(leader, retain=1000)
    yield writer
    writer.stop()


def log_of(settings: Settings) -> list[tuple[int, str, str]]:
    conn = store.connect(settings.database_path, reader=True)
    try:
        return [(c.sequence, c.operation, c.id) for c in changelog.read_after(conn, 0, 10_000)]
    finally:
        conn.close()


def test_a_new_leader_database_seeds_the_four_people_once(leader: Settings, writer: Writer) -> None:
    assert writer.meta.seed_pending
    assert writer.meta.sequence == 0
    assert writer.meta.history

    assert run(writer, Seed()) == 4
    assert run(writer, Seed()) == 0

    expected = sorted((p.id, p.firstName, p.lastName) for p in SEED_PEOPLE)
    assert read_all(leader) == expected
    assert writer.meta.sequence == 4
    assert [entry[1] for entry in log_of(leader)] == ["put"] * 4


def test_a_new_follower_database_is_empty_without_history(tmp_path: Path) -> None:
    writer = started_writer(follower_settings(tmp_path))
    try:
        assert (writer.meta.sequence, writer.meta.history, writer.meta.seed_pending) == (
            0,
            "",
            False,
        )
    finally:
        writer.stop()


def test_each_write_is_logged_with_the_next_sequence(leader: Settings, writer: Writer) -> None:
    created = run(writer, CreatePerson(person(1)))
    updated = run(writer, UpdatePerson(Person(id="p00001", firstName="New", lastName="Name")))
    deleted = run(writer, DeletePerson("p00001"))

    assert (created.sequence, updated.sequence, deleted.sequence) == (1, 2, 3)
    assert deleted.person.firstName == "New"
    assert read_all(leader) == []
    assert log_of(leader) == [(1, "put", "p00001"), (2, "put", "p00001"), (3, "delete", "p00001")]


def test_refused_writes_change_nothing(leader: Settings, writer: Writer) -> None:
    run(writer, CreatePerson(person(1)))
    with pytest.raises(AlreadyExists):
        run(writer, CreatePerson(Person(id="p00001", firstName="Other", lastName="Other")))
    with pytest.raises(NotFound):
        run(writer, UpdatePerson(person(2)))
    with pytest.raises(NotFound):
        run(writer, DeletePerson("p00002"))

    assert read_all(leader) == [("p00001", "First1", "Last1")]
    assert writer.meta.sequence == 1


def test_update_changes_only_the_given_person(leader: Settings, writer: Writer) -> None:
    for number in range(3):
        run(writer, CreatePerson(person(number)))
    run(writer, UpdatePerson(Person(id="p00001", firstName="Changed", lastName="Only")))
    assert read_all(leader) == [
        ("p00000", "First0", "Last0"),
        ("p00001", "Changed", "Only"),
        ("p00002", "First2", "Last2"),
    ]


def test_concurrent_writes_commit_together_and_failures_stay_alone(leader: Settings) -> None:
    store_settings = leader
    open_database(store_settings)
    commits: list[CommitInfo] = []
    writer = Writer(store_settings.database_path, retain=1000, on_commit=commits.append)
    # Queued before the thread starts, so they are all waiting when it takes its first batch.
    futures = [writer.submit(CreatePerson(person(n))) for n in range(50)]
    duplicate = writer.submit(CreatePerson(person(7)))
    writer.start()
    try:
        sequences = [future.result(timeout=30).sequence for future in futures]
        with pytest.raises(AlreadyExists):
            duplicate.result(timeout=30)
    finally:
        writer.stop()

    assert sequences == list(range(1, 51))
    assert [(c.batch_size, c.operations) for c in commits] == [(51, {"create": 50})]
    assert len(read_all(store_settings)) == 50


@dataclass(frozen=True)
class WritesThenFails:
    """An operation that fails half-way, after writing (like a snapshot found cut)."""

    name: str = "broken"

    def apply(self, tx: Transaction) -> None:
        store.put_person(tx.conn, ("zzz", "Half", "Written"))
        raise SnapshotError("cut half-way")


def test_an_operation_failing_after_writing_is_undone_alone(leader: Settings) -> None:
    open_database(leader)
    writer = Writer(leader.database_path, retain=1000)
    before = writer.submit(CreatePerson(person(1)))
    broken = writer.submit(WritesThenFails())
    after = writer.submit(CreatePerson(person(2)))
    writer.start()
    try:
        assert (before.result(timeout=30).sequence, after.result(timeout=30).sequence) == (1, 2)
        with pytest.raises(SnapshotError):
            broken.result(timeout=30)
    finally:
        writer.stop()
    assert [row[0] for row in read_all(leader)] == ["p00001", "p00002"]
    assert [entry[0] for entry in log_of(leader)] == [1, 2]


def test_acknowledged_writes_survive_reopening(leader: Settings) -> None:
    writer = started_writer(leader, retain=1000)
    run(writer, CreatePerson(person(1)))
    writer.stop()

    reopened = Writer(leader.database_path)
    assert reopened.meta.sequence == 1
    reopened.stop()
    assert read_all(leader) == [("p00001", "First1", "Last1")]


def test_the_log_keeps_only_the_last_retained_changes(leader: Settings) -> None:
    writer = started_writer(leader, retain=5)
    try:
        for number in range(12):
            run(writer, CreatePerson(person(number)))
        assert (writer.meta.sequence, writer.meta.floor) == (12, 7)
    finally:
        writer.stop()
    assert [entry[0] for entry in log_of(leader)] == [8, 9, 10, 11, 12]
    assert len(read_all(leader)) == 12


def page_from(settings: Settings, writer: Writer, after: int, limit: int = 1000) -> ChangePage:
    conn = store.connect(settings.database_path, reader=True)
    try:
        changes = changelog.read_after(conn, after, limit)
    finally:
        conn.close()
    meta = writer.meta
    return ChangePage(
        history=meta.history, sequence=meta.sequence, floor=meta.floor, changes=changes
    )


def test_a_follower_applying_the_log_ends_identical(
    tmp_path: Path, leader: Settings, writer: Writer
) -> None:
    run(writer, Seed())
    for number in range(10):
        run(writer, CreatePerson(person(number)))
    run(writer, UpdatePerson(Person(id="p00003", firstName="X", lastName="Y")))
    run(writer, DeletePerson("p00004"))

    follower = follower_settings(tmp_path / "follower")
    replica = started_writer(follower)
    try:
        position = 0
        while position < writer.meta.sequence:
            applied = run(replica, ApplyChanges(page_from(leader, writer, position, limit=5)))
            assert applied > 0
            position = replica.meta.sequence
        assert replica.meta.history == writer.meta.history
    finally:
        replica.stop()
    assert read_all(follower) == read_all(leader)


def test_a_follower_refuses_a_gap_and_a_foreign_history(
    tmp_path: Path, leader: Settings, writer: Writer
) -> None:
    for number in range(4):
        run(writer, CreatePerson(person(number)))
    replica = started_writer(follower_settings(tmp_path / "follower"))
    try:
        with pytest.raises(ReplicationError, match="expected change 1"):
            run(replica, ApplyChanges(page_from(leader, writer, 2)))
        run(replica, ApplyChanges(page_from(leader, writer, 0)))
        foreign = page_from(leader, writer, 4).model_copy(update={"history": "another"})
        with pytest.raises(SnapshotRequired):
            run(replica, ApplyChanges(foreign))
        assert replica.meta.sequence == 4
    finally:
        replica.stop()
